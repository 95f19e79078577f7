#include "kvlab/kv/cache.h"

#include <algorithm>
#include <cstring>

#include "kvlab/util/error.h"

namespace kvlab {

KvCache::KvCache(const KvCacheShape& shape, size_t capacity, const KvCodec& codec)
    : n_layers_(shape.n_layers),
      n_kv_heads_(shape.n_kv_heads),
      head_dim_(shape.head_dim),
      capacity_(capacity),
      codec_(codec),
      quantized_(codec.quantized()),
      // A quantized cache holds f32 rows only for the residual window: that is where its memory saving is.
      f32_slots_(quantized_ ? std::min<size_t>(capacity, codec.residual) : capacity),
      keys_(n_layers_ * n_kv_heads_ * f32_slots_ * head_dim_),
      values_(n_layers_ * n_kv_heads_ * f32_slots_ * head_dim_),
      meta_(n_layers_ * n_kv_heads_ * capacity),
      size_(n_layers_ * n_kv_heads_, 0),
      begin_(n_layers_ * n_kv_heads_, 0) {
  if (!quantized_) return;
  KVLAB_CHECK(codec.group > 0);
  key_per_channel_ = codec.key_axis == KeyAxis::kChannel;
  if (key_per_channel_) {
    KVLAB_CHECK(IsIntegerCodec(codec.k) && codec.residual >= codec.group);
    key_blocks_ = ChannelKeyBlocks(n_layers_ * n_kv_heads_, capacity, head_dim_, codec.k);
    key_block_of_.resize(n_layers_ * n_kv_heads_ * capacity);
  }
  key_row_bytes_ = key_per_channel_ ? key_blocks_.code_bytes() : CodecRowBytes(codec.k, head_dim_, codec.group);
  value_row_bytes_ = CodecRowBytes(codec.v, head_dim_, codec.group);
  key_codes_.resize(n_layers_ * n_kv_heads_ * capacity * key_row_bytes_);
  value_codes_.resize(n_layers_ * n_kv_heads_ * capacity * value_row_bytes_);
  n_quant_.assign(n_layers_ * n_kv_heads_, 0);
  merge_scratch_.resize(4 * head_dim_);
}

size_t KvCache::MaxSize(size_t layer) const {
  size_t m = 0;
  for (size_t h = 0; h < n_kv_heads_; ++h) m = std::max<size_t>(m, Size(layer, h));
  return m;
}

size_t KvCache::FreeSlots() const {
  size_t used = 0;
  for (uint32_t s : size_) used = std::max<size_t>(used, s);
  return capacity_ - used;
}

size_t KvCache::TotalSlots() const {
  size_t total = 0;
  for (uint32_t s : size_) total += s;
  return total;
}

void KvCache::Append(size_t layer, const float* k, const float* v, int32_t pos) {
  if (quantized_) {
    AppendQuantized(layer, k, v);
    for (size_t h = 0; h < n_kv_heads_; ++h) {
      const size_t idx = Index(layer, h);
      meta_[MetaStart(idx) + size_[idx]] = SlotMeta{pos, 1};
      size_[idx] += 1;
    }
    return;
  }
  for (size_t h = 0; h < n_kv_heads_; ++h) {
    const size_t idx = Index(layer, h);
    const size_t slot = size_[idx];
    KVLAB_CHECK(slot < capacity_);
    if (begin_[idx] + slot == capacity_) Recenter(idx);  // amortized: once per (capacity - size) appends
    const size_t off = Offset(layer, h) + slot * head_dim_;
    std::memcpy(keys_.data() + off, k + h * head_dim_, head_dim_ * sizeof(float));
    std::memcpy(values_.data() + off, v + h * head_dim_, head_dim_ * sizeof(float));
    meta_[MetaStart(idx) + slot] = SlotMeta{pos, 1};
    size_[idx] = static_cast<uint32_t>(slot + 1);
  }
}

void KvCache::AppendQuantized(size_t layer, const float* k, const float* v) {
  const size_t d = head_dim_, g = codec_.group;
  for (size_t h = 0; h < n_kv_heads_; ++h) {
    const size_t idx = Index(layer, h);
    KVLAB_CHECK(size_[idx] < capacity_);
    const float* kh = k + h * d;
    const float* vh = v + h * d;
    uint8_t* kq = key_codes_.data() + idx * capacity_ * key_row_bytes_;
    uint8_t* vq = value_codes_.data() + idx * capacity_ * value_row_bytes_;
    uint32_t& nq = n_quant_[idx];
    if (f32_slots_ == 0) {  // no residual window: encode at once
      EncodeRow(codec_.k, kh, d, g, kq + nq * key_row_bytes_);
      EncodeRow(codec_.v, vh, d, g, vq + nq * value_row_bytes_);
      ++nq;
      continue;
    }
    float* keys = keys_.data() + Offset(layer, h);
    float* values = values_.data() + Offset(layer, h);
    size_t n_f32 = size_[idx] - nq;
    if (n_f32 == f32_slots_ && key_per_channel_) {
      // The window is full: its `group` oldest slots leave together, keys as one per-channel block
      // (KIVI), values row by row.
      const size_t m = std::min(g, n_f32);
      key_blocks_.EncodeBlock(idx, keys, m, kq + nq * key_row_bytes_, key_block_of_.data() + idx * capacity_ + nq);
      for (size_t t = 0; t < m; ++t) EncodeRow(codec_.v, values + t * d, d, g, vq + (nq + t) * value_row_bytes_);
      nq += static_cast<uint32_t>(m);
      n_f32 -= m;
      std::memmove(keys, keys + m * d, n_f32 * d * sizeof(float));
      std::memmove(values, values + m * d, n_f32 * d * sizeof(float));
    } else if (n_f32 == f32_slots_) {
      // The window is full: its oldest slot becomes the newest encoded one (the encoded part stays the
      // oldest prefix). The shift is residual × head_dim floats, small next to the attention over the cache.
      EncodeRow(codec_.k, keys, d, g, kq + nq * key_row_bytes_);
      EncodeRow(codec_.v, values, d, g, vq + nq * value_row_bytes_);
      ++nq;
      --n_f32;
      std::memmove(keys, keys + d, n_f32 * d * sizeof(float));
      std::memmove(values, values + d, n_f32 * d * sizeof(float));
    }
    std::memcpy(keys + n_f32 * d, kh, d * sizeof(float));
    std::memcpy(values + n_f32 * d, vh, d * sizeof(float));
  }
}

void KvCache::KeepQuantized(size_t layer, size_t head, std::span<const uint32_t> slots) {
  const size_t idx = Index(layer, head);
  const size_t n = size_[idx], nq = n_quant_[idx], d = head_dim_;
  uint8_t* kq = key_codes_.data() + idx * capacity_ * key_row_bytes_;
  uint8_t* vq = value_codes_.data() + idx * capacity_ * value_row_bytes_;
  float* keys = keys_.data() + Offset(layer, head);
  float* values = values_.data() + Offset(layer, head);
  SlotMeta* meta = meta_.data() + MetaStart(idx);
  // Kept slots are ascending, so the kept encoded slots come first and form the new encoded prefix; each
  // part compacts forward within its own storage (a slot moves, it is never re-encoded: no added error).
  size_t new_nq = 0;
  while (new_nq < slots.size() && slots[new_nq] < nq) ++new_nq;
  uint32_t* block_of = key_per_channel_ ? key_block_of_.data() + idx * capacity_ : nullptr;
  if (key_per_channel_) {  // evicted encoded slots give up their share of their key block
    size_t next = 0;
    for (size_t s = 0; s < nq; ++s) {
      if (next < new_nq && slots[next] == s) {
        ++next;
      } else {
        key_blocks_.Release(idx, block_of[s]);
      }
    }
  }
  size_t out = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const size_t src = slots[i];
    KVLAB_CHECK(src < n && (i == 0 || slots[i - 1] < src));
    if (src != out) {
      if (src < nq) {
        std::memcpy(kq + out * key_row_bytes_, kq + src * key_row_bytes_, key_row_bytes_);
        std::memcpy(vq + out * value_row_bytes_, vq + src * value_row_bytes_, value_row_bytes_);
        if (block_of != nullptr) block_of[out] = block_of[src];
      } else {
        const size_t from = src - nq, to = out - new_nq;
        if (from != to) {
          std::memcpy(keys + to * d, keys + from * d, d * sizeof(float));
          std::memcpy(values + to * d, values + from * d, d * sizeof(float));
        }
      }
      meta[out] = meta[src];
    }
    ++out;
  }
  n_quant_[idx] = static_cast<uint32_t>(new_nq);
  size_[idx] = static_cast<uint32_t>(out);
}

