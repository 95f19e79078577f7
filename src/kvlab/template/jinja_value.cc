#include "kvlab/template/jinja_value.h"

#include <algorithm>

#include "kvlab/template/jinja_limits.h"
#include "kvlab/template/py_string.h"

namespace kvlab::jinja {

void Fail(const std::string& what) { throw Failure(what); }

std::string Value::TypeName() const {
  switch (type()) {
    case Type::kUndefined: return "Undefined";
    case Type::kNone: return "NoneType";
    case Type::kBool: return "bool";
    case Type::kInt: return "int";
    case Type::kFloat: return "float";
    case Type::kString: return "str";
    case Type::kList: return AsList().tuple ? "tuple" : "list";
    case Type::kDict:
      switch (AsDict().kind) {
        case Dict::Kind::kMapping: return "dict";
        case Dict::Kind::kNamespace: return "Namespace";
        case Dict::Kind::kLoop: return "LoopContext";
      }
      break;
    case Type::kFunction: return "function";
  }
  return "object";
}

Value::Value(std::string s) {
  if (s.size() > kMaxStringBytes) Fail("string longer than " + std::to_string(kMaxStringBytes) + " bytes");
  ChargeWork(static_cast<int64_t>(s.size() / kBytesPerWorkUnit));
  v_ = std::make_shared<const std::string>(std::move(s));
}

int Value::Depth() const {
  if (IsList()) return AsList().depth;
  if (IsDict()) return AsDict().depth;
  return 1;
}

Value Value::MakeList(std::vector<Value> items, bool tuple) {
  if (items.size() > kMaxListItems) Fail("list too long: over " + std::to_string(kMaxListItems) + " items");
  ChargeWork(static_cast<int64_t>(items.size()));
  auto list = std::make_shared<List>();
  int depth = 0;
  for (const Value& v : items) depth = std::max(depth, v.Depth());
  list->depth = depth + 1;
  if (list->depth > kMaxNesting) Fail("values nested more than " + std::to_string(kMaxNesting) + " deep");
  list->items = std::move(items);
  list->tuple = tuple;
  return Value(ListPtr(std::move(list)));
}

const Value* Dict::Find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

void Dict::Set(std::string key, Value value) {
  for (auto& [k, v] : entries) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

Value MakeDict(std::vector<std::pair<std::string, Value>> entries, Dict::Kind kind) {
  ChargeWork(static_cast<int64_t>(entries.size()));
  auto dict = std::make_shared<Dict>();
  int depth = 0;
  for (const auto& [k, v] : entries) depth = std::max(depth, v.Depth());
  dict->depth = depth + 1;
  if (dict->depth > kMaxNesting) Fail("values nested more than " + std::to_string(kMaxNesting) + " deep");
  dict->kind = kind;
  for (auto& [k, v] : entries) dict->Set(std::move(k), std::move(v));  // a repeated key keeps its first place
  return Value(DictPtr(std::move(dict)));
}

std::vector<Value> CallArgs::Bind(std::string_view callee, const std::vector<std::string_view>& params) const {
  if (positional.size() > params.size()) {
    Fail(std::string(callee) + "() takes at most " + std::to_string(params.size()) + " argument(s), got " +
         std::to_string(positional.size()));
  }
  std::vector<Value> bound(params.size());
  std::vector<bool> given(params.size(), false);
  for (size_t i = 0; i < positional.size(); ++i) bound[i] = positional[i], given[i] = true;
  for (const auto& [name, value] : keyword) {
    const auto it = std::find(params.begin(), params.end(), name);
    if (it == params.end()) Fail(std::string(callee) + "() got an unexpected keyword argument '" + name + "'");
    const size_t i = static_cast<size_t>(it - params.begin());
    if (given[i]) Fail(std::string(callee) + "() got multiple values for argument '" + name + "'");
    bound[i] = value, given[i] = true;
  }
  return bound;
}

Value MakeFunction(std::string name, std::function<Value(const CallArgs&)> call) {
  return Value(FunctionPtr(std::make_shared<const Function>(Function{std::move(name), std::move(call)})));
}

bool Truthy(const Value& v) {
  switch (v.type()) {
    case Value::Type::kUndefined:
    case Value::Type::kNone: return false;
    case Value::Type::kBool: return v.AsBool();
    case Value::Type::kInt: return v.AsInt() != 0;
    case Value::Type::kFloat: return v.AsDouble() != 0.0;
    case Value::Type::kString: return !v.AsString().empty();
    case Value::Type::kList: return !v.AsList().items.empty();
    case Value::Type::kDict: return v.AsDict().kind != Dict::Kind::kMapping || !v.AsDict().entries.empty();
    case Value::Type::kFunction: return true;
  }
  return false;
}

int64_t WorkCost(const Value& v) {
  if (v.IsString()) return static_cast<int64_t>(v.AsString().size()) / kBytesPerWorkUnit;
  if (v.IsList()) return static_cast<int64_t>(v.AsList().items.size());
  if (v.IsDict()) return static_cast<int64_t>(v.AsDict().entries.size());
  return 0;
}

bool Equal(const Value& a, const Value& b) {
  ChargeWork(1 + std::min(WorkCost(a), WorkCost(b)));
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsIntegral() && b.IsIntegral()) return a.AsInt() == b.AsInt();
    return a.AsDouble() == b.AsDouble();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::Type::kUndefined:
    case Value::Type::kNone: return true;
    case Value::Type::kString: return a.AsString() == b.AsString();
    case Value::Type::kList: {
      const List &x = a.AsList(), &y = b.AsList();
      if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!Equal(x.items[i], y.items[i])) return false;
      return true;
    }
    case Value::Type::kDict: {
      const Dict &x = a.AsDict(), &y = b.AsDict();
      if (x.kind != Dict::Kind::kMapping || y.kind != Dict::Kind::kMapping) return &x == &y;  // identity
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* other = y.Find(k);
        if (!other || !Equal(v, *other)) return false;
      }
      return true;
    }
    case Value::Type::kFunction: return &a.AsFunction() == &b.AsFunction();
    default: return false;
  }
}

