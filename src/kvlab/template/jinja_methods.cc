// Attribute, item and slice access, the Python methods of str / dict / list, and the global functions.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <functional>
#include <map>
#include <optional>

#include "kvlab/template/jinja_builtins.h"
#include "kvlab/template/jinja_format.h"
#include "kvlab/template/jinja_limits.h"
#include "kvlab/template/py_string.h"

namespace kvlab::jinja {
namespace {

using Method = std::function<Value(const Value& self, const CallArgs& args)>;
using MethodTable = std::map<std::string, Method, std::less<>>;

std::optional<std::string> OptionalString(const Value& v, const char* what) {
  if (v.IsUndefined() || v.IsNone()) return std::nullopt;
  if (!v.IsString()) Fail(std::string(what) + " must be str or None, not " + v.TypeName());
  return v.AsString();
}

const std::string& StringArg(const Value& v, const char* what) {
  if (!v.IsString()) Fail(std::string(what) + " must be str, not " + v.TypeName());
  return v.AsString();
}

Value StringList(const std::vector<std::string>& parts) {
  std::vector<Value> items(parts.begin(), parts.end());
  return Value::MakeList(std::move(items));
}

// startswith/endswith take a string or a tuple of strings.
bool AffixMatch(const std::string& s, const Value& affix, bool prefix) {
  const auto one = [&](const Value& a) {
    const std::string& x = StringArg(a, prefix ? "startswith first arg" : "endswith first arg");
    return s.size() >= x.size() && (prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0);
  };
  if (affix.IsList() && affix.AsList().tuple) {
    for (const Value& a : affix.AsList().items)
      if (one(a)) return true;
    return false;
  }
  return one(affix);
}

template <typename Pred>
Value AllChars(const std::string& s, Pred pred) {
  if (s.empty()) return Value(false);
  for (size_t i = 0; i < s.size();)
    if (!pred(DecodeUtf8At(s, i))) return Value(false);
  return Value(true);
}

Value CasedCheck(const std::string& s, bool want_lower) {
  bool cased = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') {
      if (!want_lower) return Value(false);
      cased = true;
    } else if (c >= 'A' && c <= 'Z') {
      if (want_lower) return Value(false);
      cased = true;
    }
  }
  return Value(cased);
}