const float* KvCache::KeyRow(size_t layer, size_t head, size_t slot, float* scratch) const {
  const size_t idx = Index(layer, head);
  KVLAB_CHECK(slot < size_[idx]);
  if (!quantized_) return keys_.data() + Offset(layer, head) + slot * head_dim_;
  const size_t nq = n_quant_[idx];
  if (slot >= nq) return keys_.data() + Offset(layer, head) + (slot - nq) * head_dim_;
  const uint8_t* codes = key_codes_.data() + (idx * capacity_ + slot) * key_row_bytes_;
  if (key_per_channel_) {
    key_blocks_.Decode(idx, key_block_of_[idx * capacity_ + slot], codes, scratch);
    return scratch;
  }
  DecodeRow(codec_.k, key_codes_.data() + (idx * capacity_ + slot) * key_row_bytes_, head_dim_, codec_.group,
            scratch);
  return scratch;
}

const float* KvCache::ValueRow(size_t layer, size_t head, size_t slot, float* scratch) const {
  const size_t idx = Index(layer, head);
  KVLAB_CHECK(slot < size_[idx]);
  if (!quantized_) return values_.data() + Offset(layer, head) + slot * head_dim_;
  const size_t nq = n_quant_[idx];
  if (slot >= nq) return values_.data() + Offset(layer, head) + (slot - nq) * head_dim_;
  DecodeRow(codec_.v, value_codes_.data() + (idx * capacity_ + slot) * value_row_bytes_, head_dim_,
            codec_.group, scratch);
  return scratch;
}

