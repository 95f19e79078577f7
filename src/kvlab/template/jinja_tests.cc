// jinja2's builtin tests (`x is defined`, `n is divisibleby 3`, ...).
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "kvlab/template/jinja_builtins.h"

namespace kvlab::jinja {
namespace {

using TestFn = std::function<bool(const Value& v, const CallArgs& args)>;

Value Operand(const CallArgs& a, const char* test) {
  const auto p = a.Bind(test, {"other"});
  if (a.positional.empty() && a.keyword.empty()) Fail(std::string("test '") + test + "' needs an argument");
  return p[0];
}

// str.islower() / str.isupper() (ASCII letters): some cased letter, none of the other case.
bool AllCased(const Value& v, bool lower) {
  if (!v.IsString()) return false;
  bool cased = false;
  for (char c : v.AsString()) {
    const bool is_lower = c >= 'a' && c <= 'z', is_upper = c >= 'A' && c <= 'Z';
    if ((lower && is_upper) || (!lower && is_lower)) return false;
    cased = cased || is_lower || is_upper;
  }
  return cased;
}

// Python's value % 2 etc. for the numeric tests; undefined or non-numbers fail as Python would.
double Remainder(const Value& v, const Value& divisor, const char* test) {
  if (v.IsUndefined()) Fail(v.UndefinedHint());
  if (!v.IsNumber() || !divisor.IsNumber()) Fail(std::string("test '") + test + "' needs numbers, got " + v.TypeName());
  if (v.IsIntegral() && divisor.IsIntegral()) {
    const int64_t d = divisor.AsInt();
    if (d == 0) Fail("integer modulo by zero");
    if (d == -1) return 0;
    const int64_t r = v.AsInt() % d;
    return static_cast<double>((r != 0 && ((r < 0) != (d < 0))) ? r + d : r);
  }
  const double d = divisor.AsDouble();
  if (d == 0) Fail("float modulo");
  const double r = std::fmod(v.AsDouble(), d);
  return (r != 0 && ((r < 0) != (d < 0))) ? r + d : r;
}

const std::map<std::string, TestFn, std::less<>>& Tests() {
  static const std::map<std::string, TestFn, std::less<>> tests = [] {
    std::map<std::string, TestFn, std::less<>> t;
    t["defined"] = [](const Value& v, const CallArgs&) { return !v.IsUndefined(); };
    t["undefined"] = [](const Value& v, const CallArgs&) { return v.IsUndefined(); };
    t["none"] = [](const Value& v, const CallArgs&) { return v.IsNone(); };
    t["boolean"] = [](const Value& v, const CallArgs&) { return v.IsBool(); };
    t["true"] = [](const Value& v, const CallArgs&) { return v.IsBool() && v.AsBool(); };
    t["false"] = [](const Value& v, const CallArgs&) { return v.IsBool() && !v.AsBool(); };
    t["integer"] = [](const Value& v, const CallArgs&) { return v.IsInt(); };
    t["float"] = [](const Value& v, const CallArgs&) { return v.IsFloat(); };
    t["number"] = [](const Value& v, const CallArgs&) { return v.IsNumber(); };
    t["string"] = [](const Value& v, const CallArgs&) { return v.IsString(); };
    t["mapping"] = [](const Value& v, const CallArgs&) { return v.IsDict() && v.AsDict().kind == Dict::Kind::kMapping; };
    t["iterable"] = [](const Value& v, const CallArgs&) {
      return v.IsUndefined() || v.IsString() || v.IsList() || (v.IsDict() && v.AsDict().kind == Dict::Kind::kMapping);
    };
    t["sequence"] = [](const Value& v, const CallArgs&) {
      return v.IsString() || v.IsList() || (v.IsDict() && v.AsDict().kind == Dict::Kind::kMapping);
    };
    t["callable"] = [](const Value& v, const CallArgs&) { return v.IsFunction(); };
    t["even"] = [](const Value& v, const CallArgs&) { return Remainder(v, Value(2), "even") == 0; };
    t["odd"] = [](const Value& v, const CallArgs&) { return Remainder(v, Value(2), "odd") == 1; };
    t["divisibleby"] = [](const Value& v, const CallArgs& a) {
      return Remainder(v, Operand(a, "divisibleby"), "divisibleby") == 0;
    };
    const TestFn eq = [](const Value& v, const CallArgs& a) { return Equal(v, Operand(a, "eq")); };
    t["eq"] = t["equalto"] = eq;
    t["ne"] = [](const Value& v, const CallArgs& a) { return !Equal(v, Operand(a, "ne")); };
    const TestFn lt = [](const Value& v, const CallArgs& a) { return Less(v, Operand(a, "lt")); };
    t["lt"] = t["lessthan"] = lt;
    const TestFn gt = [](const Value& v, const CallArgs& a) { return Less(Operand(a, "gt"), v); };
    t["gt"] = t["greaterthan"] = gt;
    t["le"] = [](const Value& v, const CallArgs& a) { return !Less(Operand(a, "le"), v); };
    t["ge"] = [](const Value& v, const CallArgs& a) { return !Less(v, Operand(a, "ge")); };
    t["in"] = [](const Value& v, const CallArgs& a) { return Contains(Operand(a, "in"), v); };
    t["sameas"] = [](const Value& v, const CallArgs& a) {
      const Value o = Operand(a, "sameas");
      if (v.type() != o.type()) return false;
      if (v.IsList()) return v.ListPointer() == o.ListPointer();
      if (v.IsDict()) return &v.AsDict() == &o.AsDict();
      return Equal(v, o);
    };
    t["lower"] = [](const Value& v, const CallArgs&) { return AllCased(v, true); };
    t["upper"] = [](const Value& v, const CallArgs&) { return AllCased(v, false); };
    t["filter"] = [](const Value& v, const CallArgs&) { return v.IsString() && IsFilter(v.AsString()); };
    t["test"] = [](const Value& v, const CallArgs&) { return v.IsString() && IsTest(v.AsString()); };
    return t;
  }();
  return tests;
}

}  // namespace

bool IsTest(std::string_view name) { return Tests().count(name) > 0; }

bool ApplyTest(std::string_view name, const Value& input, const CallArgs& args) {
  const auto it = Tests().find(name);
  if (it == Tests().end()) Fail("unknown test '" + std::string(name) + "'");
  return it->second(input, args);
}

}  // namespace kvlab::jinja
