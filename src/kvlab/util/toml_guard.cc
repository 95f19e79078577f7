#include "kvlab/util/toml_guard.h"

#include "kvlab/util/error.h"

namespace kvlab {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsBareKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

TomlGuardProblem CheckTomlGuard(std::string_view t) {
  int line = 1;
  size_t i = 0;
  bool line_start = true;  // only spaces and tabs so far on this line (outside strings)
  // The last character outside strings and comments that is not a blank ('\n' at a line start). A quote
  // opens a string only where TOML has one (a key at a line start or after '.', '{' or ','; a value after
  // '=', '[' or ','): toml++ reads a quote anywhere else as part of a bad value, and what follows as bare
  // text.
  char prev = '\n';
  bool in_key = true;  // no '=' yet on this line: a '.' joins dotted keys (in a value it is part of a number)
  // The arrays ('[') and inline tables ('{') open around the current point of a value: a '[' at a line start
  // inside an array opens an array, not a table header.
  std::string nesting;
  const auto string_may_start = [&] {
    return prev == '\n' || prev == '=' || prev == '[' || prev == ',' || prev == '{' ||
           (prev == '.' && in_key);
  };
  const auto starts = [&](std::string_view s) { return t.substr(i, s.size()) == s; };
  // In a multi-line basic string, a backslash followed (after blanks and line breaks, which a line-ending
  // backslash trims) by a non-ASCII character: toml++ asks whether that character is whitespace and
  // reaches the same __builtin_unreachable() (valid TOML in the line-ending case, refused all the same).
  bool escape_before_non_ascii = false;
  // Skips to just after `close` (counting lines); `escapes`: a backslash hides the next byte.
  const auto skip_to = [&](std::string_view close, bool escapes, bool stop_at_newline) {
    while (i < t.size()) {
      if (t[i] == '\n') {
        ++line;
        if (stop_at_newline) return;  // an unclosed one-line string: the parser will say so
      }
      if (escapes && t[i] == '\\') {
        if (close.size() == 3) {
          size_t j = i + 1;
          while (j < t.size() && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n')) ++j;
          if (j < t.size() && static_cast<unsigned char>(t[j]) >= 0x80) {
            escape_before_non_ascii = true;
            return;
          }
        }
        if (i + 1 < t.size() && t[i + 1] == '\n') ++line;
        i += 2;
        continue;
      }
      if (starts(close)) {
        i += close.size();
        return;
      }
      ++i;
    }
  };
  while (i < t.size()) {
    const char c = t[i];
    if (c == '[' && line_start && nesting.empty()) {  // a table header: "[" or "[[", blanks, then a key
      i += t.substr(i, 2) == "[[" ? 2 : 1;
      while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
      if (i >= t.size() || !(IsBareKeyChar(t[i]) || t[i] == '"' || t[i] == '\'')) {
        return {line, "a table header without a name"};
      }
      line_start = false;
      continue;
    }
    if (c != ' ' && c != '\t') line_start = c == '\n';
    const bool quote_opens = (c == '"' || c == '\'') && string_may_start();
    if (c != ' ' && c != '\t' && c != '#') prev = c;
    if (c == '\n' || c == '=') in_key = c == '\n';
    if (c == '\n') {
      ++line;
      ++i;
    } else if (c == '#') {
      while (i < t.size() && t[i] != '\n') ++i;
    } else if (quote_opens && starts("\"\"\"")) {
      i += 3;
      skip_to("\"\"\"", true, false);
      if (escape_before_non_ascii)
        return {line, "a non-ASCII character after a backslash in a multi-line string"};
      prev = '"';  // a string ends a key or value: a quote right after it opens nothing
    } else if (quote_opens && starts("'''")) {
      i += 3;
      skip_to("'''", false, false);
      prev = '"';  // a string ends a key or value: a quote right after it opens nothing
    } else if (quote_opens && c == '"') {
      ++i;
      skip_to("\"", true, true);
      prev = '"';  // a string ends a key or value: a quote right after it opens nothing
    } else if (quote_opens && c == '\'') {
      ++i;
      skip_to("'", false, true);
      prev = '"';  // a string ends a key or value: a quote right after it opens nothing
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      return {line, "a non-ASCII character outside a string or comment"};
    } else {
      if (c == ' ' && i >= 3 && t[i - 3] == '-' && IsDigit(t[i - 2]) && IsDigit(t[i - 1]) &&
          i + 1 < t.size() && IsDigit(t[i + 1]) && (i + 2 >= t.size() || !IsDigit(t[i + 2]))) {
        return {line, "a date followed by a one-digit time"};
      }
      if (c == '[' || c == '{') nesting.push_back(c);
      if (c == ']' && !nesting.empty() && nesting.back() == '[') nesting.pop_back();
      if (c == '}' && !nesting.empty()) {
        if (nesting.back() == '[') return {line, "a '}' where an array expects a value"};
        nesting.pop_back();
      }
      ++i;
    }
  }
  return {};
}

namespace {
toml::table Parse(const std::string& text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw Error(source + ":" + std::to_string(e.source().begin.line), std::string(e.description()));
  }
}
}  // namespace

toml::table ParseTomlGuarded(const std::string& text, const std::string& source) {
  if (const TomlGuardProblem p = CheckTomlGuard(text); p.line > 0) {
    throw Error(source + ":" + std::to_string(p.line), p.what);
  }
  std::string ascii = text;
  for (char& c : ascii) {
    if (static_cast<unsigned char>(c) >= 0x80) c = 'x';
  }
  Parse(ascii, source);
  return Parse(text, source);
}

}  // namespace kvlab
