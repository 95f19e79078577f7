// GGUF block formats (tensor/ggml_quants.h): blocks built here from their logical fields (scales, mins,
// integer quants) by a packer written independently of the dequantizers, checked value by value against
// the plain formula of each type; plus a few blocks packed and solved by hand.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kvlab/tensor/dtype.h"
#include "kvlab/tensor/ggml_quants.h"
#include "kvlab/tensor/q8_rows.h"

namespace kvlab {
namespace {

using Bytes = std::vector<uint8_t>;

void PutU16(Bytes& b, size_t at, uint16_t v) { std::memcpy(b.data() + at, &v, 2); }

std::vector<float> Dequantized(DType t, const Bytes& blocks) {
  const ggml::BlockGeometry g = ggml::GeometryOf(t);
  const size_t n = blocks.size() / g.bytes * g.elements;
  std::vector<float> out(n);
  ConvertToF32(t, blocks.data(), n, out.data());
  return out;
}

// ---- Logical blocks and the formulas they stand for --------------------------------------------------

// A 32-element block: f16 scale d, f16 offset m (the *_1 types), unsigned quants q (4 or 5 bits).
struct Small {
  uint16_t d = 0, m = 0;
  uint8_t q[32] = {};
};

// Q4_0 / Q4_1 / Q5_0 / Q5_1 in ggml's byte order: [d][m?][qh?][qs]. Element j < 16 sits in the low nibble
// of qs[j], element j + 16 in its high nibble; the fifth bit of element j is bit j of qh.
Bytes PackSmall(DType t, const Small& s) {
  const bool has_m = t == DType::kQ4_1 || t == DType::kQ5_1;
  const bool five = t == DType::kQ5_0 || t == DType::kQ5_1;
  Bytes b(ggml::GeometryOf(t).bytes, 0);
  size_t at = 0;
  PutU16(b, at, s.d);
  at += 2;
  if (has_m) {
    PutU16(b, at, s.m);
    at += 2;
  }
  if (five) {
    for (int j = 0; j < 32; ++j) b[at + j / 8] |= static_cast<uint8_t>(((s.q[j] >> 4) & 1) << (j % 8));
    at += 4;
  }
  for (int j = 0; j < 16; ++j) b[at + j] = static_cast<uint8_t>((s.q[j] & 15) | ((s.q[j + 16] & 15) << 4));
  return b;
}

float SmallValue(DType t, const Small& s, int j) {
  const float d = F16ToF32(s.d), m = F16ToF32(s.m);
  const float q = static_cast<float>(s.q[j]);
  switch (t) {
    case DType::kQ4_0: return d * (q - 8.0f);
    case DType::kQ5_0: return d * (q - 16.0f);
    default: {
      const float scaled = d * q;
      return scaled + m;
    }
  }
}

// A 256-element K block: super-scales d and dmin, per sub-block scales and mins (16 sub-blocks of 16 for
// Q2_K, Q3_K and Q6_K; 8 of 32 for Q4_K and Q5_K), and the integer quants.
struct KBlock {
  uint16_t d = 0, dmin = 0;
  int scale[16] = {};  // Q2_K 0..15, Q3_K 0..63 (stored with bias 32), Q4_K/Q5_K 0..63, Q6_K -128..127
  int min[16] = {};    // Q2_K 0..15, Q4_K/Q5_K 0..63
  int q[256] = {};     // Q2_K 0..3, Q3_K -4..3, Q4_K 0..15, Q5_K 0..31, Q6_K 0..63 (stored with bias 32)
};

size_t SubBlocks(DType t) { return t == DType::kQ4_K || t == DType::kQ5_K ? 8 : 16; }

// The formula of each K type for element e: (d * scale) * q, minus (dmin * min) where there are mins.
float KValue(DType t, const KBlock& k, int e) {
  const int sub = e / (256 / static_cast<int>(SubBlocks(t)));
  const float d = F16ToF32(k.d), dmin = F16ToF32(k.dmin);
  switch (t) {
    case DType::kQ3_K: {
      const float dl = d * static_cast<float>(k.scale[sub] - 32);
      return dl * static_cast<float>(k.q[e]);
    }
    case DType::kQ6_K: {
      const float dl = d * static_cast<float>(k.scale[sub]);
      return dl * static_cast<float>(k.q[e] - 32);
    }
    default: {
      const float dl = d * static_cast<float>(k.scale[sub]);
      const float ml = dmin * static_cast<float>(k.min[sub]);
      const float scaled = dl * static_cast<float>(k.q[e]);
      return scaled - ml;
    }
  }
}

// Position of element e in the 2-bit planes of Q2_K / Q3_K: each half of 128 uses 32 bytes; bit pair g
// (0..3) of byte k of the half holds element 128 * half + 32 * g + k.
struct Plane2 {
  int byte, shift, plane;  // plane: 0..7 over the block (Q3_K's hmask bit)
};
Plane2 TwoBitPlace(int e) {
  const int half = e / 128, g = (e % 128) / 32, k = e % 32;
  return {32 * half + k, 2 * g, 4 * half + g};
}

// Q4_K / Q5_K: 6-bit scale and min j. j < 4 in the low 6 bits of bytes j and j + 4; j >= 4 as nibbles of
// byte j + 4, with their top two bits in the spare top bits of bytes j - 4 (scale) and j (min).
void PackScaleMinK4(const int scale[8], const int min[8], uint8_t out[12]) {
  std::memset(out, 0, 12);
  for (int j = 0; j < 4; ++j) {
    out[j] |= static_cast<uint8_t>(scale[j]);
    out[j + 4] |= static_cast<uint8_t>(min[j]);
  }
  for (int j = 4; j < 8; ++j) {
    out[j + 4] = static_cast<uint8_t>((scale[j] & 15) | ((min[j] & 15) << 4));
    out[j - 4] |= static_cast<uint8_t>((scale[j] >> 4) << 6);
    out[j] |= static_cast<uint8_t>((min[j] >> 4) << 6);
  }
}

Bytes PackK(DType t, const KBlock& k) {
  Bytes b(ggml::GeometryOf(t).bytes, 0);
  switch (t) {
    case DType::kQ2_K: {  // scales[16] | qs[64] | d | dmin
      for (int s = 0; s < 16; ++s) b[s] = static_cast<uint8_t>(k.scale[s] | (k.min[s] << 4));
      for (int e = 0; e < 256; ++e) {
        const Plane2 p = TwoBitPlace(e);
        b[16 + p.byte] |= static_cast<uint8_t>(k.q[e] << p.shift);
      }
      PutU16(b, 80, k.d);
      PutU16(b, 82, k.dmin);
      break;
    }
    case DType::kQ3_K: {  // hmask[32] | qs[64] | scales[12] | d
      for (int e = 0; e < 256; ++e) {
        const Plane2 p = TwoBitPlace(e);
        const bool high = k.q[e] >= 0;  // high bit set: q = low; clear: q = low - 4
        const int low = high ? k.q[e] : k.q[e] + 4;
        b[32 + p.byte] |= static_cast<uint8_t>(low << p.shift);
        if (high) b[e % 32] |= static_cast<uint8_t>(1 << p.plane);
      }
      for (int j = 0; j < 16; ++j) {
        const int low = k.scale[j] & 15, top = k.scale[j] >> 4;
        b[96 + j % 8] |= static_cast<uint8_t>(j < 8 ? low : low << 4);
        b[96 + 8 + j % 4] |= static_cast<uint8_t>(top << (2 * (j / 4)));
      }
      PutU16(b, 108, k.d);
      break;
    }
    case DType::kQ4_K:
    case DType::kQ5_K: {  // d | dmin | scales[12] | (qh[32]) | qs[128]
      PutU16(b, 0, k.d);
      PutU16(b, 2, k.dmin);
      PackScaleMinK4(k.scale, k.min, b.data() + 4);
      const size_t qs = t == DType::kQ4_K ? 16 : 48;
      for (int e = 0; e < 256; ++e) {  // run of 64: low nibbles of 32 bytes, then their high nibbles
        const int run = e / 64, nibble = (e % 64) / 32, l = e % 32;
        b[qs + 32 * run + l] |= static_cast<uint8_t>((k.q[e] & 15) << (4 * nibble));
        if (t == DType::kQ5_K) b[16 + l] |= static_cast<uint8_t>(((k.q[e] >> 4) & 1) << (2 * run + nibble));
      }
      break;
    }
    case DType::kQ6_K: {  // ql[128] | qh[64] | scales[16] | d
      for (int e = 0; e < 256; ++e) {
        const int half = e / 128, g = (e % 128) / 32, l = e % 32;
        b[64 * half + 32 * (g % 2) + l] |= static_cast<uint8_t>((k.q[e] & 15) << (g < 2 ? 0 : 4));
        b[128 + 32 * half + l] |= static_cast<uint8_t>((k.q[e] >> 4) << (2 * g));
      }
      for (int s = 0; s < 16; ++s) b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(k.scale[s]));
      PutU16(b, 208, k.d);
      break;
    }
    default: ADD_FAILURE() << "not a K type";
  }
  return b;
}

// ---- Random blocks over each type's whole range, against the formulas ----------------------------------

// A finite f16 of either sign over many binades, subnormals included.
uint16_t RandomF16(std::mt19937& rng) {
  for (;;) {
    const auto h = static_cast<uint16_t>(rng() & 0xffff);
    if (((h >> 10) & 31) != 31) return h;
  }
}

TEST(GgmlQuants, SmallBlocksMatchTheirFormula) {
  std::mt19937 rng(7);
  for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1}) {
    const int levels = t == DType::kQ5_0 || t == DType::kQ5_1 ? 32 : 16;
    for (int trial = 0; trial < 200; ++trial) {
      Small s;
      s.d = RandomF16(rng);
      s.m = RandomF16(rng);
      for (uint8_t& q : s.q) q = static_cast<uint8_t>(rng() % levels);
      if (trial == 0) std::memset(s.q, 0, 32);                   // every quant at the bottom
      if (trial == 1) std::memset(s.q, levels - 1, 32);          // every quant at the top
      const std::vector<float> y = Dequantized(t, PackSmall(t, s));
      for (int j = 0; j < 32; ++j) ASSERT_EQ(y[j], SmallValue(t, s, j)) << DTypeName(t) << " element " << j;
    }
  }
}

