// GPT-2's byte-level alphabet: every byte gets a printable stand-in character (bytes_to_unicode in
// openai/gpt-2 encoder.py), so BPE can work on text while covering all 256 byte values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kvlab {

// The UTF-8 stand-in for one byte, e.g. ' ' -> "Ġ", '\n' -> "Ċ", 'a' -> "a".
const std::string& ByteLevelChar(uint8_t byte);

// Maps every byte of `bytes` to its stand-in character.
std::string ByteLevelEncode(std::string_view bytes);

// Inverse of ByteLevelEncode for one token. Returns false (and leaves `out` untouched) when `text` holds
// a character outside the alphabet; the caller then uses the text as is, like Hugging Face's decoder.
bool ByteLevelDecode(std::string_view text, std::string* out);

}  // namespace kvlab
