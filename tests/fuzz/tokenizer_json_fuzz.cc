// libFuzzer target: tokenizer.json loading (tokenizer/hf_tokenizer_json.cc and the pipeline pieces) must
// turn any bytes into a working tokenizer or a kvlab::Error; never a crash, a hang or another exception.
// What loads must then encode and decode arbitrary text (the same input's bytes) with ids in range.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "kvlab/tokenizer/hf_tokenizer_json.h"
#include "kvlab/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const nlohmann::json j = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;  // not JSON: ReadJsonFile reports that before the tokenizer sees it
  try {
    const kvlab::HfTokenizer tok(j, kvlab::HfSpecialTokens{}, "fuzz/tokenizer.json");
    // Text with spaces, digits, non-ASCII, a malformed byte and special-looking markup.
    const std::string_view text = "Hi  there, 123 caf\xC3\xA9 \xE2\x96\x81x\xFF<s></s><|endoftext|>\n\t";
    for (bool add : {false, true}) {
      for (bool parse : {false, true}) {
        const std::vector<int32_t> ids = tok.Encode(text, kvlab::EncodeOptions{add, parse});
        for (int32_t id : ids) {
          if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
        }
        (void)tok.Decode(ids, kvlab::DecodeOptions{.skip_special = !parse});
        for (size_t i = 0; i < ids.size(); ++i) (void)tok.DecodeToken(i ? ids[i - 1] : -1, ids[i]);
      }
    }
  } catch (const kvlab::Error&) {
  }
  return 0;
}
