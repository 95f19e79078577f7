#include "kvlab/tasks/task_template.h"

namespace kvlab {

namespace {

constexpr std::string_view kTextNames[] = {"values", "Some", "are", "are_all", "query", "num_answers"};
constexpr std::string_view kNeedleOnly[] = {"key", "value"};

bool Known(std::string_view name, TemplateField field) {
  for (std::string_view k : kTextNames) {
    if (name == k) return true;
  }
  if (field == TemplateField::kNeedle) {
    for (std::string_view k : kNeedleOnly) {
      if (name == k) return true;
    }
  }
  return false;
}

std::string KnownList(TemplateField field) {
  std::string out;
  for (std::string_view k : kTextNames) out += (out.empty() ? "{" : " {") + std::string(k) + "}";
  if (field == TemplateField::kNeedle) {
    for (std::string_view k : kNeedleOnly) out += " {" + std::string(k) + "}";
  }
  return out;
}

const std::string* Lookup(std::string_view name, const TemplateValues& v) {
  if (name == "values") return &v.values;
  if (name == "Some") return &v.some;
  if (name == "are") return &v.are;
  if (name == "are_all") return &v.are_all;
  if (name == "query") return &v.query;
  if (name == "num_answers") return &v.num_answers;
  if (name == "key") return &v.key;
  if (name == "value") return &v.value;
  return nullptr;
}

}  // namespace

std::string CheckTemplate(std::string_view tmpl, TemplateField field) {
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if (c == '}') {
      if (i + 1 < tmpl.size() && tmpl[i + 1] == '}') {
        ++i;
        continue;
      }
      return "unmatched '}' at character " + std::to_string(i + 1) + " (a literal brace is written }})";
    }
    if (c != '{') continue;
    if (i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
      ++i;
      continue;
    }
    const size_t close = tmpl.find_first_of("{}", i + 1);
    if (close == std::string_view::npos || tmpl[close] == '{') {
      return "unclosed '{' at character " + std::to_string(i + 1) + " (a literal brace is written {{)";
    }
    const std::string_view name = tmpl.substr(i + 1, close - i - 1);
    if (!Known(name, field)) {
      return "unknown placeholder {" + std::string(name) + "} (known here: " + KnownList(field) + ")";
    }
    i = close;
  }
  return "";
}

std::string ExpandTemplate(std::string_view tmpl, const TemplateValues& values) {
  std::string out;
  out.reserve(tmpl.size() + 32);
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '{') {
      const size_t close = tmpl.find('}', i + 1);
      if (close != std::string_view::npos) {
        if (const std::string* v = Lookup(tmpl.substr(i + 1, close - i - 1), values)) {
          out += *v;
          i = close;
          continue;
        }
      }
    }
    out += c;  // what CheckTemplate would reject stays as written
  }
  return out;
}

std::string JoinQuery(const std::vector<std::string>& keys) {
  if (keys.empty()) return "";
  if (keys.size() == 1) return keys[0];
  if (keys.size() == 2) return keys[0] + " and " + keys[1];
  std::string out;
  for (size_t i = 0; i + 1 < keys.size(); ++i) out += keys[i] + ", ";
  return out + "and " + keys.back();
}

}  // namespace kvlab
