// The builtin filters, tests, Python methods and global functions templates may use: what jinja2 provides,
// plus what Hugging Face adds (tojson with indent, raise_exception, strftime_now). Each fails with a
// message naming itself; a name kvlab does not provide is rejected by the parser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kvlab/template/jinja_value.h"

namespace kvlab::jinja {

bool IsFilter(std::string_view name);
Value ApplyFilter(std::string_view name, const Value& input, const CallArgs& args);

bool IsTest(std::string_view name);
bool ApplyTest(std::string_view name, const Value& input, const CallArgs& args);

// `obj.name`: a Python method of obj first, then a dict key (jinja2's getattr order); undefined if neither.
Value GetAttribute(const Value& obj, const std::string& name);
// `obj[key]`: dict key, list/str index (negative from the end); then a method for a string key.
Value GetItem(const Value& obj, const Value& key);
// `obj[start:stop:step]` for lists, tuples and strings; each bound may be undefined/none (omitted).
Value Slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

// `self.name` for Python's str, dict and list methods (a bound method value). Undefined when the type has no
// such attribute; fails for methods that would modify a value (jinja2's immutable sandbox) and for real
// Python methods kvlab does not implement, naming them.
Value GetMethod(const Value& self, const std::string& name);

// An optional integer argument of a filter or method: fallback when it was not given; fails naming `what`
// for any other value that is not an integer.
int64_t IntArg(const Value& v, int64_t fallback, const char* what);

// Global functions: range, namespace, dict, raise_exception, strftime_now. Undefined for any other name.
Value GetGlobal(std::string_view name);

// The text raise_exception() was called with travels as this, so the renderer can report it as is.
class RaisedException : public Failure {
 public:
  using Failure::Failure;
};

}  // namespace kvlab::jinja
