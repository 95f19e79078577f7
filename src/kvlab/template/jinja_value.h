// The values templates compute with, modelled on the Python objects jinja2 passes around: undefined, None,
// bool, int, float, str, list/tuple, dict (and jinja2's namespace and loop objects), and callables. Lists and
// dicts are immutable once built (HF renders with jinja2's ImmutableSandboxedEnvironment) and shared by
// pointer; only a namespace's attributes may be reassigned (`{% set ns.x = ... %}`).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kvlab::jinja {

// A failure while rendering. The renderer turns it into a kvlab::Error naming the template and line.
class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
[[noreturn]] void Fail(const std::string& what);

class Value;
struct List;
struct Dict;
struct Function;
using ListPtr = std::shared_ptr<const List>;
using DictPtr = std::shared_ptr<Dict>;
using FunctionPtr = std::shared_ptr<const Function>;

// jinja2's default Undefined: prints as "", is falsy, iterates as empty; anything that needs a real value
// (attribute access, arithmetic, calls) fails with `hint`, e.g. "'foo' is undefined".
struct Undefined {
  std::string hint;
};

class Value {
 public:
  enum class Type { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };

  Value() : v_(Undefined{"value is undefined"}) {}
  Value(std::nullptr_t) : v_(nullptr) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  // Strings are shared, so copying a value never copies text. Building one counts against the work budget.
  Value(std::string s);
  Value(std::string_view s) : Value(std::string(s)) {}
  Value(const char* s) : Value(std::string(s)) {}
  Value(ListPtr l) : v_(std::move(l)) {}
  Value(DictPtr d) : v_(std::move(d)) {}
  Value(FunctionPtr f) : v_(std::move(f)) {}

  static Value MakeUndefined(std::string hint) {
    Value v;
    v.v_ = Undefined{std::move(hint)};
    return v;
  }
  // Fails if the list would nest deeper than kMaxNesting or hold more than kMaxListItems, or if the string
  // is longer than kMaxStringBytes.
  static Value MakeList(std::vector<Value> items, bool tuple = false);

  Type type() const { return static_cast<Type>(v_.index()); }
  bool IsUndefined() const { return type() == Type::kUndefined; }
  bool IsNone() const { return type() == Type::kNone; }
  bool IsBool() const { return type() == Type::kBool; }
  bool IsInt() const { return type() == Type::kInt; }
  bool IsFloat() const { return type() == Type::kFloat; }
  bool IsString() const { return type() == Type::kString; }
  bool IsList() const { return type() == Type::kList; }
  bool IsDict() const { return type() == Type::kDict; }
  bool IsFunction() const { return type() == Type::kFunction; }
  bool IsIntegral() const { return IsInt() || IsBool(); }  // Python's bool is an int
  bool IsNumber() const { return IsIntegral() || IsFloat(); }

  bool AsBool() const { return std::get<bool>(v_); }
  int64_t AsInt() const { return IsBool() ? int64_t{AsBool()} : std::get<int64_t>(v_); }  // bool or int
  double AsDouble() const { return IsFloat() ? std::get<double>(v_) : static_cast<double>(AsInt()); }
  const std::string& AsString() const { return *std::get<StringPtr>(v_); }
  const List& AsList() const { return *std::get<ListPtr>(v_); }
  const ListPtr& ListPointer() const { return std::get<ListPtr>(v_); }
  Dict& AsDict() const { return *std::get<DictPtr>(v_); }
  const Function& AsFunction() const { return *std::get<FunctionPtr>(v_); }
  const std::string& UndefinedHint() const { return std::get<Undefined>(v_).hint; }

  // Python's type name for messages: 'str', 'int', 'list', 'tuple', 'dict', 'NoneType', ...
  std::string TypeName() const;
  // Nesting depth: 1 for scalars, 1 + the deepest item for lists and dicts.
  int Depth() const;

 private:
  using StringPtr = std::shared_ptr<const std::string>;
  std::variant<Undefined, std::nullptr_t, bool, int64_t, double, StringPtr, ListPtr, DictPtr, FunctionPtr> v_;
};

struct List {
  std::vector<Value> items;
  bool tuple = false;  // prints as (a, b) and never equals a list
  int depth = 1;
};

struct Dict {
  enum class Kind {
    kMapping,    // a Python dict: has .items() etc., serializes with tojson
    kNamespace,  // jinja2's namespace(): attributes only, assignable with {% set ns.x = ... %}
    kLoop,       // the `loop` object of a for loop: read-only attributes
  };
  std::vector<std::pair<std::string, Value>> entries;  // insertion order, as Python dicts keep it
  Kind kind = Kind::kMapping;
  int depth = 1;

  const Value* Find(std::string_view key) const;
  // Replaces or appends `key` (building a dict, or assigning a namespace attribute).
  void Set(std::string key, Value value);
};
// Fails if the dict would nest deeper than kMaxNesting.
Value MakeDict(std::vector<std::pair<std::string, Value>> entries, Dict::Kind kind = Dict::Kind::kMapping);

// Arguments of a call: positional, then keyword in call order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // Matches the arguments to `params` as Python does (positionally, then by name) and returns one value per
  // parameter, undefined where not given. Fails naming `callee` on too many arguments or an unknown keyword.
  std::vector<Value> Bind(std::string_view callee, const std::vector<std::string_view>& params) const;
};

struct Function {
  std::string name;  // for messages and repr
  std::function<Value(const CallArgs&)> call;
};
Value MakeFunction(std::string name, std::function<Value(const CallArgs&)> call);

// What reading all of v once costs against the work budget (jinja_limits.h): its items or its text.
int64_t WorkCost(const Value& v);

// Python semantics.
bool Truthy(const Value& v);
bool Equal(const Value& a, const Value& b);
// a < b as Python orders numbers, strings (by code point) and lists/tuples; fails for other pairs.
bool Less(const Value& a, const Value& b);
// `item in container`.
bool Contains(const Value& container, const Value& item);
// The items `for x in v` visits: list items, dict keys, string characters; undefined is empty.
std::vector<Value> Iterate(const Value& v);

// JSON input (messages, extra variables); objects keep their key order. Fails past kMaxNesting.
Value FromJson(const nlohmann::ordered_json& j);

}  // namespace kvlab::jinja