QuantizedHead KvCache::Quantized(size_t layer, size_t head) const {
  KVLAB_CHECK(quantized_);
  const size_t idx = Index(layer, head);
  QuantizedHead q;
  q.key_codes = key_codes_.data() + idx * capacity_ * key_row_bytes_;
  q.value_codes = value_codes_.data() + idx * capacity_ * value_row_bytes_;
  q.key_row_bytes = key_row_bytes_;
  q.value_row_bytes = value_row_bytes_;
  q.k = codec_.k;
  q.v = codec_.v;
  q.group = codec_.group;
  q.n_quant = n_quant_[idx];
  if (key_per_channel_) {
    q.key_per_channel = true;
    q.key_block_params = key_blocks_.HeadParams(idx);
    q.key_block_of = key_block_of_.data() + idx * capacity_;
  }
  q.residual_keys = keys_.data() + Offset(layer, head);
  q.residual_values = values_.data() + Offset(layer, head);
  return q;
}

void KvCache::Keep(size_t layer, size_t head, std::span<const uint32_t> slots) {
  Keep(layer, head, slots, index_scratch_);
}

void KvCache::Keep(size_t layer, size_t head, std::span<const uint32_t> slots, std::vector<uint32_t>& scratch) {
  if (quantized_) {
    KeepQuantized(layer, head, slots);
  } else {
    // One compaction for both: the complement's holes.
    DropF32(layer, head, ComplementOf(size_[Index(layer, head)], slots, scratch));
  }
}

void KvCache::Recenter(size_t idx) {
  const size_t n = size_[idx], b = begin_[idx];
  float* keys = keys_.data() + idx * f32_slots_ * head_dim_;
  float* values = values_.data() + idx * f32_slots_ * head_dim_;
  std::memmove(keys, keys + b * head_dim_, n * head_dim_ * sizeof(float));
  std::memmove(values, values + b * head_dim_, n * head_dim_ * sizeof(float));
  std::memmove(meta_.data() + idx * capacity_, meta_.data() + idx * capacity_ + b, n * sizeof(SlotMeta));
  begin_[idx] = 0;
}

namespace {
// With intent to write (PREFETCHW): the lines arrive owned. Eviction writes them, and a head's rows were
// last read by whichever thread attended it; a plain prefetch would leave each store to take its line from
// that core first (measured: the front move of `cluster` took ~1.5x as long). GCC emits PREFETCHW for
// __builtin_prefetch(p, 1) only when the whole file targets it; x86-64 CPUs without it run it as a no-op.
void PrefetchLineForWrite(const char* p) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*p));
#else
  __builtin_prefetch(p, /*rw=*/1);
#endif
}

void PrefetchBytes(const void* p, size_t bytes) {
  constexpr size_t kLine = 64;
  const char* c = static_cast<const char*>(p);
  for (size_t b = 0; b < bytes; b += kLine) PrefetchLineForWrite(c + b);
  if (bytes > 0) PrefetchLineForWrite(c + bytes - 1);  // the last line, when p is not line-aligned
}
}  // namespace

