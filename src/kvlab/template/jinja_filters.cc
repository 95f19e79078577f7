// jinja2's builtin filters, with Hugging Face's tojson (json.dumps: ensure_ascii=False, indent, separators,
// sort_keys; no HTML escaping). Arguments bind by position or name with jinja2's parameter names.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>

#include "kvlab/template/jinja_builtins.h"
#include "kvlab/template/jinja_format.h"
#include "kvlab/template/jinja_limits.h"
#include "kvlab/template/py_string.h"

namespace kvlab::jinja {

int64_t IntArg(const Value& v, int64_t fallback, const char* what) {
  if (v.IsUndefined()) return fallback;
  if (!v.IsIntegral()) Fail(std::string(what) + " must be an integer, not " + v.TypeName());
  return v.AsInt();
}

namespace {

using FilterFn = std::function<Value(const Value& in, const CallArgs& a)>;

bool BoolArg(const Value& v, bool fallback) { return v.IsUndefined() ? fallback : Truthy(v); }

Value CheckedString(std::string s, const char* filter) {
  if (s.size() > kMaxStringBytes) Fail(std::string(filter) + ": result over the string size limit");
  return Value(std::move(s));
}

// jinja2's attribute getter for attribute= arguments: "a.b.0" walks items, falling back to attributes.
Value GetPath(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = GetItem(cur, numeric ? Value(static_cast<int64_t>(std::strtoll(part.c_str(), nullptr, 10))) : Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// The key a sort/unique/min/max compares: the attribute(s) if given, strings lowercased unless case_sensitive.
struct KeyMaker {
  std::vector<std::string> attributes;  // empty: the item itself
  bool case_sensitive = false;

  KeyMaker(const Value& attribute, const Value& case_sensitive_arg) : case_sensitive(BoolArg(case_sensitive_arg, false)) {
    if (attribute.IsUndefined() || attribute.IsNone()) return;
    if (attribute.IsIntegral()) {
      attributes.push_back(std::to_string(attribute.AsInt()));
      return;
    }
    if (!attribute.IsString()) Fail("attribute must be a string, not " + attribute.TypeName());
    for (const std::string& a : PySplit(attribute.AsString(), std::string(","), -1, false)) attributes.push_back(a);
  }
  Value Key(const Value& item) const {
    const auto fold = [&](Value v) { return (!case_sensitive && v.IsString()) ? Value(AsciiLower(v.AsString())) : v; };
    if (attributes.empty()) return fold(item);
    if (attributes.size() == 1) return fold(GetPath(item, attributes[0]));
    std::vector<Value> parts;
    for (const std::string& a : attributes) parts.push_back(fold(GetPath(item, a)));
    return Value::MakeList(std::move(parts));
  }
};

// Stable sort by key; reverse keeps equal items in their original order, as Python's sorted() does.
std::vector<Value> SortedBy(std::vector<Value> items, const KeyMaker& keys, bool reverse) {
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& v : items) keyed.emplace_back(keys.Key(v), std::move(v));
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? Less(b.first, a.first) : Less(a.first, b.first);
  });
  std::vector<Value> out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return out;
}

Value MinMax(const Value& in, const CallArgs& a, bool want_max) {
  const auto p = a.Bind(want_max ? "max" : "min", {"case_sensitive", "attribute"});
  const KeyMaker keys(p[1], p[0]);
  const std::vector<Value> items = Iterate(in);
  if (items.empty()) return Value::MakeUndefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key = keys.Key(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = keys.Key(items[i]);
    if (want_max ? Less(best_key, k) : Less(k, best_key)) best = i, best_key = std::move(k);
  }
  return items[best];
}

// Python's round(x, ndigits) for floats: correctly rounded through the decimal string, ties to even.
double PyRound(double x, int64_t digits) {
  if (!std::isfinite(x) || digits > 300) return x;
  if (digits < -308) return 0.0 * x;
  if (digits < 0) {
    const double scale = std::pow(10.0, static_cast<double>(-digits));
    return std::nearbyint(x / scale) * scale;
  }
  char buf[1024];  // up to 309 integer digits and 300 decimals
  std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(digits), x);
  return std::strtod(buf, nullptr);
}

