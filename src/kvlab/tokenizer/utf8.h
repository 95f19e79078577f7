// UTF-8 helpers shared by the tokenizers. They never throw: tokenizers see arbitrary user bytes, and a
// malformed sequence must still be split into something (one byte at a time), never rejected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kvlab {

// Length of the UTF-8 sequence a lead byte announces (1 for ASCII and for stray continuation bytes),
// capped at the bytes that remain. This is how llama.cpp and llama2.c cut text into characters.
size_t Utf8SeqLen(std::string_view text, size_t pos);

// Decodes the code point at `pos` and sets `len` to the bytes it took. A malformed or truncated sequence
// yields U+FFFD with len 1, so a caller that advances by `len` always makes progress.
char32_t DecodeUtf8(std::string_view text, size_t pos, size_t* len);

void AppendUtf8(char32_t cp, std::string* out);
std::string EncodeUtf8(char32_t cp);

// Unicode White_Space (Rust's char::is_whitespace, which tokenizers' Strip and lstrip/rstrip use).
bool IsUnicodeWhitespace(char32_t c);

// Replaces every malformed sequence with U+FFFD (what Python's bytes.decode(errors="replace") does).
std::string SanitizeUtf8(std::string_view text);

// "'x' (U+0078)" for error messages; control characters are shown only by their code point.
std::string DescribeChar(std::string_view utf8_char);

}  // namespace kvlab
