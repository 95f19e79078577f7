// llama2.c checkpoints (Karpathy's run.c "legacy" version-0 export):
//   7 x int32 header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//     (a negative vocab_size means the classifier is stored separately instead of shared with the embedding)
//   then f32 arrays: token_embedding [vocab][dim], rms_att [L][dim], wq [L][dim][dim], wk [L][kv_dim][dim],
//   wv [L][kv_dim][dim], wo [L][dim][dim], rms_ffn [L][dim], w1 [L][hidden][dim], w2 [L][dim][hidden],
//   w3 [L][hidden][dim], rms_final [dim], freq_cis_real/imag [seq_len][head_size/2] each (unused),
//   wcls [vocab][dim] when not shared.
// Numerics are fixed by run.c: interleaved RoPE (theta 10000), SiLU, RMSNorm eps 1e-5, BOS 1, EOS 2.
#pragma once

#include <filesystem>

#include "kvlab/model/config.h"
#include "kvlab/model/weights.h"

namespace kvlab {

// The config a llama2.c header describes, and whether the classifier is shared.
struct Llama2cHeader {
  ModelConfig config;
  bool shared_classifier = true;
};

// Parses and validates the 28-byte header (`bytes` must hold at least 28 bytes). Throws kvlab::Error naming
// `source` for a non-positive size or an inconsistent shape, or a llama2.c version-1/2 export ("ak42").
Llama2cHeader ParseLlama2cHeader(const uint8_t* bytes, size_t size, const std::string& source);

// Bytes a checkpoint with this header must have, exactly.
int64_t Llama2cFileBytes(const Llama2cHeader& h);

// Loads a checkpoint, its weights viewed in place from the memory map (everything is already f32, [out][in]).
// Throws kvlab::Error if the file size differs from what the header implies (truncated or trailing data).
LoadedModel LoadLlama2cModel(const std::filesystem::path& path);

}  // namespace kvlab
