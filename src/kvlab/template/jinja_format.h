// How values become text, byte for byte as Python does it: str() for {{ }} output, repr() inside printed
// lists and dicts, float repr (shortest round-trip: 1.0, 0.1, 1e+16), and json.dumps for the tojson filter.
#pragma once

#include <optional>
#include <string>

#include "kvlab/template/jinja_value.h"

namespace kvlab::jinja {

std::string PyStr(const Value& v);   // undefined prints as ""
std::string PyRepr(const Value& v);  // strings quoted and escaped
std::string PyFloatRepr(double d);

// json.dumps(v, ensure_ascii, indent, separators, sort_keys) with Python's defaults: separators ", " and
// ": ", or "," and ": " when indenting. Fails on values JSON cannot hold (undefined, functions, namespaces).
struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // nullopt: one line
  std::optional<std::string> item_separator, key_separator;
  bool sort_keys = false;
};
std::string PyJsonDumps(const Value& v, const JsonDumpOptions& options);

// jinja2's escape filter: & < > " ' as HTML entities.
std::string HtmlEscape(const std::string& s);

}  // namespace kvlab::jinja
