// Weight-dtype kernels (bf16, f16, q8 and f32 through the same interface) against an f64 reference on random
// inputs, at every SIMD level this CPU has, with odd sizes, unaligned rows and unaligned tails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "kvlab/ops/cpu_features.h"
#include "kvlab/ops/matmul.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/ops/threads.h"
#include "kvlab/ops/work_shares.h"
#include "kvlab/tensor/dtype.h"
#include "kvlab/tensor/q8_rows.h"

namespace kvlab {
namespace {

std::vector<float> RandomVector(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<SimdLevel> Levels() {
  std::vector<SimdLevel> out = {SimdLevel::kScalar};
  const SimdLevel best = DetectSimdLevel();
  if (best >= SimdLevel::kAvx2) out.push_back(SimdLevel::kAvx2);
  if (best >= SimdLevel::kAvx512) out.push_back(SimdLevel::kAvx512);
  return out;
}

// `rows` rows of `cols` random values encoded as t, starting one byte past an aligned address and `stride`
// bytes apart (row bytes + 3), so no row is aligned. Also returns the values the encoding holds, in f64.
struct EncodedMatrix {
  std::vector<uint8_t> storage;
  const uint8_t* data = nullptr;
  size_t stride = 0;
  std::vector<double> values;  // [rows][cols] decoded
};

EncodedMatrix Encode(DType t, size_t rows, size_t cols, std::mt19937& rng) {
  EncodedMatrix m;
  m.stride = DTypeBytes(t, cols) + 3;
  m.storage.assign(rows * m.stride + 64, 0xAB);
  uint8_t* base = m.storage.data() + 1;
  m.data = base;
  std::vector<float> row(cols), back(cols);
  for (size_t r = 0; r < rows; ++r) {
    row = RandomVector(cols, rng, 0.05f);
    ConvertFromF32(t, row.data(), cols, base + r * m.stride);
    ConvertToF32(t, base + r * m.stride, cols, back.data());
    m.values.insert(m.values.end(), back.begin(), back.end());
  }
  return m;
}

// The f64 product of each row with the q8 activation's own numbers (d * q), and the sum of |terms|.
std::pair<double, double> QuantizedReference(const double* w, const kernels::Q8Activation& a, size_t n) {
  double s = 0, mag = 0;
  for (size_t i = 0; i < n; ++i) {
    const double xq = static_cast<double>(a.d[i / kQ8Block]) * a.q[i];
    s += w[i] * xq;
    mag += std::abs(w[i] * xq);
  }
  return {s, mag};
}

class RowKernels : public testing::TestWithParam<DType> {};

TEST_P(RowKernels, MatchF64ReferenceAtEveryLevelOddSizesUnaligned) {
  const DType t = GetParam();
  std::mt19937 rng(11);
  kernels::Q8Activation act;
  for (SimdLevel level : Levels()) {
    const kernels::RowsFn fn = kernels::RowsKernel(t, level);
    ASSERT_NE(fn, nullptr);
    // q8: 80 and 600 values end in a group of 3 blocks (an odd block after a whole zmm).
    for (size_t cols : {1u, 7u, 16u, 31u, 32u, 33u, 80u, 97u, 100u, 511u, 512u, 513u, 600u, 1000u, 4095u}) {
      // 16 and more rows: the f32 long-row kernel folds each 16 rows' sums together, then takes the rest one
      // by one.
      for (size_t rows : {1u, 3u, 4u, 5u, 7u, 9u, 16u, 21u, 50u}) {
        // f32 rows must be float-aligned for the f32 kernel's pointer casts: use a float-aligned layout.
        EncodedMatrix m = Encode(t, rows, cols, rng);
        std::vector<uint8_t> aligned;
        const uint8_t* w = m.data;
        size_t stride = m.stride;
        if (t == DType::kF32) {
          stride = (cols + 1) * sizeof(float);
          aligned.assign(rows * stride + sizeof(float), 0);
          for (size_t r = 0; r < rows; ++r) {
            std::memcpy(aligned.data() + sizeof(float) + r * stride, m.data + r * m.stride, cols * sizeof(float));
          }
          w = aligned.data() + sizeof(float);
        }
        std::vector<float> xbuf = RandomVector(cols + 1, rng);
        const float* x = xbuf.data() + 1;  // not 64-byte aligned
        const void* xin = x;
        if (t == DType::kQ8) {
          kernels::QuantizeActivation(x, cols, act);
          xin = &act;
        }
        std::vector<float> out(rows, -1.0f);
        fn(w, stride, rows, xin, cols, out.data());
        for (size_t r = 0; r < rows; ++r) {
          const double* wr = m.values.data() + r * cols;
          double ref = 0, mag = 0, act_err = 0;
          for (size_t i = 0; i < cols; ++i) {
            ref += wr[i] * x[i];
            mag += std::abs(wr[i] * x[i]);
            if (t == DType::kQ8) act_err += std::abs(wr[i]) * act.d[i / kQ8Block] * 0.5;  // |x - d*q| <= d/2
          }
          const std::string where = std::string(SimdLevelName(level)) + " " + std::string(DTypeName(t)) +
                                    " cols=" + std::to_string(cols) + " rows=" + std::to_string(rows) +
                                    " r=" + std::to_string(r);
          if (t == DType::kQ8) {
            // Exact integer products: only the f32 scaling and summation round.
            auto [qref, qmag] = QuantizedReference(wr, act, cols);
            EXPECT_NEAR(out[r], qref, 1e-5 * qmag + 1e-7) << where;
            // And against the unquantized activation: within the activation-rounding bound.
            EXPECT_NEAR(out[r], ref, act_err * 1.001 + 1e-5 * mag + 1e-7) << where;
          } else {
            EXPECT_NEAR(out[r], ref, 1e-5 * mag + 1e-7) << where;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(DTypes, RowKernels, testing::Values(DType::kF32, DType::kBF16, DType::kF16, DType::kQ8),
                         [](const testing::TestParamInfo<DType>& i) { return std::string(DTypeName(i.param)); });

// The q8 activation quantization: the AVX-512 version must give exactly the scalar one's codes, scales and
// sums (round half away from zero included), for every tail length and for values that sit on .5 steps.
TEST(Q8Activation, Avx512QuantizationIsBitIdenticalToScalar) {
  if (DetectSimdLevel() < SimdLevel::kAvx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(23);
  std::normal_distribution<float> d(0.0f, 2.0f);
  for (size_t n : {1u, 16u, 17u, 31u, 32u, 33u, 100u, 768u, 2048u, 2049u}) {
    std::vector<float> x(n);
    for (float& v : x) v = d(rng);
    if (n >= 32) {
      // A block whose max is 127 and whose other values land exactly on k + 0.5 steps, both signs.
      x[0] = 127.0f;
      for (size_t i = 1; i < 32; ++i) x[i] = (i % 2 ? 1.0f : -1.0f) * (static_cast<float>(i) + 0.5f);
    }
    kernels::Q8Activation s, v;
    kernels::QuantizeActivationScalar(x.data(), n, s);
    kernels::QuantizeActivationAvx512(x.data(), n, v);
    ASSERT_EQ(s.blocks, v.blocks);
    const size_t padded = s.d.size();
    ASSERT_EQ(v.d.size(), padded);
    for (size_t b = 0; b < padded; ++b) {
      ASSERT_EQ(s.d[b], v.d[b]) << "n=" << n << " block " << b;
      ASSERT_EQ(s.sum[b], v.sum[b]) << "n=" << n << " block " << b;
      for (size_t l = 0; l < 8; ++l) ASSERT_EQ(s.corr_lanes[b * 8 + l], v.corr_lanes[b * 8 + l]);
      for (size_t i = 0; i < kQ8Block; ++i) {
        ASSERT_EQ(s.q[b * kQ8Block + i], v.q[b * kQ8Block + i]) << "n=" << n << " block " << b << " i=" << i;
      }
    }
  }
}

TEST(WeightEncoding, RoundTripWithinEachFormatsPrecision) {
  std::mt19937 rng(3);
  for (size_t n : {1u, 31u, 32u, 33u, 100u, 4095u}) {
    std::vector<float> x = RandomVector(n, rng, 0.1f);
    x[0] = 0.0f;
    std::vector<float> back(n);
    std::vector<uint8_t> buf(std::max(DTypeBytes(DType::kQ8, n), 2 * n) + 8);
    for (DType t : {DType::kBF16, DType::kF16}) {
      ConvertFromF32(t, x.data(), n, buf.data());
      ConvertToF32(t, buf.data(), n, back.data());
      const double rel = t == DType::kBF16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);  // half an ulp
      for (size_t i = 0; i < n; ++i) {
        EXPECT_NEAR(back[i], x[i], std::abs(x[i]) * rel + 1e-7) << DTypeName(t) << " n=" << n << " i=" << i;
      }
    }
    EncodeQ8Row(x.data(), n, buf.data());
    DecodeQ8Row(buf.data(), n, back.data());
    for (size_t b = 0; b < Q8Blocks(n); ++b) {
      uint16_t d16;
      std::memcpy(&d16, buf.data() + Q8Blocks(n) * kQ8Block + 2 * b, 2);
      const double d = F16ToF32(d16);
      for (size_t i = b * kQ8Block; i < std::min(n, (b + 1) * kQ8Block); ++i) {
        EXPECT_LE(std::abs(back[i] - x[i]), d * 0.5 + 1e-9) << "q8 n=" << n << " i=" << i;
      }
      // Padding of the last block is the value zero.
      for (size_t i = n; i < (b + 1) * kQ8Block; ++i) EXPECT_EQ(buf[i], 128) << "padding " << i;
    }
  }
}

TEST(WeightEncoding, Q8_0RepackIsExact) {
  std::mt19937 rng(5);
  const size_t n = 96;
  std::vector<uint8_t> q8_0(DTypeBytes(DType::kQ8_0, n));
  for (size_t b = 0; b < n / 32; ++b) {
    const uint16_t d = F32ToF16(0.01f * static_cast<float>(b + 1));
    std::memcpy(q8_0.data() + b * kQ8_0BlockBytes, &d, 2);
    for (size_t i = 0; i < 32; ++i) q8_0[b * kQ8_0BlockBytes + 2 + i] = static_cast<uint8_t>(rng() & 0xff);
  }
  q8_0[2] = 0x80;  // -128, which GGUF allows
  std::vector<float> want(n), got(n);
  ConvertToF32(DType::kQ8_0, q8_0.data(), n, want.data());
  std::vector<uint8_t> row(Q8RowBytes(n));
  RepackQ8_0Row(q8_0.data(), n, row.data());
  DecodeQ8Row(row.data(), n, got.data());
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(got[i], want[i]) << i;
}

// Whether prefill of t multiplies quantized activations (the AVX-512 VNNI q8 kernel), activations rounded
// to bf16 (the AVX-512 BF16 kernel, rows of even length), or f32 ones.
bool PrefillQuantizesActivation(DType t) {
  return t == DType::kQ8 && ActiveSimdLevel() == SimdLevel::kAvx512 && CpuHasAvx512Vnni();
}
bool PrefillRoundsActivationToBf16(DType t, size_t cols) {
  return t == DType::kBF16 && cols % 2 == 0 && ActiveSimdLevel() == SimdLevel::kAvx512 && CpuHasAvx512Bf16();
}

// Checks y[n][w.rows] = x[n][w.cols] · W^T against an f64 reference on every `row_step`-th row: the weights'
// exact values times x, or times each token's quantized or bf16-rounded activation where prefill uses it.
void ExpectPrefillMatchesReference(const MatrixView& w, const float* x, size_t n, const float* y, size_t row_step) {
  const size_t rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
  std::vector<float> row(cols);
  std::vector<double> wd(cols);
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (size_t r = 0; r < rows; r += row_step) {
    ConvertToF32(w.dtype, base + r * w.RowBytes(), cols, row.data());
    std::copy(row.begin(), row.end(), wd.begin());
    for (size_t i = 0; i < n; ++i) {
      double ref = 0, mag = 0;
      if (PrefillQuantizesActivation(w.dtype)) {
        kernels::Q8Activation a;
        kernels::QuantizeActivationScalar(x + i * cols, cols, a);
        std::tie(ref, mag) = QuantizedReference(wd.data(), a, cols);
      } else {
        const bool round = PrefillRoundsActivationToBf16(w.dtype, cols);
        for (size_t c = 0; c < cols; ++c) {
          const double xc = round ? Bf16ToF32(F32ToBf16(x[i * cols + c])) : x[i * cols + c];
          ref += wd[c] * xc;
          mag += std::abs(wd[c] * xc);
        }
      }
      ASSERT_NEAR(y[i * rows + r], ref, 1e-5 * mag + 1e-30)
          << DTypeName(w.dtype) << " n=" << n << " rows=" << rows << " cols=" << cols << " token " << i << " r=" << r;
    }
  }
}

// MatVecMany (threads, mixed dtypes, shared inputs) and prefill MatMul agree with the row kernels.
TEST(WeightMatMul, MatVecManyAndPrefillMatchRowKernels) {
  std::mt19937 rng(9);
  SetNumThreads(2);
  const size_t cols = 515, n_tokens = 5;
  std::vector<float> x = RandomVector(n_tokens * cols, rng);
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16, DType::kQ8}) {
    // Big enough (> 256 KiB per thread) that MatVecMany really splits the rows over 2 threads.
    const size_t rows = 1100;
    std::vector<uint8_t> storage(rows * DTypeBytes(t, cols) + 64);
    uint8_t* data = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
    for (size_t r = 0; r < rows; ++r) {
      std::vector<float> row = RandomVector(cols, rng, 0.05f);
      ConvertFromF32(t, row.data(), cols, data + r * DTypeBytes(t, cols));
    }
    const MatrixView w{t, static_cast<int64_t>(rows), static_cast<int64_t>(cols), data};
    const MatrixView w_small{t, 65, static_cast<int64_t>(cols), data};
    // Decode: two products sharing x, one on another row range.
    std::vector<float> y1(rows), y2(65), want(rows);
    MatVecMany({{&w, x.data(), y1.data()}, {&w_small, x.data(), y2.data()}});
    // Naming a next region (whose first rows the threads request while they wait) changes no result.
    std::vector<float> y1_next(rows), y2_next(65);
    MatVecMany({{&w, x.data(), y1_next.data()}, {&w_small, x.data(), y2_next.data()}}, {&w_small, &w});
    EXPECT_EQ(y1_next, y1) << DTypeName(t);
    EXPECT_EQ(y2_next, y2) << DTypeName(t);
    kernels::Q8Activation act;
    kernels::QuantizeActivation(x.data(), cols, act);
    const void* xin = t == DType::kQ8 ? static_cast<const void*>(&act) : x.data();
    kernels::RowsKernel(t, SimdLevel::kScalar)(data, w.RowBytes(), rows, xin, cols, want.data());
    for (size_t r = 0; r < rows; ++r) EXPECT_NEAR(y1[r], want[r], 1e-4) << DTypeName(t) << " r=" << r;
    for (size_t r = 0; r < 65; ++r) EXPECT_NEAR(y2[r], want[r], 1e-4) << DTypeName(t) << " r=" << r;
    // Prefill: Y = X W^T with the weights decoded exactly; for q8 with each token's activation quantized as
    // a decode step quantizes it (on CPUs with VNNI; the sgemm fallback multiplies the f32 activation).
    std::vector<float> y(n_tokens * rows);
    MatMul(w, x.data(), n_tokens, y.data());
    ExpectPrefillMatchesReference(w, x.data(), n_tokens, y.data(), 37);
  }
  SetNumThreads(0);
}

// `kvlab bench --probe-matvecs`: while on, every dtype's mat-vec is ProbeRows (its weights read, its outputs
// 0); once off, the products are back.
TEST(WeightMatMul, ProbeMatVecsReplaceEveryKernelUntilSwitchedOff) {
  std::mt19937 rng(11);
  SetNumThreads(2);
  const size_t rows = 600, cols = 300;
  const std::vector<float> x = RandomVector(cols, rng);
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16, DType::kQ8}) {
    std::vector<uint8_t> data(rows * DTypeBytes(t, cols));
    for (size_t r = 0; r < rows; ++r) {
      const std::vector<float> row = RandomVector(cols, rng, 0.05f);
      ConvertFromF32(t, row.data(), cols, data.data() + r * DTypeBytes(t, cols));
    }
    const MatrixView w{t, static_cast<int64_t>(rows), static_cast<int64_t>(cols), data.data()};
    std::vector<float> y(rows + 1, 1.0f);  // one past the rows: must stay untouched
    kernels::SetProbeMatVecs(true);
    EXPECT_EQ(kernels::RowsKernel(t), &kernels::ProbeRows) << DTypeName(t);
    MatVecMany({{&w, x.data(), y.data()}});
    kernels::SetProbeMatVecs(false);
    EXPECT_EQ(std::count(y.begin(), y.end() - 1, 0.0f), static_cast<long>(rows)) << DTypeName(t);
    EXPECT_EQ(y.back(), 1.0f) << DTypeName(t);
    EXPECT_EQ(kernels::RowsKernel(t), kernels::RowsKernel(t, ActiveSimdLevel())) << DTypeName(t);
    MatVecMany({{&w, x.data(), y.data()}});
    EXPECT_GT(std::count_if(y.begin(), y.end() - 1, [](float v) { return v != 0.0f; }),
              static_cast<long>(rows / 2))
        << DTypeName(t);
  }
  // Rows whose bytes are not a whole number of 64-byte lines (3 q8 rows of 32 values: 102 bytes).
  std::vector<uint8_t> q8(3 * Q8RowBytes(32), 7);
  float out[4] = {1, 1, 1, 1};
  kernels::ProbeRows(q8.data(), Q8RowBytes(32), 3, nullptr, 32, out);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], 1.0f);
  SetNumThreads(0);
}

// The bytes a thread requests while it waits for the next region (MatVecMany's `next`) are the front of the
// share WorkShares hands it first there: the first rows it reads, up to kPrefetchNextBytes, and none for a
// thread the region would not use.
TEST(WeightMatMul, ShareFrontIsTheFirstRowsEachThreadReadsNext) {
  const size_t cols = 768, row_bytes = DTypeBytes(DType::kQ8, cols);
  const size_t block_bytes = kMatVecRowBlock * row_bytes;  // 13 KB
  std::vector<uint8_t> storage(3400 * row_bytes);
  const auto matrix = [&](size_t first_row, size_t rows) {
    return MatrixView{DType::kQ8, static_cast<int64_t>(rows), static_cast<int64_t>(cols),
                      storage.data() + first_row * row_bytes};
  };
  // Three matrices of 100, 10 and 100 row blocks (2.7 MB). On 2 threads thread 1's share starts in the
  // short middle one, 5 blocks (65 KB) before its end; on 3, thread 1's inside the first and thread 2's
  // inside the last.
  const MatrixView a = matrix(0, 1600), b = matrix(1600, 160), c = matrix(1760, 1600);
  const MatrixView tiny = matrix(3360, 20);  // 16 KB: one thread
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    const NextMatVec next{&a, &b, &c};
    const size_t blocks = 210;
    WorkShares shares(blocks, static_cast<size_t>(threads));
    for (size_t t = 0; t < static_cast<size_t>(threads); ++t) {
      size_t begin = 0, end = 0;
      ASSERT_TRUE(shares.Next(t, begin, end));  // each thread's first hand-out: the front of its share
      const size_t share_end = blocks * (t + 1) / static_cast<size_t>(threads);
      const size_t matrix_end = begin < 100 ? 100 : (begin < 110 ? 110 : blocks);
      const size_t front_bytes = (std::min(share_end, matrix_end) - begin) * block_bytes;
      const WeightBytes front = ShareFront(next, t);
      EXPECT_EQ(front.data, storage.data() + begin * block_bytes) << threads << " threads, t=" << t;
      EXPECT_EQ(front.bytes, std::min(front_bytes, kPrefetchNextBytes)) << threads << " threads, t=" << t;
    }
    EXPECT_EQ(ShareFront(next, static_cast<size_t>(threads)).data, nullptr);
    // A region too small for a second thread: all of it is thread 0's, none of it thread 1's.
    EXPECT_EQ(ShareFront(NextMatVec{&tiny}, 0).data, tiny.data);
    EXPECT_EQ(ShareFront(NextMatVec{&tiny}, 0).bytes, tiny.Bytes());
    EXPECT_EQ(ShareFront(NextMatVec{&tiny}, 1).bytes, 0u);
    EXPECT_EQ(ShareFront(NextMatVec{}, 0).data, nullptr);
  }
  SetNumThreads(0);
}

// Prefill at token counts around the kernels' 64-token tiles, row counts around their 6- and 3-row tiles
// and 24-row blocks, and inputs that end inside a 32-block, on 1 and 2 threads, at every SIMD level.
TEST(WeightMatMul, PrefillMatchesReferenceAcrossTileEdges) {
  std::mt19937 rng(21);
  for (SimdLevel level : Levels()) {
    SetSimdLevel(level);
    for (DType t : {DType::kF32, DType::kBF16, DType::kF16, DType::kQ8}) {
      for (size_t cols : {size_t{16}, size_t{33}, size_t{200}, size_t{202}}) {
        for (size_t rows : {size_t{1}, size_t{7}, size_t{50}}) {
          std::vector<uint8_t> storage(rows * DTypeBytes(t, cols));
          for (size_t r = 0; r < rows; ++r) {
            const std::vector<float> row = RandomVector(cols, rng, 0.05f);
            ConvertFromF32(t, row.data(), cols, storage.data() + r * DTypeBytes(t, cols));
          }
          const MatrixView w{t, static_cast<int64_t>(rows), static_cast<int64_t>(cols), storage.data()};
          for (size_t n : {size_t{2}, size_t{17}, size_t{64}, size_t{65}, size_t{130}}) {
            const std::vector<float> x = RandomVector(n * cols, rng);
            for (int threads : {1, 2}) {
              SetNumThreads(threads);
              std::vector<float> y(n * rows, std::nanf(""));
              MatMul(w, x.data(), n, y.data());
              ExpectPrefillMatchesReference(w, x.data(), n, y.data(), 1);
            }
          }
        }
      }
    }
  }
  SetSimdLevel(DetectSimdLevel());
  SetNumThreads(0);
}

}  // namespace
}  // namespace kvlab
