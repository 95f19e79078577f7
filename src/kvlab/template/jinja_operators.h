// Python's operators on template values: arithmetic (+ - * / // % **) with int/float promotion and Python's
// floor semantics, `~` concatenation, comparisons, and unary - + not. Integers are 64-bit: an overflow fails
// instead of growing a big integer as Python would.
#pragma once

#include <string_view>

#include "kvlab/template/jinja_value.h"

namespace kvlab::jinja {

// op: + - * / // % ** ~
Value BinaryOp(std::string_view op, const Value& a, const Value& b);
// op: - +
Value UnaryOp(std::string_view op, const Value& v);
// op: == != < > <= >= in notin
bool CompareOp(std::string_view op, const Value& a, const Value& b);

}  // namespace kvlab::jinja