void KvCache::Prefetch(size_t layer, size_t head, size_t first, size_t count) const {
  const size_t idx = Index(layer, head), n = size_[idx];
  if (first >= n) return;
  count = std::min(count, n - first);
  PrefetchBytes(meta_.data() + MetaStart(idx) + first, count * sizeof(SlotMeta));
  // f32 rows: all slots of a plain cache, the slots from n_quant on of a quantized one.
  const size_t nq = quantized_ ? n_quant_[idx] : 0;
  const size_t f32_first = std::max(first, nq), f32_end = first + count;
  if (f32_first >= f32_end) return;
  const size_t row = Offset(layer, head) + (f32_first - nq) * head_dim_;
  const size_t bytes = (f32_end - f32_first) * head_dim_ * sizeof(float);
  PrefetchBytes(keys_.data() + row, bytes);
  PrefetchBytes(values_.data() + row, bytes);
}

void KvCache::MoveF32Slots(size_t layer, size_t head, size_t to, size_t from, size_t count) {
  const size_t d = head_dim_;
  float* keys = MutableKeys(layer, head);
  float* values = MutableValues(layer, head);
  SlotMeta* meta = meta_.data() + MetaStart(Index(layer, head));
  std::memmove(keys + to * d, keys + from * d, count * d * sizeof(float));
  std::memmove(values + to * d, values + from * d, count * d * sizeof(float));
  std::memmove(meta + to, meta + from, count * sizeof(SlotMeta));
}

std::span<const uint32_t> KvCache::ComplementOf(size_t n, std::span<const uint32_t> slots,
                                                std::vector<uint32_t>& out) {
  out.clear();
  size_t next = 0;  // next slot of `slots`
  for (uint32_t i = 0; i < n; ++i) {
    if (next < slots.size() && slots[next] == i) {
      ++next;
    } else {
      out.push_back(i);
    }
  }
  KVLAB_CHECK(next == slots.size());  // every slot live, strictly ascending
  return out;
}

void KvCache::Drop(size_t layer, size_t head, std::span<const uint32_t> slots) {
  if (slots.empty()) return;
  if (!quantized_) {
    DropF32(layer, head, slots);
    return;
  }
  KeepQuantized(layer, head, ComplementOf(size_[Index(layer, head)], slots, index_scratch_));
}

void KvCache::DropF32(size_t layer, size_t head, std::span<const uint32_t> slots) {
  const size_t idx = Index(layer, head);
  const size_t n = size_[idx], m = slots.size();
  if (m == 0) return;
  for (size_t j = 0; j < m; ++j) KVLAB_CHECK(slots[j] < n && (j == 0 || slots[j - 1] < slots[j]));
  auto move = [&](size_t to, size_t from, size_t count) { MoveF32Slots(layer, head, to, from, count); };
  // Move whichever side holds fewer slots: the kept slots before the last hole (toward the back, moving the
  // start forward: the common case, old tokens evicted and the recent window kept, moves only the sinks) or
  // those after the first hole (toward the front). One block move per run of kept slots between holes.
  const size_t before_last = slots[m - 1] - (m - 1), after_first = n - slots[0] - m;
  if (before_last <= after_first) {
    for (size_t j = m; j-- > 0;) {  // the run before hole j moves up past the m - j holes from j on
      const size_t run = j == 0 ? 0 : slots[j - 1] + 1;
      move(run + (m - j), run, slots[j] - run);
    }
    begin_[idx] += static_cast<uint32_t>(m);
  } else {
    for (size_t j = 0; j < m; ++j) {  // the run after hole j moves down past the j + 1 holes up to j
      const size_t run = slots[j] + 1, end = j + 1 < m ? slots[j + 1] : n;
      move(run - (j + 1), run, end - run);
    }
  }
  size_[idx] = static_cast<uint32_t>(n - m);
}

void KvCache::Merge(size_t layer, size_t head, uint32_t into, uint32_t from) {
  const size_t idx = Index(layer, head);
  KVLAB_CHECK(into < size_[idx] && from < size_[idx] && into != from);
  SlotMeta& a = meta_[MetaStart(idx) + into];
  const SlotMeta& b = meta_[MetaStart(idx) + from];
  // Weighted mean in double weights: counts can grow large, and w_a + w_b == 1 keeps the mean exact for
  // equal vectors.
  if (merge_observer_ != nullptr) merge_observer_->OnMerge(layer, head, a.pos, b.pos);
  const double total = static_cast<double>(a.count) + b.count;
  const float wa = static_cast<float>(a.count / total), wb = static_cast<float>(b.count / total);
  if (quantized_) {
    MergeQuantized(layer, head, into, from, wa, wb);
    a.count += b.count;
    return;
  }
  float* keys = MutableKeys(layer, head);
  float* values = MutableValues(layer, head);
  float* ka = keys + into * head_dim_;
  float* va = values + into * head_dim_;
  const float* kb = keys + from * head_dim_;
  const float* vb = values + from * head_dim_;
  for (size_t i = 0; i < head_dim_; ++i) {
    ka[i] = wa * ka[i] + wb * kb[i];
    va[i] = wa * va[i] + wb * vb[i];
  }
  a.count += b.count;
}

