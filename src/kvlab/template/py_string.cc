#include "kvlab/template/py_string.h"

#include <algorithm>

#include "kvlab/template/jinja_limits.h"

namespace kvlab::jinja {

char32_t DecodeUtf8At(std::string_view s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  int len = 0;
  char32_t c = 0;
  if (b0 < 0x80) {
    ++i;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0 && b0 >= 0xC2) {
    len = 2, c = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, c = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0 && b0 <= 0xF4) {
    len = 4, c = b0 & 0x07;
  }
  if (len == 0 || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    c = (c << 6) | (byte(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid: one byte each, like any bad byte.
  if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return c;
}

void AppendUtf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string CharSlice(std::string_view s, int64_t start, int64_t stop, int64_t step) {
  ChargeScan(s.size());
  // One pass in character order picks the selected characters; a negative step then reverses them.
  std::vector<std::string_view> picked;
  const int64_t lo = step > 0 ? start : stop + 1, hi = step > 0 ? stop - 1 : start;
  const int64_t anchor = start, stride = step > 0 ? step : -step;
  int64_t index = 0;
  for (size_t i = 0; i < s.size() && index <= hi; ++index) {
    const size_t begin = i;
    DecodeUtf8At(s, i);
    if (index >= lo && (index - anchor) % stride == 0) picked.push_back(s.substr(begin, i - begin));
  }
  if (step < 0) std::reverse(picked.begin(), picked.end());
  std::string out;
  for (std::string_view c : picked) out.append(c);
  return out;
}

size_t CharCount(std::string_view s) {
  ChargeScan(s.size());
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) DecodeUtf8At(s, i);
  return n;
}

bool IsPySpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

namespace {

// Splits s into its characters, each as a (code point, byte offset, byte length) triple.
struct Char {
  char32_t code;
  size_t pos, len;
};
std::vector<Char> Chars(std::string_view s) {
  ChargeScan(s.size());
  std::vector<Char> out;
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const char32_t c = DecodeUtf8At(s, i);
    out.push_back({c, start, i - start});
  }
  return out;
}

// Characters compare by their bytes, so an invalid byte in `chars` matches only that byte.
std::vector<std::string_view> CharPieces(std::string_view s) {
  std::vector<std::string_view> out;
  for (const Char& c : Chars(s)) out.push_back(s.substr(c.pos, c.len));
  return out;
}

}  // namespace

std::string PyStrip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  const std::vector<Char> cs = Chars(s);
  const std::vector<std::string_view> set = chars ? CharPieces(*chars) : std::vector<std::string_view>{};
  const auto strippable = [&](const Char& c) {
    if (!chars) return IsPySpace(c.code);
    return std::find(set.begin(), set.end(), s.substr(c.pos, c.len)) != set.end();
  };
  size_t b = 0, e = cs.size();
  if (left)
    while (b < e && strippable(cs[b])) ++b;
  if (right)
    while (e > b && strippable(cs[e - 1])) --e;
  if (b == e) return {};
  return std::string(s.substr(cs[b].pos, cs[e - 1].pos + cs[e - 1].len - cs[b].pos));
}

std::vector<std::string> PySplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit,
                                 bool from_right) {
  ChargeScan(s.size());
  std::vector<std::string> parts;
  if (sep) {
    if (!from_right) {
      size_t pos = 0;
      for (;;) {
        const size_t hit = (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) ? s.find(*sep, pos)
                                                                                             : std::string_view::npos;
        if (hit == std::string_view::npos) break;
        parts.emplace_back(s.substr(pos, hit - pos));
        pos = hit + sep->size();
      }
      parts.emplace_back(s.substr(pos));
      return parts;
    }
    size_t end = s.size();
    for (;;) {
      size_t hit = std::string_view::npos;
      if ((maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) && end >= sep->size())
        hit = s.substr(0, end).rfind(*sep);
      if (hit == std::string_view::npos) break;
      parts.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    parts.emplace_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
  }
  // Whitespace runs separate words; leading/trailing whitespace gives no empty words. With a limit, the
  // remainder keeps its inner whitespace but not the run that separated it.
  std::vector<Char> cs = Chars(s);
  if (from_right) {
    std::vector<std::string> rev_parts;
    size_t e = cs.size();
    for (;;) {
      while (e > 0 && IsPySpace(cs[e - 1].code)) --e;
      if (e == 0) break;
      if (maxsplit >= 0 && static_cast<int64_t>(rev_parts.size()) == maxsplit) {
        rev_parts.emplace_back(s.substr(0, cs[e - 1].pos + cs[e - 1].len));
        break;
      }
      size_t b = e;
      while (b > 0 && !IsPySpace(cs[b - 1].code)) --b;
      rev_parts.emplace_back(s.substr(cs[b].pos, cs[e - 1].pos + cs[e - 1].len - cs[b].pos));
      e = b;
    }
    return {rev_parts.rbegin(), rev_parts.rend()};
  }
  size_t b = 0;
  for (;;) {
    while (b < cs.size() && IsPySpace(cs[b].code)) ++b;
    if (b == cs.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      parts.emplace_back(s.substr(cs[b].pos));
      break;
    }
    size_t e = b;
    while (e < cs.size() && !IsPySpace(cs[e].code)) ++e;
    parts.emplace_back(s.substr(cs[b].pos, cs[e - 1].pos + cs[e - 1].len - cs[b].pos));
    b = e;
  }
  return parts;
}

std::vector<std::string> PySplitLines(std::string_view s) {
  std::vector<std::string> lines;
  std::string current;
  const std::vector<Char> cs = Chars(s);
  for (size_t k = 0; k < cs.size(); ++k) {
    const char32_t c = cs[k].code;
    const bool is_break = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) ||
                          c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!is_break) {
      current.append(s.substr(cs[k].pos, cs[k].len));
      continue;
    }
    if (c == '\r' && k + 1 < cs.size() && cs[k + 1].code == '\n') ++k;
    lines.push_back(std::move(current));
    current.clear();
  }
  if (!current.empty()) lines.push_back(std::move(current));
  return lines;
}

std::string PyReplace(std::string_view s, std::string_view old, std::string_view repl, int64_t count) {
  ChargeScan(s.size());
  std::string out;
  int64_t done = 0;
  if (old.empty()) {  // Python inserts `repl` before every character and at the end.
    const std::vector<Char> cs = Chars(s);
    for (const Char& c : cs) {
      if (count < 0 || done < count) out.append(repl), ++done;
      out.append(s.substr(c.pos, c.len));
    }
    if (count < 0 || done < count) out.append(repl);
    return out;
  }
  size_t pos = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(old, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos)).append(repl);
    pos = hit + old.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

int64_t PyFind(std::string_view s, std::string_view sub, bool from_right) {
  ChargeScan(s.size());
  const size_t hit = from_right ? s.rfind(sub) : s.find(sub);
  if (hit == std::string_view::npos) return -1;
  return static_cast<int64_t>(CharCount(s.substr(0, hit)));
}

int64_t PyCount(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(CharCount(s)) + 1;
  ChargeScan(s.size());
  int64_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size())) ++n;
  return n;
}

namespace {
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Upper(c);
  return out;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string PyCapitalize(std::string_view s) {
  std::string out = AsciiLower(s);
  if (!out.empty()) out[0] = Upper(out[0]);
  return out;
}

std::string PyTitle(std::string_view s) {
  std::string out(s);
  bool after_letter = false;
  for (char& c : out) {
    c = after_letter ? Lower(c) : Upper(c);
    after_letter = IsAsciiLetter(c);
  }
  return out;
}

}  // namespace kvlab::jinja
