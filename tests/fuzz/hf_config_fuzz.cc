// libFuzzer target: config.json parsing (io/hf_config.cc) must turn any bytes into a ModelConfig that passes
// ValidateConfig, or a kvlab::Error; never a crash, a hang or another exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kvlab/model/hf_config.h"
#include "kvlab/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const kvlab::ModelConfig c =
        kvlab::ParseHfConfig(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz/config.json");
    // Whatever parsed must give usable RoPE tables for every layer.
    for (size_t l = 0; l < static_cast<size_t>(c.n_layers); ++l) {
      if (c.HasRope()) (void)c.LayerRopeFrequencies(l, /*long_context=*/l % 2 == 1);
    }
  } catch (const kvlab::Error&) {
  }
  return 0;
}
