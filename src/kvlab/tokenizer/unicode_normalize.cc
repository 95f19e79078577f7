#include "kvlab/tokenizer/unicode_normalize.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "kvlab/tokenizer/utf8.h"

namespace kvlab {
namespace {

bool IsAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<uint8_t>(c) >= 0x80) return false;
  }
  return true;
}

// Calls `transform` on each maximal valid UTF-8 run of `text`; malformed bytes are copied as they are.
template <typename Transform>
std::string ForEachValidRun(std::string_view text, Transform transform) {
  std::string out;
  out.reserve(text.size());
  size_t run_begin = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 0;
    const char32_t cp = DecodeUtf8(text, pos, &len);
    if (cp == 0xFFFD && len == 1) {  // a genuine U+FFFD takes 3 bytes: len 1 is a malformed byte
      transform(text.substr(run_begin, pos - run_begin), &out);
      out.append(text.substr(pos, len));
      run_begin = pos + len;
    }
    pos += len;
  }
  transform(text.substr(run_begin), &out);
  return out;
}

void MapRun(std::string_view run, utf8proc_option_t options, std::string* out) {
  if (run.empty()) return;
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(run.data()),
                                          static_cast<utf8proc_ssize_t>(run.size()), &mapped, options);
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(mapped, &std::free);
  if (n < 0) {  // cannot happen for a valid run; keep the text rather than lose it
    out->append(run);
    return;
  }
  out->append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
}

}  // namespace

std::string NormalizeUnicode(std::string_view text, UnicodeForm form) {
  if (IsAscii(text)) return std::string(text);  // every form leaves ASCII as it is
  int options = UTF8PROC_STABLE;
  switch (form) {
    case UnicodeForm::kNfc:
      options |= UTF8PROC_COMPOSE;
      break;
    case UnicodeForm::kNfd:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case UnicodeForm::kNfkc:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case UnicodeForm::kNfkd:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  return ForEachValidRun(text, [&](std::string_view run, std::string* out) {
    MapRun(run, static_cast<utf8proc_option_t>(options), out);
  });
}

std::string LowercaseUnicode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 0;
    const char32_t cp = DecodeUtf8(text, pos, &len);
    if (cp == 0xFFFD && len == 1) {
      out.append(text.substr(pos, len));  // a malformed byte stays as it is
    } else {
      AppendUtf8(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))), &out);
    }
    pos += len;
  }
  return out;
}

std::string StripCombiningMarks(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 0;
    const char32_t cp = DecodeUtf8(text, pos, &len);
    if (utf8proc_category(static_cast<utf8proc_int32_t>(cp)) != UTF8PROC_CATEGORY_MN) {
      out.append(text.substr(pos, len));
    }
    pos += len;
  }
  return out;
}

}  // namespace kvlab
