// Parses tokens into a Program with jinja2's grammar and operator precedence. Names of filters and tests
// are checked here, so a template using one kvlab lacks fails to load, naming it, rather than mid-render.
#pragma once

#include <string>
#include <string_view>

#include "kvlab/template/jinja_ast.h"

namespace kvlab::jinja {

// Throws kvlab::Error("<where> line N", "...") on syntax errors and unsupported constructs.
Program Parse(std::string_view source, const std::string& where);

}  // namespace kvlab::jinja
