#include "kvlab/tensor/q8_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kvlab/tensor/dtype.h"
#include "kvlab/tensor/ggml_quants.h"
#include "kvlab/util/error.h"

namespace kvlab {

void EncodeQ8Row(const float* x, size_t n, uint8_t* row) {
  const size_t nb = Q8Blocks(n);
  uint8_t* quants = row;                // [nb*32]
  uint8_t* scales = row + nb * kQ8Block;  // [nb] f16, byte-addressed (rows need not be 2-byte aligned)
  for (size_t b = 0; b < nb; ++b) {
    const size_t i0 = b * kQ8Block, len = std::min(kQ8Block, n - i0);
    float amax = 0.0f;
    for (size_t i = 0; i < len; ++i) amax = std::max(amax, std::fabs(x[i0 + i]));
    const uint16_t d16 = F32ToF16(amax / 127.0f);
    // Quantize with the scale as stored (f16), so that decode(encode(x)) is as close as it can be.
    const float d = F16ToF32(d16);
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    for (size_t i = 0; i < kQ8Block; ++i) {
      const float q = i < len ? std::nearbyint(x[i0 + i] * inv) : 0.0f;
      quants[i0 + i] = static_cast<uint8_t>(static_cast<int>(std::clamp(q, -127.0f, 127.0f)) + 128);
    }
    std::memcpy(scales + 2 * b, &d16, 2);
  }
}

void DecodeQ8Row(const uint8_t* row, size_t n, float* out) {
  const size_t nb = Q8Blocks(n);
  const uint8_t* scales = row + nb * kQ8Block;
  for (size_t b = 0; b < nb; ++b) {
    uint16_t d16;
    std::memcpy(&d16, scales + 2 * b, 2);
    const float d = F16ToF32(d16);
    const size_t i0 = b * kQ8Block, len = std::min(kQ8Block, n - i0);
    for (size_t i = 0; i < len; ++i) out[i0 + i] = d * static_cast<float>(static_cast<int>(row[i0 + i]) - 128);
  }
}

void RepackQ8_0Row(const uint8_t* q8_0, size_t n, uint8_t* row) {
  const size_t nb = n / kQ8Block;
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* block = q8_0 + b * kQ8_0BlockBytes;  // [f16 scale][32 int8]
    std::memcpy(row + nb * kQ8Block + 2 * b, block, 2);
    for (size_t i = 0; i < kQ8Block; ++i) {
      row[b * kQ8Block + i] = static_cast<uint8_t>(static_cast<int>(static_cast<int8_t>(block[2 + i])) + 128);
    }
  }
}

namespace {
// Block b of a row of 32-element ggml blocks, as its f16 scale and 32 signed quants, into q8 block b.
void PutQ8Block(size_t nb, size_t b, uint16_t d16, const int8_t q[kQ8Block], uint8_t* row) {
  std::memcpy(row + nb * kQ8Block + 2 * b, &d16, 2);
  for (size_t i = 0; i < kQ8Block; ++i) row[b * kQ8Block + i] = static_cast<uint8_t>(q[i] + 128);
}

template <typename Block, void (*Unpack)(const Block&, int8_t*)>
void RepackBlocks(const uint8_t* src, size_t n, uint8_t* row) {
  const size_t nb = n / kQ8Block;
  for (size_t b = 0; b < nb; ++b) {
    Block block;
    std::memcpy(&block, src + b * sizeof(Block), sizeof(Block));
    int8_t q[kQ8Block];
    Unpack(block, q);
    PutQ8Block(nb, b, block.d, q, row);
  }
}
}  // namespace

bool RepacksExactlyToQ8(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ5_0; }

void RepackRowToQ8(DType t, const uint8_t* src, size_t n, uint8_t* row) {
  KVLAB_CHECK(n % kQ8Block == 0);
  if (t == DType::kQ8_0) {
    RepackQ8_0Row(src, n, row);
  } else if (t == DType::kQ4_0) {
    RepackBlocks<ggml::BlockQ4_0, ggml::UnpackQ4_0>(src, n, row);
  } else {
    KVLAB_CHECK(t == DType::kQ5_0);
    RepackBlocks<ggml::BlockQ5_0, ggml::UnpackQ5_0>(src, n, row);
  }
}

}  // namespace kvlab
