#include "kvlab/kv/channel_key_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kvlab/kv/codec_kernels.h"
#include "kvlab/kv/codec_layout.h"
#include "kvlab/ops/cpu_features.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {

// Codes are packed as in kv/codec_layout.h.
using codec_layout::CodeAt;

uint32_t CodeAtBits(int bits, const uint8_t* codes, size_t i) {
  switch (bits) {
    case 8: return codes[i];
    case 4: return CodeAt<4>(codes, i);
    default: return CodeAt<2>(codes, i);
  }
}

template <int kBits>
float CodeDot(const uint8_t* codes, const float* qs, size_t n) {
  float s = 0;
  if constexpr (kBits == 8) {
    for (size_t i = 0; i < n; ++i) s += static_cast<float>(codes[i]) * qs[i];
  } else {
    constexpr size_t kPerByte = 8 / kBits;
    size_t i = 0;
    for (; i + kPerByte <= n; i += kPerByte) {  // whole bytes: unpack without recomputing offsets
      const uint32_t byte = codes[i / kPerByte];
      for (size_t j = 0; j < kPerByte; ++j) {
        s += static_cast<float>((byte >> (j * kBits)) & ((1u << kBits) - 1u)) * qs[i + j];
      }
    }
    for (; i < n; ++i) s += static_cast<float>(CodeAt<kBits>(codes, i)) * qs[i];
  }
  return s;
}

}  // namespace

float ChannelCodeDot(CodecType type, const uint8_t* codes, const float* qs, size_t n) {
  switch (type) {
    case CodecType::kInt8: return CodeDot<8>(codes, qs, n);
    case CodecType::kInt4: return CodeDot<4>(codes, qs, n);
    case CodecType::kInt2: return CodeDot<2>(codes, qs, n);
    default: KVLAB_CHECK(false && "per-channel keys need an integer codec");
  }
  return 0;
}

void ChannelCodeDotRows(CodecType type, const uint8_t* codes, size_t row_bytes, size_t count, const float* qs,
                        size_t n, float* out) {
  if (ActiveSimdLevel() == SimdLevel::kAvx512) {
    const bool done = type == CodecType::kInt4
                          ? kernels::CodeDotRowsInt4SplitAvx512(codes, row_bytes, count, qs, n, out)
                          : kernels::CodeDotRowsLanesAvx512(CodecBits(type), codes, row_bytes, count, qs, n, out);
    if (done) return;
  }
  for (size_t j = 0; j < count; ++j) out[j] = ChannelCodeDot(type, codes + j * row_bytes, qs, n);
}

ChannelKeyBlocks::ChannelKeyBlocks(size_t heads, size_t capacity, size_t head_dim, CodecType type)
    : heads_(heads),
      capacity_(capacity),
      head_dim_(head_dim),
      code_bytes_((head_dim * static_cast<size_t>(CodecBits(type)) + 7) / 8),
      type_(type),
      bits_(CodecBits(type)),
      params_(new float[heads * capacity * 2 * head_dim]),
      refs_(heads * capacity, 0),
      free_(heads * capacity),
      n_free_(heads, 0) {
  KVLAB_CHECK(IsIntegerCodec(type));
  Clear();
}

ChannelKeyBlocks::ChannelKeyBlocks(const ChannelKeyBlocks& other) { *this = other; }

ChannelKeyBlocks& ChannelKeyBlocks::operator=(const ChannelKeyBlocks& other) {
  if (this == &other) return *this;
  heads_ = other.heads_;
  capacity_ = other.capacity_;
  head_dim_ = other.head_dim_;
  code_bytes_ = other.code_bytes_;
  type_ = other.type_;
  bits_ = other.bits_;
  const size_t n = heads_ * capacity_ * 2 * head_dim_;
  params_.reset(n ? new float[n] : nullptr);
  // Only live blocks were ever written; copying the rest would read uninitialized floats.
  for (size_t h = 0; h < heads_; ++h) {
    for (size_t id = 0; id < capacity_; ++id) {
      if (other.refs_[h * capacity_ + id] == 0) continue;
      std::memcpy(params_.get() + (h * capacity_ + id) * 2 * head_dim_, other.Params(h, static_cast<uint32_t>(id)),
                  2 * head_dim_ * sizeof(float));
    }
  }
  refs_ = other.refs_;
  free_ = other.free_;
  n_free_ = other.n_free_;
  live_ = other.live_;
  return *this;
}