const MethodTable& StrMethods() {
  static const MethodTable table = [] {
    MethodTable t;
    const auto strip = [](bool left, bool right, const char* name) {
      return [=](const Value& self, const CallArgs& a) {
        const auto p = a.Bind(name, {"chars"});
        return Value(PyStrip(self.AsString(), OptionalString(p[0], "strip arg"), left, right));
      };
    };
    t["strip"] = strip(true, true, "str.strip");
    t["lstrip"] = strip(true, false, "str.lstrip");
    t["rstrip"] = strip(false, true, "str.rstrip");
    const auto split = [](bool from_right, const char* name) {
      return [=](const Value& self, const CallArgs& a) {
        const auto p = a.Bind(name, {"sep", "maxsplit"});
        const std::optional<std::string> sep = OptionalString(p[0], "sep");
        if (sep && sep->empty()) Fail("empty separator");
        return StringList(PySplit(self.AsString(), sep, IntArg(p[1], -1, "maxsplit"), from_right));
      };
    };
    t["split"] = split(false, "str.split");
    t["rsplit"] = split(true, "str.rsplit");
    t["splitlines"] = [](const Value& self, const CallArgs& a) {
      a.Bind("str.splitlines", {});
      return StringList(PySplitLines(self.AsString()));
    };
    const auto affix = [](bool prefix, const char* name) {
      return [=](const Value& self, const CallArgs& a) {
        const auto p = a.Bind(name, {"prefix"});
        return Value(AffixMatch(self.AsString(), p[0], prefix));
      };
    };
    t["startswith"] = affix(true, "str.startswith");
    t["endswith"] = affix(false, "str.endswith");
    const auto mapping = [](std::string (*f)(std::string_view), const char* name) {
      return [=](const Value& self, const CallArgs& a) {
        a.Bind(name, {});
        return Value(f(self.AsString()));
      };
    };
    t["upper"] = mapping(AsciiUpper, "str.upper");
    t["lower"] = mapping(AsciiLower, "str.lower");
    t["title"] = mapping(PyTitle, "str.title");
    t["capitalize"] = mapping(PyCapitalize, "str.capitalize");
    t["replace"] = [](const Value& self, const CallArgs& a) {
      const auto p = a.Bind("str.replace", {"old", "new", "count"});
      std::string out = PyReplace(self.AsString(), StringArg(p[0], "replace arg 1"), StringArg(p[1], "replace arg 2"),
                                  IntArg(p[2], -1, "count"));
      if (out.size() > kMaxStringBytes) Fail("str.replace result over the string size limit");
      return Value(std::move(out));
    };
    const auto find = [](bool from_right, bool must_exist, const char* name) {
      return [=](const Value& self, const CallArgs& a) {
        const auto p = a.Bind(name, {"sub"});
        const int64_t at = PyFind(self.AsString(), StringArg(p[0], "find arg"), from_right);
        if (at < 0 && must_exist) Fail("substring not found");
        return Value(at);
      };
    };
    t["find"] = find(false, false, "str.find");
    t["rfind"] = find(true, false, "str.rfind");
    t["index"] = find(false, true, "str.index");
    t["rindex"] = find(true, true, "str.rindex");
    t["count"] = [](const Value& self, const CallArgs& a) {
      const auto p = a.Bind("str.count", {"sub"});
      return Value(PyCount(self.AsString(), StringArg(p[0], "count arg")));
    };
    t["join"] = [](const Value& self, const CallArgs& a) {
      const auto p = a.Bind("str.join", {"iterable"});
      std::string out;
      const std::vector<Value> items = Iterate(p[0]);
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += self.AsString();
        if (!items[i].IsString())
          Fail("sequence item " + std::to_string(i) + ": expected str instance, " + items[i].TypeName() + " found");
        out += items[i].AsString();
        if (out.size() > kMaxStringBytes) Fail("str.join result over the string size limit");
      }
      return Value(std::move(out));
    };
    const auto affix_remove = [](bool prefix, const char* name) {
      return [=](const Value& self, const CallArgs& a) {
        const auto p = a.Bind(name, {"affix"});
        const std::string& s = self.AsString();
        const std::string& x = StringArg(p[0], name);
        if (!AffixMatch(s, p[0], prefix)) return Value(s);
        return Value(prefix ? s.substr(x.size()) : s.substr(0, s.size() - x.size()));
      };
    };
    t["removeprefix"] = affix_remove(true, "str.removeprefix");
    t["removesuffix"] = affix_remove(false, "str.removesuffix");
    const auto check = [](const char* name, bool (*pred)(char32_t)) {
      return [=](const Value& self, const CallArgs& a) {
        a.Bind(name, {});
        return AllChars(self.AsString(), pred);
      };
    };
    // Character classes: ASCII exactly; other characters count as letters (approximate, as case mapping is).
    t["isspace"] = check("str.isspace", [](char32_t c) { return IsPySpace(c); });
    t["isdigit"] = check("str.isdigit", [](char32_t c) { return c >= '0' && c <= '9'; });
    t["isalpha"] = check("str.isalpha", [](char32_t c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0x80 && !IsPySpace(c));
    });
    t["isalnum"] = check("str.isalnum", [](char32_t c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0x80 && !IsPySpace(c));
    });
    t["islower"] = [](const Value& self, const CallArgs& a) {
      a.Bind("str.islower", {});
      return CasedCheck(self.AsString(), true);
    };
    t["isupper"] = [](const Value& self, const CallArgs& a) {
      a.Bind("str.isupper", {});
      return CasedCheck(self.AsString(), false);
    };
    return t;
  }();
  return table;
}

const MethodTable& DictMethods() {
  static const MethodTable table = [] {
    MethodTable t;
    t["get"] = [](const Value& self, const CallArgs& a) {
      const auto p = a.Bind("dict.get", {"key", "default"});
      const Value* v = p[0].IsString() ? self.AsDict().Find(p[0].AsString()) : nullptr;
      if (v) return *v;
      return p[1].IsUndefined() ? Value(nullptr) : p[1];
    };
    t["items"] = [](const Value& self, const CallArgs& a) {
      a.Bind("dict.items", {});
      std::vector<Value> items;
      for (const auto& [k, v] : self.AsDict().entries) items.push_back(Value::MakeList({Value(k), v}, true));
      return Value::MakeList(std::move(items));
    };
    t["keys"] = [](const Value& self, const CallArgs& a) {
      a.Bind("dict.keys", {});
      return Value::MakeList(Iterate(self));
    };
    t["values"] = [](const Value& self, const CallArgs& a) {
      a.Bind("dict.values", {});
      std::vector<Value> items;
      for (const auto& [k, v] : self.AsDict().entries) items.push_back(v);
      return Value::MakeList(std::move(items));
    };
    return t;
  }();
  return table;
}

const MethodTable& ListMethods() {
  static const MethodTable table = [] {
    MethodTable t;
    t["count"] = [](const Value& self, const CallArgs& a) {
      const auto p = a.Bind("list.count", {"value"});
      const auto& items = self.AsList().items;
      return Value(static_cast<int64_t>(std::count_if(items.begin(), items.end(), [&](const Value& v) { return Equal(v, p[0]); })));
    };
    t["index"] = [](const Value& self, const CallArgs& a) {
      const auto p = a.Bind("list.index", {"value"});
      const auto& items = self.AsList().items;
      for (size_t i = 0; i < items.size(); ++i)
        if (Equal(items[i], p[0])) return Value(static_cast<int64_t>(i));
      Fail(PyRepr(p[0]) + " is not in list");
    };
    return t;
  }();
  return table;
}