// Python int(str): optional sign, digits with single underscores, surrounding whitespace.
std::optional<int64_t> ParseInt(const std::string& raw, int base) {
  std::string s = PyStrip(raw, std::nullopt, true, true);
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() && s[i - 1] != '_' && s[i - 1] != '-' && s[i - 1] != '+') continue;
    digits += s[i];
  }
  if (digits.empty() || base < 2 || base > 36) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(digits.c_str(), &end, base);
  if (errno != 0 || end != digits.c_str() + digits.size() || std::isspace(static_cast<unsigned char>(digits[0])))
    return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<double> ParseFloat(const std::string& raw) {
  const std::string s = PyStrip(raw, std::nullopt, true, true);
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> FloatToInt(double d) {
  if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return std::nullopt;
  return static_cast<int64_t>(std::trunc(d));
}

// select/reject/selectattr/rejectattr: the test (by name, with its extra arguments) decides per item.
Value Select(const Value& in, const CallArgs& a, bool keep_matches, bool by_attribute, const char* filter) {
  CallArgs test_args;
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (a.positional.empty() || !a.positional[0].IsString()) Fail(std::string(filter) + " needs an attribute name");
    attribute = a.positional[0].AsString();
    next = 1;
  }
  std::string test;
  if (next < a.positional.size()) {
    if (!a.positional[next].IsString()) Fail(std::string(filter) + ": the test name must be a string");
    test = a.positional[next].AsString();
    if (!IsTest(test)) Fail(std::string(filter) + ": unknown test '" + test + "'");
    test_args.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(next) + 1, a.positional.end());
  }
  test_args.keyword = a.keyword;
  std::vector<Value> out;
  for (const Value& item : Iterate(in)) {
    const Value subject = by_attribute ? GetPath(item, attribute) : item;
    const bool hit = test.empty() ? Truthy(subject) : ApplyTest(test, subject, test_args);
    if (hit == keep_matches) out.push_back(item);
  }
  return Value::MakeList(std::move(out));
}

std::string Indent(const std::string& s, const Value& width, bool first, bool blank) {
  const std::string pad = width.IsString() ? width.AsString()
                                           : std::string(static_cast<size_t>(std::clamp<int64_t>(IntArg(width, 4, "indent width"), 0, 1024)), ' ');
  const std::vector<std::string> lines = PySplitLines(s + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) {
      out += '\n';
      if (blank || !lines[i].empty()) out += pad;
    }
    out += lines[i];
    if (out.size() > kMaxStringBytes) Fail("indent: result over the string size limit");
  }
  return first ? pad + out : out;
}

