#include "kvlab/template/jinja_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "kvlab/template/jinja_limits.h"
#include "kvlab/template/py_string.h"

namespace kvlab::jinja {
namespace {
// Printing or serializing a list that holds one long string many times must stop at the size limit.
void CheckSize(const std::string& out, const char* what) {
  if (out.size() > kMaxStringBytes) Fail(std::string(what) + ": text longer than " + std::to_string(kMaxStringBytes) + " bytes");
}
}  // namespace

std::string PyFloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  // Shortest round-trip digits, then Python's layout: positional for 1e-4 <= |d| < 1e16, else exponent.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(exponent) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out.append(".").append(digits, 1);
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp_buf;
}

namespace {

void AppendHex(std::string& out, const char* prefix, unsigned value, int width) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%s%0*x", prefix, width, value);
  out += buf;
}

std::string StringRepr(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const char quote = (has_single && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const char32_t c = DecodeUtf8At(s, i);
    if (c == '\\' || c == static_cast<char32_t>(quote)) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0xA0) || c == 0xAD) {
      AppendHex(out, "\\x", static_cast<unsigned>(c), 2);  // not printable in Python
    } else if (c == 0xFFFD && i - start == 1) {
      AppendHex(out, "\\x", static_cast<unsigned char>(s[start]), 2);  // a stray byte
    } else {
      out.append(s, start, i - start);
    }
  }
  out += quote;
  return out;
}

void AppendRepr(std::string& out, const Value& v);

void AppendItems(std::string& out, const std::vector<Value>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    AppendRepr(out, items[i]);
  }
}

void AppendRepr(std::string& out, const Value& v) {
  CheckSize(out, "repr");
  switch (v.type()) {
    case Value::Type::kUndefined: out += "Undefined"; return;
    case Value::Type::kString: out += StringRepr(v.AsString()); return;
    case Value::Type::kList: {
      const List& l = v.AsList();
      out += l.tuple ? "(" : "[";
      AppendItems(out, l.items);
      out += l.tuple ? (l.items.size() == 1 ? ",)" : ")") : "]";
      return;
    }
    case Value::Type::kDict: {
      const Dict& d = v.AsDict();
      if (d.kind == Dict::Kind::kLoop) {
        out += "<LoopContext>";
        return;
      }
      if (d.kind == Dict::Kind::kNamespace) out += "<Namespace ";
      out += "{";
      for (size_t i = 0; i < d.entries.size(); ++i) {
        if (i) out += ", ";
        out += StringRepr(d.entries[i].first) + ": ";
        AppendRepr(out, d.entries[i].second);
      }
      out += "}";
      if (d.kind == Dict::Kind::kNamespace) out += ">";
      return;
    }
    default: out += PyStr(v);
  }
}

void AppendJsonString(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      switch (b) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (b < 0x20 || (ensure_ascii && b == 0x7F)) {
            AppendHex(out, "\\u", b, 4);
          } else {
            out += static_cast<char>(b);
          }
      }
      continue;
    }
    const char32_t c = DecodeUtf8At(s, i);
    if (!ensure_ascii) {
      out.append(s, start, i - start);
    } else if (c >= 0x10000) {
      AppendHex(out, "\\u", 0xD800 + ((c - 0x10000) >> 10), 4);
      AppendHex(out, "\\u", 0xDC00 + ((c - 0x10000) & 0x3FF), 4);
    } else {
      AppendHex(out, "\\u", static_cast<unsigned>(c), 4);
    }
  }
  out += '"';
}

struct JsonWriter {
  const JsonDumpOptions& options;
  std::string item_sep, key_sep;
  std::string out;

  void Newline(int level) {
    CheckSize(out, "tojson");
    out += '\n';
    for (int k = 0; k < level; ++k) out += *options.indent;
  }

  void Write(const Value& v, int level) {
    CheckSize(out, "tojson");
    switch (v.type()) {
      case Value::Type::kNone: out += "null"; return;
      case Value::Type::kBool: out += v.AsBool() ? "true" : "false"; return;
      case Value::Type::kInt: out += std::to_string(v.AsInt()); return;
      case Value::Type::kFloat: {
        const double d = v.AsDouble();
        out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d < 0 ? "-Infinity" : "Infinity") : PyFloatRepr(d);
        return;
      }
      case Value::Type::kString: AppendJsonString(out, v.AsString(), options.ensure_ascii); return;
      case Value::Type::kList: {
        const auto& items = v.AsList().items;
        if (items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (options.indent) Newline(level + 1);
          Write(items[i], level + 1);
        }
        if (options.indent) Newline(level);
        out += ']';
        return;
      }
      case Value::Type::kDict: {
        const Dict& d = v.AsDict();
        if (d.kind != Dict::Kind::kMapping) break;
        if (d.entries.empty()) {
          out += "{}";
          return;
        }
        std::vector<const std::pair<std::string, Value>*> entries;
        for (const auto& e : d.entries) entries.push_back(&e);
        if (options.sort_keys)
          std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
          if (i) out += item_sep;
          if (options.indent) Newline(level + 1);
          AppendJsonString(out, entries[i]->first, options.ensure_ascii);
          out += key_sep;
          Write(entries[i]->second, level + 1);
        }
        if (options.indent) Newline(level);
        out += '}';
        return;
      }
      default: break;
    }
    Fail("Object of type " + v.TypeName() + " is not JSON serializable");
  }
};

}  // namespace

std::string PyStr(const Value& v) {
  switch (v.type()) {
    case Value::Type::kUndefined: return "";
    case Value::Type::kNone: return "None";
    case Value::Type::kBool: return v.AsBool() ? "True" : "False";
    case Value::Type::kInt: return std::to_string(v.AsInt());
    case Value::Type::kFloat: return PyFloatRepr(v.AsDouble());
    case Value::Type::kString: return v.AsString();
    case Value::Type::kFunction: return "<function " + v.AsFunction().name + ">";
    default: return PyRepr(v);
  }
}

std::string PyRepr(const Value& v) {
  std::string out;
  AppendRepr(out, v);
  CheckSize(out, "repr");
  return out;
}

std::string PyJsonDumps(const Value& v, const JsonDumpOptions& options) {
  JsonWriter w{options, options.item_separator.value_or(options.indent ? "," : ", "),
               options.key_separator.value_or(": "), {}};
  w.Write(v, 0);
  CheckSize(w.out, "tojson");
  return std::move(w.out);
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace kvlab::jinja