// Python methods kvlab leaves out, named in the error rather than treated as missing attributes.
constexpr std::string_view kOtherStrMethods[] = {
    "casefold", "center", "encode", "expandtabs", "format", "format_map", "isascii", "isdecimal", "isidentifier",
    "isnumeric", "isprintable", "istitle", "ljust", "maketrans", "partition", "rjust", "rpartition", "swapcase",
    "translate", "zfill"};
constexpr std::string_view kOtherDictMethods[] = {"copy", "fromkeys"};
constexpr std::string_view kOtherListMethods[] = {"copy"};
constexpr std::string_view kMutatingListMethods[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"};
constexpr std::string_view kMutatingDictMethods[] = {"pop", "popitem", "setdefault", "update", "clear"};

template <size_t N>
bool Among(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

Value Bind(const Value& self, const std::string& type, const std::string& name, const Method& method) {
  return MakeFunction(type + "." + name, [self, method](const CallArgs& a) {
    ChargeWork(1 + WorkCost(self));  // a method may read all of its receiver
    return method(self, a);
  });
}

Value NoAttribute(const Value& obj, const std::string& name) {
  return Value::MakeUndefined(std::string("'").append(obj.TypeName()).append(" object' has no attribute '").append(name).append("'"));
}

}  // namespace

Value GetMethod(const Value& self, const std::string& name) {
  const MethodTable* table = nullptr;
  bool unsafe = false, unsupported = false;
  if (self.IsString()) {
    table = &StrMethods();
    unsupported = Among(kOtherStrMethods, name);
  } else if (self.IsDict() && self.AsDict().kind == Dict::Kind::kMapping) {
    table = &DictMethods();
    unsafe = Among(kMutatingDictMethods, name);
    unsupported = Among(kOtherDictMethods, name);
  } else if (self.IsList()) {
    table = &ListMethods();
    unsafe = !self.AsList().tuple && Among(kMutatingListMethods, name);
    unsupported = Among(kOtherListMethods, name);
  }
  if (unsafe) {
    Fail("access to attribute '" + name + "' of '" + self.TypeName() +
         "' object is unsafe (templates cannot modify values)");
  }
  if (unsupported) Fail("unsupported method " + self.TypeName() + "." + name + "()");
  if (table) {
    const auto it = table->find(name);
    if (it != table->end()) return Bind(self, self.TypeName(), name, it->second);
  }
  return NoAttribute(self, name);
}

Value GetAttribute(const Value& obj, const std::string& name) {
  if (obj.IsUndefined()) Fail(obj.UndefinedHint());
  if (obj.IsDict()) {
    const Dict& d = obj.AsDict();
    if (d.kind == Dict::Kind::kMapping) {
      Value method = GetMethod(obj, name);
      if (!method.IsUndefined()) return method;
    }
    if (const Value* v = d.Find(name)) return *v;
    return NoAttribute(obj, name);
  }
  return GetMethod(obj, name);
}

Value GetItem(const Value& obj, const Value& key) {
  if (obj.IsUndefined()) Fail(obj.UndefinedHint());
  if (obj.IsDict() && key.IsString()) {
    if (const Value* v = obj.AsDict().Find(key.AsString())) return *v;
  } else if ((obj.IsList() || obj.IsString()) && key.IsIntegral()) {
    const int64_t i = key.AsInt();
    if (obj.IsList()) {
      const auto& items = obj.AsList().items;
      const int64_t n = static_cast<int64_t>(items.size());
      const int64_t at = i < 0 ? i + n : i;
      if (at >= 0 && at < n) return items[static_cast<size_t>(at)];
    } else {
      const std::string& s = obj.AsString();
      const int64_t n = static_cast<int64_t>(CharCount(s));
      const int64_t at = i < 0 ? i + n : i;
      if (at >= 0 && at < n) return Value(CharSlice(s, at, at + 1, 1));
    }
    return Value::MakeUndefined(obj.TypeName() + " index " + std::to_string(i) + " out of range");
  }
  if (key.IsString()) return GetAttribute(obj, key.AsString());
  return Value::MakeUndefined(std::string("'").append(obj.TypeName()).append(" object' has no item ").append(PyRepr(key)));
}

Value Slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.IsUndefined()) Fail(obj.UndefinedHint());
  const auto bound = [](const Value& v) -> std::optional<int64_t> {
    if (v.IsUndefined() || v.IsNone()) return std::nullopt;
    if (!v.IsIntegral()) Fail("slice indices must be integers or None, not " + v.TypeName());
    return v.AsInt();
  };
  // INT64_MIN has no negation; any step that large picks one item at most, like -INT64_MAX.
  const int64_t st = std::max(bound(step).value_or(1), -INT64_MAX);
  if (st == 0) Fail("slice step cannot be zero");
  if (!obj.IsList() && !obj.IsString()) Fail("'" + obj.TypeName() + "' object is not subscriptable");
  const int64_t n = static_cast<int64_t>(obj.IsList() ? obj.AsList().items.size() : CharCount(obj.AsString()));
  // Python's slice.indices(): clamp each bound into range for the step's direction.
  const auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t x = *v < 0 ? *v + n : *v;
    if (x < 0) x = st < 0 ? -1 : 0;
    if (x >= n) x = st < 0 ? n - 1 : n;
    return x;
  };
  const int64_t b = clamp(bound(start), st < 0 ? n - 1 : 0);
  const int64_t e = clamp(bound(stop), st < 0 ? -1 : n);
  if (obj.IsString()) return Value(CharSlice(obj.AsString(), b, e, st));
  // Count first: stepping past the end could overflow for huge steps.
  const int64_t count = st > 0 ? (e > b ? 1 + (e - b - 1) / st : 0) : (b > e ? 1 + (b - e - 1) / -st : 0);
  std::vector<Value> items;
  for (int64_t k = 0; k < count; ++k) items.push_back(obj.AsList().items[static_cast<size_t>(b + k * st)]);
  return Value::MakeList(std::move(items), obj.AsList().tuple);
}

