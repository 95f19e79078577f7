// SIMD versions of the integer codecs' attention kernels (kv/codec.h DotFn / AxpyFn), chosen at run time
// by KernelsFor. They read the same row layout as the scalar kernels: [groups × {f32 scale, f32 min}]
// then the packed codes; int8 and int4 (any group size, with tails), and int2's common shapes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvlab::kernels {

float DotInt8Avx512(const uint8_t* row, const float* q, size_t n, size_t group);
void AxpyInt8Avx512(float a, const uint8_t* row, float* y, size_t n, size_t group);
float DotInt4Avx512(const uint8_t* row, const float* q, size_t n, size_t group);
void AxpyInt4Avx512(float a, const uint8_t* row, float* y, size_t n, size_t group);

// Row-batched (kv/codec.h DotRowsFn / WeightedSumFn). Fast path when n and group are multiples of 16 and
// n <= 128 (q or y in registers; the common int8 and int4 shapes take the kernels below); otherwise the
// per-row kernels above, row by row.
void DotRowsInt8Avx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n, size_t group,
                       float* out);
void WeightedSumInt8Avx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y, size_t n,
                           size_t group);
void DotRowsInt4Avx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n, size_t group,
                       float* out);
void WeightedSumInt4Avx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y, size_t n,
                           size_t group);

// int8 and int2 (bits 8 or 2) with n = 64 or 128 in whole groups of a multiple of 16 channels
// (codec_lanes_avx512.cc): the row-batched int8 kernels above take these first, and KernelsFor's int2
// kernels (kv/codec.cc) before the portable ones. Return false, touching nothing, for any other shape.
bool DotRowsLanesAvx512(int bits, const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n,
                        size_t group, float* out);
bool WeightedSumLanesAvx512(int bits, const uint8_t* rows, size_t row_bytes, size_t count, const float* p,
                            float* y, size_t n, size_t group);

// int4 with groups of a multiple of 32 channels and n = 32, 64, 96 or 128 (codec_int4_split_avx512.cc):
// the row-batched kernels above take these first. Return false, touching nothing, for any other shape.
bool DotRowsInt4SplitAvx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n,
                            size_t group, float* out);
bool WeightedSumInt4SplitAvx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y,
                                size_t n, size_t group);

// Rows of codes only, no scales (per-channel key blocks, kv/channel_key_blocks.h): out[j] = Σ_c code_jc ·
// qs_c for `count` rows. int8 / int2 (bits 8, 2) with n = 64 or 128 (codec_lanes_avx512.cc), int4 with
// n = 32, 64, 96 or 128 (codec_int4_split_avx512.cc). Return false, touching nothing, for other shapes.
bool CodeDotRowsLanesAvx512(int bits, const uint8_t* rows, size_t row_bytes, size_t count, const float* qs,
                            size_t n, float* out);
bool CodeDotRowsInt4SplitAvx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* qs, size_t n,
                                float* out);

}  // namespace kvlab::kernels
