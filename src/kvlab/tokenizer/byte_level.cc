#include "kvlab/tokenizer/byte_level.h"

#include <array>
#include <cstdint>
#include <unordered_map>

#include "kvlab/tokenizer/utf8.h"

namespace kvlab {
namespace {

struct ByteLevelTables {
  std::array<std::string, 256> to_char;
  std::unordered_map<char32_t, uint8_t> to_byte;

  ByteLevelTables() {
    // Printable Latin-1 bytes stand for themselves; the others are shifted to U+0100 and up, in order.
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; };
    char32_t shifted = 256;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = printable(b) ? static_cast<char32_t>(b) : shifted++;
      to_char[b] = EncodeUtf8(cp);
      to_byte[cp] = static_cast<uint8_t>(b);
    }
  }
};

const ByteLevelTables& Tables() {
  static const ByteLevelTables tables;
  return tables;
}

}  // namespace

const std::string& ByteLevelChar(uint8_t byte) { return Tables().to_char[byte]; }

std::string ByteLevelEncode(std::string_view bytes) {
  const ByteLevelTables& t = Tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.to_char[static_cast<uint8_t>(c)];
  return out;
}

bool ByteLevelDecode(std::string_view text, std::string* out) {
  const ByteLevelTables& t = Tables();
  std::string bytes;
  bytes.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t len;
    const char32_t cp = DecodeUtf8(text, pos, &len);
    auto it = t.to_byte.find(cp);
    if (it == t.to_byte.end() || (cp == 0xFFFD && len == 1)) return false;
    bytes.push_back(static_cast<char>(it->second));
    pos += len;
  }
  out->append(bytes);
  return true;
}

}  // namespace kvlab
