// Unicode normalization forms for Hugging Face normalizers (NFC, NFD, NFKC, NFKD), lower-casing and accent
// stripping, by utf8proc. Text that is not valid UTF-8 is normalized run by run: the valid runs between
// malformed bytes are normalized, the malformed bytes pass through unchanged (a byte-level tokenizer can
// still encode them).
#pragma once

#include <string>
#include <string_view>

namespace kvlab {

enum class UnicodeForm { kNfc, kNfd, kNfkc, kNfkd };

std::string NormalizeUnicode(std::string_view text, UnicodeForm form);
// Full Unicode lower-casing, code point by code point (Rust's str::to_lowercase without its final-sigma
// rule).
std::string LowercaseUnicode(std::string_view text);
// Removes combining marks (category Mn), as tokenizers' StripAccents does on NFD text.
std::string StripCombiningMarks(std::string_view text);

}  // namespace kvlab