void ChannelKeyBlocks::Clear() {
  // Every id free; handed out lowest first so a fresh stream fills the table from the front.
  for (size_t h = 0; h < heads_; ++h) {
    uint32_t* stack = free_.data() + h * capacity_;
    for (size_t i = 0; i < capacity_; ++i) stack[i] = static_cast<uint32_t>(capacity_ - 1 - i);
    n_free_[h] = static_cast<uint32_t>(capacity_);
  }
  std::fill(refs_.begin(), refs_.end(), 0u);
  live_ = 0;
}

uint32_t ChannelKeyBlocks::Allocate(size_t head) {
  // Every live block has an encoded slot, and a head has at most `capacity` slots.
  KVLAB_CHECK(n_free_[head] > 0);
  const uint32_t id = free_[head * capacity_ + --n_free_[head]];
  ++live_;
  return id;
}

void ChannelKeyBlocks::Release(size_t head, uint32_t id) {
  uint32_t& r = refs_[head * capacity_ + id];
  KVLAB_CHECK(r > 0);
  if (--r > 0) return;
  free_[head * capacity_ + n_free_[head]++] = id;
  --live_;
}

void ChannelKeyBlocks::EncodeBlock(size_t head, const float* rows, size_t n, uint8_t* codes_out, uint32_t* ids_out) {
  KVLAB_CHECK(n >= 1);
  const size_t d = head_dim_;
  const uint32_t id = Allocate(head);
  float* scale = params_.get() + (head * capacity_ + id) * 2 * d;
  float* mn = scale + d;
  const float levels = static_cast<float>((1 << bits_) - 1);
  for (size_t c = 0; c < d; ++c) {
    float lo = rows[c], hi = rows[c];
    for (size_t t = 1; t < n; ++t) {
      lo = std::min(lo, rows[t * d + c]);
      hi = std::max(hi, rows[t * d + c]);
    }
    mn[c] = lo;
    scale[c] = (hi - lo) / levels;
  }
  std::memset(codes_out, 0, n * code_bytes_);
  for (size_t t = 0; t < n; ++t) {
    uint8_t* codes = codes_out + t * code_bytes_;
    for (size_t c = 0; c < d; ++c) {
      if (scale[c] == 0.0f) continue;  // constant channel: code 0 decodes to the minimum exactly
      const float q = std::clamp(std::floor((rows[t * d + c] - mn[c]) / scale[c] + 0.5f), 0.0f, levels);
      const size_t bit = c * static_cast<size_t>(bits_);
      codes[bit / 8] |= static_cast<uint8_t>(static_cast<uint32_t>(q) << (bit % 8));
    }
    ids_out[t] = id;
  }
  refs_[head * capacity_ + id] = static_cast<uint32_t>(n);
}

void ChannelKeyBlocks::EncodeExact(size_t head, const float* row, uint8_t* codes_out, uint32_t* id_out) {
  EncodeBlock(head, row, 1, codes_out, id_out);  // one row: min = the row, scale 0, codes 0
}

void ChannelKeyBlocks::Decode(size_t head, uint32_t id, const uint8_t* codes, float* out) const {
  const float* scale = Params(head, id);
  const float* mn = scale + head_dim_;
  for (size_t c = 0; c < head_dim_; ++c) out[c] = mn[c] + static_cast<float>(CodeAtBits(bits_, codes, c)) * scale[c];
}

}  // namespace kvlab
