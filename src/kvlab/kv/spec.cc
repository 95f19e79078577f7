#include "kvlab/kv/spec.h"

#include <cctype>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "kvlab/util/error.h"

namespace kvlab {

namespace {
constexpr const char* kWhere = "--kv";

bool ValidToken(std::string_view s, bool is_value = false) {
  if (s.empty()) return false;
  for (char c : s) {
    // ':' only inside values: the first ':' of a part ends its name, so a value can use it as a list
    // separator without ambiguity.
    if (is_value && c == ':') continue;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

PolicyParams ParseOne(std::string_view part, std::string_view whole) {
  const size_t colon = part.find(':');
  const std::string_view name = part.substr(0, colon);
  if (!ValidToken(name)) {
    throw Error(kWhere, "'" + std::string(part) + "' in '" + std::string(whole) + "' does not start with a policy name");
  }
  std::map<std::string, std::string> values;
  if (colon != std::string_view::npos) {
    for (std::string_view kv : Split(part.substr(colon + 1), ',')) {
      const size_t eq = kv.find('=');
      if (eq == std::string_view::npos) {
        throw Error(kWhere, std::string(name) + ": '" + std::string(kv) + "' is not key=value");
      }
      const std::string key(kv.substr(0, eq)), value(kv.substr(eq + 1));
      if (!ValidToken(key) || !ValidToken(value, /*is_value=*/true)) {
        throw Error(kWhere, std::string(name) + ": '" + std::string(kv) + "' is not key=value");
      }
      if (!values.emplace(key, value).second) {
        throw Error(kWhere, std::string(name) + ": key '" + key + "' given twice");
      }
    }
  }
  return PolicyParams(std::string(name), std::move(values));
}
}  // namespace

std::vector<PolicyParams> ParsePolicySpec(std::string_view spec) {
  if (spec.empty()) throw Error(kWhere, "empty policy spec", "e.g. --kv \"h2o:budget=128,recent=32\"");
  std::vector<PolicyParams> out;
  for (std::string_view part : Split(spec, '+')) {
    if (part.empty()) throw Error(kWhere, "empty part in '" + std::string(spec) + "'");
    out.push_back(ParseOne(part, spec));
  }
  return out;
}

void PolicyParams::Fail(const std::string& key, const std::string& why) const {
  throw Error(kWhere, policy_ + ": " + key + "=" + values_.at(key) + " " + why);
}

int64_t PolicyParams::Int(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (errno != 0 || end == it->second.c_str() || *end != '\0') Fail(key, "is not an integer");
  if (v < min || v > max) {
    Fail(key, "is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

double PolicyParams::Float(const std::string& key, double fallback, double min, double max) {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (errno != 0 || end == it->second.c_str() || *end != '\0' || !std::isfinite(v)) Fail(key, "is not a number");
  if (v < min || v > max) {
    Fail(key, "is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

bool PolicyParams::Bool(const std::string& key, bool fallback) {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (it->second == "1" || it->second == "true" || it->second == "on") return true;
  if (it->second == "0" || it->second == "false" || it->second == "off") return false;
  Fail(key, "is not a boolean (true/false)");
}

std::string PolicyParams::Choice(const std::string& key, const std::string& fallback,
                                 const std::vector<std::string>& allowed) {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  for (const std::string& a : allowed) {
    if (a == it->second) return a;
  }
  std::string list;
  for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
  Fail(key, "is not one of: " + list);
}

std::string PolicyParams::Text(const std::string& key, const std::string& fallback) {
  read_.insert(key);
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

void PolicyParams::RejectUnknownKeys() const {
  for (const auto& [key, value] : values_) {
    if (read_.count(key) != 0) continue;
    std::string known;
    for (const std::string& k : read_) known += (known.empty() ? "" : ", ") + k;
    throw Error(kWhere, policy_ + ": unknown key '" + key + "'", known.empty() ? "this policy takes no keys" : "known keys: " + known);
  }
}

std::string PolicyParams::ToString() const {
  std::string s = policy_;
  char sep = ':';
  for (const auto& [key, value] : values_) {
    s += sep + key + "=" + value;
    sep = ',';
  }
  return s;
}

std::string FormatSpecNumber(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

}  // namespace kvlab