KBlock RandomK(DType t, std::mt19937& rng) {
  KBlock k;
  k.d = RandomF16(rng);
  k.dmin = RandomF16(rng);
  for (int s = 0; s < 16; ++s) {
    switch (t) {
      case DType::kQ2_K:
        k.scale[s] = static_cast<int>(rng() % 16);
        k.min[s] = static_cast<int>(rng() % 16);
        break;
      case DType::kQ6_K: k.scale[s] = static_cast<int>(rng() % 256) - 128; break;
      default:
        k.scale[s] = static_cast<int>(rng() % 64);
        k.min[s] = static_cast<int>(rng() % 64);
    }
  }
  for (int& q : k.q) {
    switch (t) {
      case DType::kQ2_K: q = static_cast<int>(rng() % 4); break;
      case DType::kQ3_K: q = static_cast<int>(rng() % 8) - 4; break;
      case DType::kQ4_K: q = static_cast<int>(rng() % 16); break;
      case DType::kQ5_K: q = static_cast<int>(rng() % 32); break;
      default: q = static_cast<int>(rng() % 64);
    }
  }
  return k;
}

TEST(GgmlQuants, KBlocksMatchTheirFormula) {
  std::mt19937 rng(11);
  for (DType t : {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    for (int trial = 0; trial < 100; ++trial) {
      KBlock k = RandomK(t, rng);
      if (trial == 0) {  // the extremes of every 6-bit field: all top bits set in the packed scales
        for (int s = 0; s < 16; ++s) {
          k.scale[s] = t == DType::kQ2_K ? 15 : t == DType::kQ6_K ? -128 : 63;
          k.min[s] = t == DType::kQ2_K ? 15 : 63;
        }
      }
      // Two blocks back to back: the second is the first with a different d, so a dequantizer that does not
      // step through blocks (or reads the wrong block's super-scale) fails.
      Bytes two = PackK(t, k);
      KBlock k2 = k;
      k2.d = RandomF16(rng);
      const Bytes second = PackK(t, k2);
      two.insert(two.end(), second.begin(), second.end());
      const std::vector<float> y = Dequantized(t, two);
      for (int e = 0; e < 256; ++e) {
        ASSERT_EQ(y[e], KValue(t, k, e)) << DTypeName(t) << " trial " << trial << " element " << e;
        ASSERT_EQ(y[256 + e], KValue(t, k2, e)) << DTypeName(t) << " second block, element " << e;
      }
    }
  }
}

// ---- Blocks packed and solved by hand --------------------------------------------------------------------

constexpr uint16_t kHalf = 0x3800, kQuarter = 0x3400, kOne = 0x3c00, kTwo = 0x4000, kMinusOneAndHalf = 0xbe00;

TEST(GgmlQuants, HandPackedSmallBlocks) {
  {  // Q4_0, d 0.5: qs[0] = 0x1f -> element 0 nibble 15 -> 3.5, element 16 nibble 1 -> -3.5; zeros -> -4
    Bytes b(18, 0);
    PutU16(b, 0, kHalf);
    b[2] = 0x1f;
    const auto y = Dequantized(DType::kQ4_0, b);
    EXPECT_EQ(y[0], 3.5f);
    EXPECT_EQ(y[16], -3.5f);
    EXPECT_EQ(y[1], -4.0f);
  }
  {  // Q4_1, d 0.25, m -1: qs[3] = 0xa2 -> element 3 = 2 * 0.25 - 1, element 19 = 10 * 0.25 - 1
    Bytes b(20, 0);
    PutU16(b, 0, kQuarter);
    PutU16(b, 2, 0xbc00);
    b[4 + 3] = 0xa2;
    const auto y = Dequantized(DType::kQ4_1, b);
    EXPECT_EQ(y[3], -0.5f);
    EXPECT_EQ(y[19], 1.5f);
    EXPECT_EQ(y[0], -1.0f);
  }
  {  // Q5_0, d -1.5: element 20 = high nibble of qs[4] (7) + fifth bit (qh bit 20 = byte 2 bit 4) -> 23 - 16
    Bytes b(22, 0);
    PutU16(b, 0, kMinusOneAndHalf);
    b[2 + 2] = 0x10;
    b[6 + 4] = 0x70;
    const auto y = Dequantized(DType::kQ5_0, b);
    EXPECT_EQ(y[20], -10.5f);  // 7 * -1.5
    EXPECT_EQ(y[4], 24.0f);    // -16 * -1.5
  }
  {  // Q5_1, d 0.5, m -8: the same bits -> 23 * 0.5 - 8
    Bytes b(24, 0);
    PutU16(b, 0, kHalf);
    PutU16(b, 2, 0xc800);  // -8
    b[4 + 2] = 0x10;
    b[8 + 4] = 0x70;
    EXPECT_EQ(Dequantized(DType::kQ5_1, b)[20], 3.5f);
  }
}

TEST(GgmlQuants, HandPackedKBlocks) {
  {  // Q2_K, d 0.5, dmin 0.25: element 100 = half 0, bit pair 3 of qs[4]; sub-block 6, scales[6] = 0x2a
    Bytes b(84, 0);
    b[6] = 0x2a;         // scale 10, min 2
    b[16 + 4] = 0xc0;    // q = 3
    PutU16(b, 80, kHalf);
    PutU16(b, 82, kQuarter);
    const auto y = Dequantized(DType::kQ2_K, b);
    EXPECT_EQ(y[100], 14.5f);  // 0.5 * 10 * 3 - 0.25 * 2
    EXPECT_EQ(y[96], -0.5f);   // same sub-block, q = 0
  }
  {  // Q3_K, d 0.25: scale 13 = 39 (low nibble: high nibble of byte 5; top bits: byte 9 bits 6-7) -> 7.
     // Element 208 = half 1, bit pair 2, byte 16 of the half: qs[48] bits 4-5 = 2, hmask[16] bit 6 clear -> -2
    Bytes b(110, 0);
    b[96 + 5] = 0x70;
    b[96 + 9] = 0x80;
    b[32 + 48] = 0x20;
    PutU16(b, 108, kQuarter);
    const auto y = Dequantized(DType::kQ3_K, b);
    EXPECT_EQ(y[208], -3.5f);  // 0.25 * 7 * -2
    b[16] = 0x40;              // hmask bit set: q = 2
    EXPECT_EQ(Dequantized(DType::kQ3_K, b)[208], 3.5f);
    EXPECT_EQ(y[0], 32.0f);  // scale 0 -> -32 (d * -32 = -8), low bits 0 with the high bit clear -> q = -4
  }
  {  // Q4_K, d 1, dmin 0.5: sub-block 5 has scale 53 = 0b110101 and min 39 = 0b100111, packed as byte 9 =
     // 0x75 (low nibbles), the top bits 0b11 in byte 1 and 0b10 in byte 5. Element 160 = run 2, high
     // nibbles of qs[64..95]: qs[64] = 0x30 -> q 3 -> 53 * 3 - 0.5 * 39
    Bytes b(144, 0);
    PutU16(b, 0, kOne);
    PutU16(b, 2, kHalf);
    b[4 + 9] = 0x75;
    b[4 + 1] = 0xc0;
    b[4 + 5] = 0x80;
    b[16 + 64] = 0x30;
    const auto y = Dequantized(DType::kQ4_K, b);
    EXPECT_EQ(y[160], 139.5f);
    EXPECT_EQ(y[128], 0.0f);  // sub-block 4: scale 0, min 0 (bytes 0 and 4 carry only sub-block 5's bits)
    EXPECT_EQ(y[32], 0.0f);   // sub-block 1: low 6 bits of bytes 1 and 5 are 0 despite their top bits
  }
  {  // Q5_K, d 1, dmin 2: element 70 = run 1, low nibble of qs[38] (11) + bit 2 of qh[6] -> 27; sub-block 2
     // has scale 5 (byte 2) and min 3 (byte 6) -> 5 * 27 - 2 * 3
    Bytes b(176, 0);
    PutU16(b, 0, kOne);
    PutU16(b, 2, kTwo);
    b[4 + 2] = 5;
    b[4 + 6] = 3;
    b[16 + 6] = 0x04;
    b[48 + 38] = 0x0b;
    EXPECT_EQ(Dequantized(DType::kQ5_K, b)[70], 129.0f);
  }
  {  // Q6_K, d 2: element 200 = half 1, group 2, l 8: high nibble of ql[72] (5), bits 4-5 of qh[40] (2)
     // -> 37 - 32 = 5; scale scales[12] = -3 -> 2 * -3 * 5
    Bytes b(210, 0);
    b[72] = 0x50;
    b[128 + 40] = 0x20;
    b[192 + 12] = static_cast<uint8_t>(-3);
    PutU16(b, 208, kTwo);
    const auto y = Dequantized(DType::kQ6_K, b);
    EXPECT_EQ(y[200], -30.0f);
    EXPECT_EQ(y[192], 192.0f);  // same sub-block, all bits 0 -> q = -32 -> (2 * -3) * -32
  }
}

// ---- Exact repacking to kvlab's q8 rows ------------------------------------------------------------------

TEST(GgmlQuants, Q4_0AndQ5_0RepackToQ8Exactly) {
  std::mt19937 rng(3);
  constexpr size_t n = 96;  // 3 blocks
  for (DType t : {DType::kQ4_0, DType::kQ5_0, DType::kQ8_0}) {
    ASSERT_TRUE(RepacksExactlyToQ8(t));
    const size_t block_bytes = ggml::GeometryOf(t).bytes;
    for (int trial = 0; trial < 50; ++trial) {
      Bytes src(DTypeBytes(t, n));  // [3 blocks]: any bytes are a valid block once the scale is finite
      for (uint8_t& x : src) x = static_cast<uint8_t>(rng());
      for (size_t b = 0; b < n / 32; ++b) PutU16(src, b * block_bytes, RandomF16(rng));
      std::vector<float> want(n), got(n);
      ConvertToF32(t, src.data(), n, want.data());
      Bytes row(Q8RowBytes(n));
      RepackRowToQ8(t, src.data(), n, row.data());
      DecodeQ8Row(row.data(), n, got.data());
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << DTypeName(t) << " element " << i;
    }
  }
  for (DType t : {DType::kQ4_1, DType::kQ5_1, DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K,
                  DType::kQ6_K, DType::kF32}) {
    EXPECT_FALSE(RepacksExactlyToQ8(t)) << DTypeName(t);
  }
}

TEST(GgmlQuants, GeometryAndNames) {
  EXPECT_EQ(DTypeBytes(DType::kQ4_K, 512), 288u);
  EXPECT_EQ(DTypeBytes(DType::kQ6_K, 256), 210u);
  EXPECT_EQ(DTypeBytes(DType::kQ5_1, 64), 48u);
  EXPECT_EQ(DTypeName(DType::kQ3_K), "q3_k");
  EXPECT_FALSE(ggml::IsBlockQuantized(DType::kQ8));
  EXPECT_TRUE(ggml::IsBlockQuantized(DType::kQ2_K));
}

}  // namespace
}  // namespace kvlab