// Summary slots over encoded slots: decode both, average in f32, write back in `into`'s own storage (an
// encoded `into` is re-encoded: a merge adds one rounding, as any write to an encoded slot must).
void KvCache::MergeQuantized(size_t layer, size_t head, uint32_t into, uint32_t from, float wa, float wb) {
  const size_t d = head_dim_, idx = Index(layer, head);
  float* ka_buf = merge_scratch_.data();
  float* kb_buf = ka_buf + d;
  float* va_buf = kb_buf + d;
  float* vb_buf = va_buf + d;
  const float* ka = KeyRow(layer, head, into, ka_buf);
  const float* kb = KeyRow(layer, head, from, kb_buf);
  const float* va = ValueRow(layer, head, into, va_buf);
  const float* vb = ValueRow(layer, head, from, vb_buf);
  // Results go to the scratch rows of `into` (ka/va may point into the cache; element-wise is safe).
  for (size_t i = 0; i < d; ++i) {
    ka_buf[i] = wa * ka[i] + wb * kb[i];
    va_buf[i] = wa * va[i] + wb * vb[i];
  }
  const size_t nq = n_quant_[idx];
  if (into < nq && key_per_channel_) {
    // The merged key is exact in a one-slot block of its own (a summary slot is rare; its old block may
    // not cover the mean of two tokens from different blocks).
    uint32_t& id = key_block_of_[idx * capacity_ + into];
    key_blocks_.Release(idx, id);
    key_blocks_.EncodeExact(idx, ka_buf, key_codes_.data() + (idx * capacity_ + into) * key_row_bytes_, &id);
    EncodeRow(codec_.v, va_buf, d, codec_.group,
              value_codes_.data() + (idx * capacity_ + into) * value_row_bytes_);
  } else if (into < nq) {
    EncodeRow(codec_.k, ka_buf, d, codec_.group, key_codes_.data() + (idx * capacity_ + into) * key_row_bytes_);
    EncodeRow(codec_.v, va_buf, d, codec_.group,
              value_codes_.data() + (idx * capacity_ + into) * value_row_bytes_);
  } else {
    std::memcpy(keys_.data() + Offset(layer, head) + (into - nq) * d, ka_buf, d * sizeof(float));
    std::memcpy(values_.data() + Offset(layer, head) + (into - nq) * d, va_buf, d * sizeof(float));
  }
}

void KvCache::Clear() {
  std::fill(size_.begin(), size_.end(), 0u);
  std::fill(begin_.begin(), begin_.end(), 0u);
  std::fill(n_quant_.begin(), n_quant_.end(), 0u);
  if (key_per_channel_) key_blocks_.Clear();
}

size_t KvCache::Bytes() const {
  const size_t meta = TotalSlots() * sizeof(SlotMeta);
  if (!quantized_) return TotalSlots() * 2 * head_dim_ * sizeof(float) + meta;
  size_t encoded = 0;
  for (uint32_t nq : n_quant_) encoded += nq;
  // Per-channel keys add each encoded slot's block id and the parameters of the live blocks.
  const size_t channel_blocks = key_per_channel_ ? encoded * sizeof(uint32_t) + key_blocks_.LiveBytes() : 0;
  return encoded * (key_row_bytes_ + value_row_bytes_) + (TotalSlots() - encoded) * 2 * head_dim_ * sizeof(float) +
         meta + channel_blocks;
}

size_t KvCache::AllocatedBytes() const {
  return (keys_.size() + values_.size()) * sizeof(float) + meta_.size() * sizeof(SlotMeta) +
         size_.size() * sizeof(uint32_t) + key_codes_.size() + value_codes_.size() +
         (n_quant_.size() + merge_scratch_.size() + begin_.size() + key_block_of_.size()) * 4 +
         (key_per_channel_ ? key_blocks_.AllocatedBytes() : 0);
}

std::vector<std::span<const std::byte>> KvCache::RowStores() const {
  std::vector<std::span<const std::byte>> stores;
  auto add = [&](const auto& v) {
    if (!v.empty()) stores.push_back(std::as_bytes(std::span(v)));
  };
  add(keys_);
  add(values_);
  add(key_codes_);
  add(value_codes_);
  return stores;
}

}  // namespace kvlab