Value GetGlobal(std::string_view name) {
  if (name == "range") {
    return MakeFunction("range", [](const CallArgs& a) {
      const auto p = a.Bind("range", {"start", "stop", "step"});
      if (p[0].IsUndefined()) Fail("range expected at least 1 argument, got 0");
      for (const Value& v : p)
        if (!v.IsUndefined() && !v.IsIntegral())
          Fail(std::string("'").append(v.TypeName()).append("' object cannot be interpreted as an integer"));
      int64_t start = 0, stop = p[0].AsInt(), step = 1;
      if (!p[1].IsUndefined()) start = p[0].AsInt(), stop = p[1].AsInt();
      if (!p[2].IsUndefined()) step = p[2].AsInt();
      if (step == 0) Fail("range() arg 3 must not be zero");
      // Count in long double so that huge bounds cannot overflow before the MAX_RANGE check.
      const long double span = static_cast<long double>(stop) - static_cast<long double>(start);
      const long double count = span / step > 0 ? std::ceil(span / step) : 0;
      if (count > kMaxRange)
        Fail("range too big: the sandbox allows at most " + std::to_string(kMaxRange) + " items");
      std::vector<Value> items;
      for (int64_t k = 0; k < static_cast<int64_t>(count); ++k) items.emplace_back(start + k * step);
      return Value::MakeList(std::move(items));
    });
  }
  if (name == "namespace" || name == "dict") {
    const bool ns = name == "namespace";
    return MakeFunction(std::string(name), [ns](const CallArgs& a) {
      std::vector<std::pair<std::string, Value>> entries;
      if (a.positional.size() > 1) Fail(std::string(ns ? "namespace" : "dict") + "() takes at most 1 positional argument");
      if (!a.positional.empty()) {
        const Value& init = a.positional[0];
        if (!init.IsDict()) Fail("cannot convert '" + init.TypeName() + "' object to a dict");
        entries = init.AsDict().entries;
      }
      for (const auto& kv : a.keyword) entries.push_back(kv);
      return MakeDict(std::move(entries), ns ? Dict::Kind::kNamespace : Dict::Kind::kMapping);
    });
  }
  if (name == "raise_exception") {
    return MakeFunction("raise_exception", [](const CallArgs& a) -> Value {
      const auto p = a.Bind("raise_exception", {"message"});
      throw RaisedException(PyStr(p[0]));
    });
  }
  if (name == "strftime_now") {
    return MakeFunction("strftime_now", [](const CallArgs& a) {
      const auto p = a.Bind("strftime_now", {"format"});
      const std::string& format = StringArg(p[0], "strftime_now format");
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      if (format.empty()) return Value(std::string());
      std::string buf(256 + format.size() * 16, '\0');
      const size_t n = std::strftime(buf.data(), buf.size(), format.c_str(), &local);
      if (n == 0) Fail("strftime_now: format produced nothing or too much: " + PyRepr(p[0]));
      buf.resize(n);
      return Value(std::move(buf));
    });
  }
  return Value::MakeUndefined(std::string("'").append(name).append("' is undefined"));
}

}  // namespace kvlab::jinja
