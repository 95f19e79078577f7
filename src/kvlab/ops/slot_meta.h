// SlotMeta: what attention needs to know about one cached key/value slot besides its vectors. The cache
// stores one per slot (kv/cache.h); the attention kernels read them as a plain span, so the type lives in
// ops/ and the kernels never see the cache.
#pragma once

#include <cstdint>

namespace kvlab {

struct SlotMeta {
  int32_t pos = 0;     // original token position (RoPE was applied at this position)
  uint32_t count = 1;  // tokens this slot stands for (> 1 for merged summary slots)
};

}  // namespace kvlab
