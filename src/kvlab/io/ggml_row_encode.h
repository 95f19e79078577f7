// f32 rows -> the bytes of a ggml tensor type, rounding as llama.cpp's gguf-py does when it converts a model
// (f16 and bf16 round to nearest even; Q8_0 per block of 32: d = max|x| / 127, q = round-half-away(x / d)).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvlab/io/gguf_writer.h"

namespace kvlab {

// Encodes x[0..n) into out (GgmlTypeBytes(type, n) bytes). For Q8_0, n must be a multiple of 32.
void EncodeGgmlRow(GgmlType type, const float* x, size_t n, uint8_t* out);

}  // namespace kvlab
