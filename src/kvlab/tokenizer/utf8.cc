#include "kvlab/tokenizer/utf8.h"

#include <fmt/format.h>

#include <algorithm>

namespace kvlab {

size_t Utf8SeqLen(std::string_view text, size_t pos) {
  const auto lead = static_cast<uint8_t>(text[pos]);
  size_t len = 1;
  if ((lead & 0xE0) == 0xC0) {
    len = 2;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4;
  }
  return std::min(len, text.size() - pos);
}

char32_t DecodeUtf8(std::string_view text, size_t pos, size_t* len) {
  constexpr char32_t kReplacement = 0xFFFD;
  *len = 1;
  const auto b0 = static_cast<uint8_t>(text[pos]);
  if (b0 < 0x80) return b0;
  size_t n;
  char32_t cp;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4;
    cp = b0 & 0x07;
  } else {
    return kReplacement;
  }
  if (pos + n > text.size()) return kReplacement;
  for (size_t i = 1; i < n; ++i) {
    const auto b = static_cast<uint8_t>(text[pos + i]);
    if ((b & 0xC0) != 0x80) return kReplacement;
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are malformed too.
  static constexpr char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kReplacement;
  *len = n;
  return cp;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EncodeUtf8(char32_t cp) {
  std::string s;
  AppendUtf8(cp, &s);
  return s;
}

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t len;
    const char32_t cp = DecodeUtf8(text, pos, &len);
    if (cp == 0xFFFD && len == 1) {
      AppendUtf8(cp, &out);  // a genuine U+FFFD takes 3 bytes, so len 1 means a malformed byte
    } else {
      out.append(text.substr(pos, len));
    }
    pos += len;
  }
  return out;
}

bool IsUnicodeWhitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

std::string DescribeChar(std::string_view utf8_char) {
  size_t len = 0;
  const char32_t cp = utf8_char.empty() ? 0 : DecodeUtf8(utf8_char, 0, &len);
  const std::string code = fmt::format("U+{:04X}", static_cast<uint32_t>(cp));
  if (cp < 0x20 || cp == 0x7F || len != utf8_char.size()) return code;
  return fmt::format("'{}' ({})", utf8_char, code);
}

}  // namespace kvlab