const std::map<std::string, FilterFn, std::less<>>& Filters() {
  static const std::map<std::string, FilterFn, std::less<>> filters = [] {
    std::map<std::string, FilterFn, std::less<>> f;
    const auto string_filter = [](const char* name, std::string (*fn)(std::string_view)) {
      return [=](const Value& in, const CallArgs& a) {
        a.Bind(name, {});
        return Value(fn(PyStr(in)));
      };
    };
    f["upper"] = string_filter("upper", AsciiUpper);
    f["lower"] = string_filter("lower", AsciiLower);
    f["capitalize"] = string_filter("capitalize", PyCapitalize);
    // jinja2's title: a letter after a space, '-', or an opening bracket starts a word.
    f["title"] = [](const Value& in, const CallArgs& a) {
      a.Bind("title", {});
      std::string s = PyStr(in);
      bool word_start = true;
      for (char& c : s) {
        c = word_start ? AsciiUpper(std::string_view(&c, 1))[0] : AsciiLower(std::string_view(&c, 1))[0];
        word_start = std::isspace(static_cast<unsigned char>(c)) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
      }
      return Value(std::move(s));
    };
    f["trim"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("trim", {"chars"});
      std::optional<std::string> chars;
      if (!p[0].IsUndefined() && !p[0].IsNone()) chars = PyStr(p[0]);
      return Value(PyStrip(PyStr(in), chars, true, true));
    };
    f["string"] = [](const Value& in, const CallArgs& a) {
      a.Bind("string", {});
      return in.IsString() ? in : Value(PyStr(in));
    };
    f["safe"] = f["string"];
    const FilterFn escape = [](const Value& in, const CallArgs& a) {
      a.Bind("escape", {});
      return Value(HtmlEscape(PyStr(in)));
    };
    f["e"] = f["escape"] = escape;
    const FilterFn length = [](const Value& in, const CallArgs& a) {
      a.Bind("length", {});
      if (in.IsString()) return Value(static_cast<int64_t>(CharCount(in.AsString())));
      if (in.IsList()) return Value(static_cast<int64_t>(in.AsList().items.size()));
      if (in.IsDict()) return Value(static_cast<int64_t>(in.AsDict().entries.size()));
      if (in.IsUndefined()) return Value(0);
      Fail("object of type '" + in.TypeName() + "' has no len()");
    };
    f["length"] = f["count"] = length;
    f["wordcount"] = [](const Value& in, const CallArgs& a) {
      a.Bind("wordcount", {});
      int64_t n = 0;
      bool in_word = false;
      for (unsigned char c : PyStr(in)) {
        const bool word_char = std::isalnum(c) || c == '_' || c >= 0x80;
        if (word_char && !in_word) ++n;
        in_word = word_char;
      }
      return Value(n);
    };
    const FilterFn fallback = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("default", {"default_value", "boolean"});
      const bool use_default = in.IsUndefined() || (BoolArg(p[1], false) && !Truthy(in));
      if (!use_default) return in;
      return p[0].IsUndefined() ? Value(std::string()) : p[0];
    };
    f["default"] = f["d"] = fallback;
    f["first"] = [](const Value& in, const CallArgs& a) {
      a.Bind("first", {});
      std::vector<Value> items = Iterate(in);
      return items.empty() ? Value::MakeUndefined("No first item, sequence was empty.") : items.front();
    };
    f["last"] = [](const Value& in, const CallArgs& a) {
      a.Bind("last", {});
      std::vector<Value> items = Iterate(in);
      return items.empty() ? Value::MakeUndefined("No last item, sequence was empty.") : items.back();
    };
    f["list"] = [](const Value& in, const CallArgs& a) {
      a.Bind("list", {});
      return Value::MakeList(Iterate(in));
    };
    f["reverse"] = [](const Value& in, const CallArgs& a) {
      a.Bind("reverse", {});
      std::vector<Value> items = Iterate(in);
      std::reverse(items.begin(), items.end());
      if (!in.IsString()) return Value::MakeList(std::move(items));
      std::string s;
      for (const Value& c : items) s += c.AsString();
      return Value(std::move(s));
    };
    f["join"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("join", {"d", "attribute"});
      const std::string sep = p[0].IsUndefined() ? "" : PyStr(p[0]);
      std::string out;
      const std::vector<Value> items = Iterate(in);
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += sep;
        out += PyStr(p[1].IsUndefined() || p[1].IsNone() ? items[i] : GetPath(items[i], PyStr(p[1])));
        if (out.size() > kMaxStringBytes) Fail("join: result over the string size limit");
      }
      return Value(std::move(out));
    };
    f["replace"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("replace", {"old", "new", "count"});
      const int64_t count = (p[2].IsUndefined() || p[2].IsNone()) ? -1 : IntArg(p[2], -1, "replace count");
      return CheckedString(PyReplace(PyStr(in), PyStr(p[0]), PyStr(p[1]), count), "replace");
    };
    f["indent"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("indent", {"width", "first", "blank"});
      return Value(Indent(PyStr(in), p[0], BoolArg(p[1], false), BoolArg(p[2], false)));
    };
    f["center"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("center", {"width"});
      const std::string s = PyStr(in);
      const int64_t width = std::min<int64_t>(IntArg(p[0], 80, "center width"), 1 << 20);
      const int64_t n = static_cast<int64_t>(CharCount(s));
      if (width <= n) return Value(s);
      const int64_t pad = width - n, left = pad / 2 + (pad & width & 1);  // Python's str.center split
      return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(pad - left), ' '));
    };
    f["int"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("int", {"default", "base"});
      const Value fallback = p[0].IsUndefined() ? Value(0) : p[0];
      if (in.IsIntegral()) return Value(in.AsInt());
      if (in.IsFloat()) {
        const auto v = FloatToInt(in.AsDouble());
        return v ? Value(*v) : fallback;
      }
      if (in.IsString()) {
        if (const auto v = ParseInt(in.AsString(), static_cast<int>(IntArg(p[1], 10, "base")))) return Value(*v);
        if (const auto d = ParseFloat(in.AsString())) {
          if (const auto v = FloatToInt(*d)) return Value(*v);
        }
      }
      return fallback;
    };
    f["float"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("float", {"default"});
      const Value fallback = p[0].IsUndefined() ? Value(0.0) : p[0];
      if (in.IsNumber()) return Value(in.AsDouble());
      if (in.IsString()) {
        if (const auto d = ParseFloat(in.AsString())) return Value(*d);
      }
      return fallback;
    };
    f["abs"] = [](const Value& in, const CallArgs& a) {
      a.Bind("abs", {});
      if (in.IsFloat()) return Value(std::fabs(in.AsDouble()));
      if (in.IsIntegral()) {
        if (in.AsInt() == INT64_MIN) Fail("integer overflow in abs");
        return Value(in.AsInt() < 0 ? -in.AsInt() : in.AsInt());
      }
      Fail("bad operand type for abs(): '" + in.TypeName() + "'");
    };
    f["round"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("round", {"precision", "method"});
      const int64_t precision = IntArg(p[0], 0, "round precision");
      const std::string method = p[1].IsUndefined() ? "common" : PyStr(p[1]);
      if (!in.IsNumber()) Fail("round: expected a number, got " + in.TypeName());
      if (method == "common") {
        if (in.IsIntegral() && precision >= 0) return Value(in.AsInt());
        return Value(PyRound(in.AsDouble(), precision));
      }
      if (method != "ceil" && method != "floor") Fail("round: method must be common, ceil or floor");
      const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -400, 400)));
      const double scaled = in.AsDouble() * scale;
      return Value((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
    };
    f["items"] = [](const Value& in, const CallArgs& a) {
      a.Bind("items", {});
      if (in.IsUndefined()) return Value::MakeList({});
      if (!in.IsDict() || in.AsDict().kind != Dict::Kind::kMapping) Fail("items: can only get item pairs from a mapping");
      return GetMethod(in, "items").AsFunction().call(CallArgs{});
    };
    f["dictsort"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("dictsort", {"case_sensitive", "by", "reverse"});
      if (!in.IsDict() || in.AsDict().kind != Dict::Kind::kMapping) Fail("dictsort: expected a mapping, got " + in.TypeName());
      const std::string by = p[1].IsUndefined() ? "key" : PyStr(p[1]);
      if (by != "key" && by != "value") Fail("dictsort: you can only sort by either 'key' or 'value'");
      const KeyMaker keys(Value(by == "key" ? "0" : "1"), p[0]);
      return Value::MakeList(SortedBy(GetMethod(in, "items").AsFunction().call(CallArgs{}).AsList().items, keys,
                                      BoolArg(p[2], false)));
    };
    f["sort"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("sort", {"reverse", "case_sensitive", "attribute"});
      return Value::MakeList(SortedBy(Iterate(in), KeyMaker(p[2], p[1]), BoolArg(p[0], false)));
    };
    f["unique"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("unique", {"case_sensitive", "attribute"});
      const KeyMaker keys(p[1], p[0]);
      std::vector<Value> seen, out;
      for (const Value& item : Iterate(in)) {
        Value k = keys.Key(item);
        if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return Equal(s, k); })) continue;
        seen.push_back(std::move(k));
        out.push_back(item);
      }
      return Value::MakeList(std::move(out));
    };
    f["min"] = [](const Value& in, const CallArgs& a) { return MinMax(in, a, false); };
    f["max"] = [](const Value& in, const CallArgs& a) { return MinMax(in, a, true); };
    f["sum"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("sum", {"attribute", "start"});
      Value total = p[1].IsUndefined() ? Value(0) : p[1];
      for (const Value& item : Iterate(in)) {
        const Value v = (p[0].IsUndefined() || p[0].IsNone()) ? item : GetPath(item, PyStr(p[0]));
        if (!v.IsNumber() || !total.IsNumber())
          Fail("sum: unsupported operand type(s) for +: '" + total.TypeName() + "' and '" + v.TypeName() + "'");
        if (v.IsIntegral() && total.IsIntegral()) {
          int64_t r;
          if (__builtin_add_overflow(total.AsInt(), v.AsInt(), &r)) Fail("integer overflow in sum");
          total = Value(r);
        } else {
          total = Value(total.AsDouble() + v.AsDouble());
        }
      }
      return total;
    };
    f["batch"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("batch", {"linecount", "fill_with"});
      const int64_t n = IntArg(p[0], 0, "batch linecount");
      if (n <= 0 || n > static_cast<int64_t>(kMaxListItems)) Fail("batch: linecount must be between 1 and " + std::to_string(kMaxListItems));
      std::vector<Value> rows, row;
      for (const Value& item : Iterate(in)) {
        row.push_back(item);
        if (static_cast<int64_t>(row.size()) == n) rows.push_back(Value::MakeList(std::move(row))), row.clear();
      }
      if (!row.empty()) {
        if (!p[1].IsUndefined() && !p[1].IsNone())
          while (static_cast<int64_t>(row.size()) < n) row.push_back(p[1]);
        rows.push_back(Value::MakeList(std::move(row)));
      }
      return Value::MakeList(std::move(rows));
    };
    f["map"] = [](const Value& in, const CallArgs& a) {
      std::vector<Value> out;
      if (a.positional.empty()) {  // map(attribute='x', default=...)
        const auto p = a.Bind("map", {"attribute", "default"});
        if (p[0].IsUndefined()) Fail("map: needs a filter name or attribute=");
        for (const Value& item : Iterate(in)) {
          Value v = GetPath(item, PyStr(p[0]));
          out.push_back(v.IsUndefined() && !p[1].IsUndefined() ? p[1] : v);
        }
        return Value::MakeList(std::move(out));
      }
      if (!a.positional[0].IsString() || !IsFilter(a.positional[0].AsString()))
        Fail("map: unknown filter " + PyRepr(a.positional[0]));
      CallArgs rest{{a.positional.begin() + 1, a.positional.end()}, a.keyword};
      for (const Value& item : Iterate(in)) out.push_back(ApplyFilter(a.positional[0].AsString(), item, rest));
      return Value::MakeList(std::move(out));
    };
    f["select"] = [](const Value& in, const CallArgs& a) { return Select(in, a, true, false, "select"); };
    f["reject"] = [](const Value& in, const CallArgs& a) { return Select(in, a, false, false, "reject"); };
    f["selectattr"] = [](const Value& in, const CallArgs& a) { return Select(in, a, true, true, "selectattr"); };
    f["rejectattr"] = [](const Value& in, const CallArgs& a) { return Select(in, a, false, true, "rejectattr"); };
    f["attr"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("attr", {"name"});
      if (in.IsUndefined()) Fail(in.UndefinedHint());
      const std::string name = PyStr(p[0]);
      if (in.IsDict() && in.AsDict().kind != Dict::Kind::kMapping) {
        if (const Value* v = in.AsDict().Find(name)) return *v;
      }
      return GetMethod(in, name);
    };
    f["tojson"] = [](const Value& in, const CallArgs& a) {
      const auto p = a.Bind("tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
      JsonDumpOptions o;
      o.ensure_ascii = BoolArg(p[0], false);
      o.sort_keys = BoolArg(p[3], false);
      if (p[1].IsString()) {
        o.indent = p[1].AsString();
      } else if (p[1].IsIntegral()) {
        o.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(p[1].AsInt(), 0, 1024)), ' ');
      } else if (!p[1].IsUndefined() && !p[1].IsNone()) {
        Fail("tojson: indent must be an integer or a string");
      }
      if (p[2].IsList() && p[2].AsList().items.size() == 2 && p[2].AsList().items[0].IsString() &&
          p[2].AsList().items[1].IsString()) {
        o.item_separator = p[2].AsList().items[0].AsString();
        o.key_separator = p[2].AsList().items[1].AsString();
      } else if (!p[2].IsUndefined() && !p[2].IsNone()) {
        Fail("tojson: separators must be a pair of strings");
      }
      return CheckedString(PyJsonDumps(in, o), "tojson");
    };
    return f;
  }();
  return filters;
}

}  // namespace

bool IsFilter(std::string_view name) { return Filters().count(name) > 0; }

Value ApplyFilter(std::string_view name, const Value& input, const CallArgs& args) {
  const auto it = Filters().find(name);
  if (it == Filters().end()) Fail("unknown filter '" + std::string(name) + "'");
  ChargeWork(1 + WorkCost(input));  // a filter may read all of its input
  return it->second(input, args);
}

}  // namespace kvlab::jinja
