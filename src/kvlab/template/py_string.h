// Python's str semantics over UTF-8 bytes, for the template interpreter: templates index, slice, strip and
// split strings by characters (code points) as Python does, not by bytes. An invalid UTF-8 byte counts as
// one character of its own, so any input is handled and nothing is lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvlab::jinja {

// The code point starting at byte `i`; advances `i` past it (one byte for an invalid sequence).
char32_t DecodeUtf8At(std::string_view s, size_t& i);
void AppendUtf8(std::string& out, char32_t c);

size_t CharCount(std::string_view s);
// The characters at indices start, start + step, ... (Python's s[start::step] for indices already clamped
// into range), up to but excluding stop; step may be negative.
std::string CharSlice(std::string_view s, int64_t start, int64_t stop, int64_t step);

// str.isspace() for one code point (the set str.split() and str.strip() use without arguments).
bool IsPySpace(char32_t c);

// str.strip / lstrip / rstrip; `chars` = nullopt strips whitespace.
std::string PyStrip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split / str.rsplit; `sep` = nullopt splits on runs of whitespace; maxsplit < 0: no limit.
std::vector<std::string> PySplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit,
                                 bool from_right);
// str.splitlines() (without keepends).
std::vector<std::string> PySplitLines(std::string_view s);
// str.replace(old, new, count); count < 0: all.
std::string PyReplace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);
// str.find / str.rfind as a character index, -1 when absent.
int64_t PyFind(std::string_view s, std::string_view sub, bool from_right);
// str.count: non-overlapping occurrences.
int64_t PyCount(std::string_view s, std::string_view sub);

// Case mapping covers ASCII letters only (Python maps all of Unicode; templates lowercase role names).
std::string AsciiUpper(std::string_view s);
std::string AsciiLower(std::string_view s);
std::string PyCapitalize(std::string_view s);  // str.capitalize
std::string PyTitle(std::string_view s);       // str.title: a letter after a non-letter is uppercased

}  // namespace kvlab::jinja