bool Less(const Value& a, const Value& b) {
  ChargeWork(1 + std::min(WorkCost(a), WorkCost(b)));
  if (a.IsUndefined()) Fail(a.UndefinedHint());
  if (b.IsUndefined()) Fail(b.UndefinedHint());
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsIntegral() && b.IsIntegral()) return a.AsInt() < b.AsInt();
    return a.AsDouble() < b.AsDouble();
  }
  if (a.IsString() && b.IsString()) return a.AsString() < b.AsString();  // UTF-8 byte order = code point order
  if (a.IsList() && b.IsList() && a.AsList().tuple == b.AsList().tuple) {
    const auto &x = a.AsList().items, &y = b.AsList().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!Equal(x[i], y[i])) return Less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  Fail("'<' not supported between instances of '" + a.TypeName() + "' and '" + b.TypeName() + "'");
}

bool Contains(const Value& container, const Value& item) {
  ChargeWork(1 + WorkCost(container));
  switch (container.type()) {
    case Value::Type::kUndefined: return false;  // iterates as empty
    case Value::Type::kString:
      if (!item.IsString())
        Fail("'in <string>' requires string as left operand, not " + item.TypeName());
      return container.AsString().find(item.AsString()) != std::string::npos;
    case Value::Type::kList:
      for (const Value& v : container.AsList().items)
        if (Equal(v, item)) return true;
      return false;
    case Value::Type::kDict:
      if (container.AsDict().kind == Dict::Kind::kMapping)
        return item.IsString() && container.AsDict().Find(item.AsString()) != nullptr;
      break;
    default: break;
  }
  Fail("argument of type '" + container.TypeName() + "' is not iterable");
}

std::vector<Value> Iterate(const Value& v) {
  switch (v.type()) {
    case Value::Type::kUndefined: return {};
    case Value::Type::kList: ChargeWork(static_cast<int64_t>(v.AsList().items.size())); return v.AsList().items;
    case Value::Type::kString: {
      const std::string& s = v.AsString();
      ChargeWork(static_cast<int64_t>(CharCount(s)));  // before building one value per character
      std::vector<Value> chars;
      for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        DecodeUtf8At(s, i);
        chars.emplace_back(s.substr(start, i - start));
      }
      return chars;
    }
    case Value::Type::kDict:
      if (v.AsDict().kind == Dict::Kind::kMapping) {
        std::vector<Value> keys;
        for (const auto& [k, unused] : v.AsDict().entries) keys.emplace_back(k);
        return keys;
      }
      break;
    default: break;
  }
  Fail("'" + v.TypeName() + "' object is not iterable");
}

namespace {
Value FromJsonAt(const nlohmann::ordered_json& j, int depth) {
  if (depth > kMaxNesting) Fail("JSON input nested more than " + std::to_string(kMaxNesting) + " deep");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value(nullptr);
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      for (const auto& e : j) items.push_back(FromJsonAt(e, depth + 1));
      return Value::MakeList(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      std::vector<std::pair<std::string, Value>> entries;
      for (const auto& [k, e] : j.items()) entries.emplace_back(k, FromJsonAt(e, depth + 1));
      return MakeDict(std::move(entries));
    }
    default: Fail(std::string("JSON value of type ") + j.type_name() + " is not supported");
  }
}
}  // namespace

Value FromJson(const nlohmann::ordered_json& j) { return FromJsonAt(j, 1); }

}  // namespace kvlab::jinja
