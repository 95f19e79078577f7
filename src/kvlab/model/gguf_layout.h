// How llama.cpp lays out each model family in GGUF (convert_hf_to_gguf.py, src/llama-arch.cpp), shared by
// the GGUF loader and `kvlab convert` so that what one writes is what the other reads.
//
//   family   general.architecture  Q/K rows                     RoPE in llama.cpp
//   Llama    llama                 permuted to interleaved      NORM (adjacent pairs)
//   Mistral  llama                 permuted to interleaved      NORM
//   Qwen2    qwen2                 as Hugging Face stores them  NEOX (rotate_half)
//   Qwen3    qwen3                 as stored                    NEOX
//   Gemma 2  gemma2                as stored                    NEOX
//   Gemma 3  gemma3                as stored                    NEOX
//   Phi-3    phi3                  as stored (fused attn_qkv)   NEOX
//   GPT-2    gpt2                  (no RoPE; fused attn_qkv)    -
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "kvlab/model/config.h"

namespace kvlab::gguf_layout {

// The general.architecture llama.cpp's converter writes for a family (Mistral is written as "llama").
inline const char* ArchitectureName(Arch a) { return a == Arch::kMistral ? "llama" : ArchName(a); }

// The family of a general.architecture kvlab loads; nullopt for any other.
inline std::optional<Arch> ArchFromName(const std::string& name) {
  for (Arch a : {Arch::kLlama, Arch::kGpt2, Arch::kQwen2, Arch::kQwen3, Arch::kGemma2, Arch::kGemma3, Arch::kPhi3}) {
    if (name == ArchName(a)) return a;
  }
  return std::nullopt;
}

// llama.cpp's converter undoes Hugging Face's rotate_half permutation of the Q/K rows (LlamaModel.permute)
// only for the architecture it runs with adjacent-pair RoPE.
inline bool PermutesQK(Arch a) { return a == Arch::kLlama || a == Arch::kMistral; }

// What llama.cpp hard-codes for a family instead of reading it from the file. The converter writes a key only
// where a checkpoint departs from these; the loader falls back to them where the key is absent.
//
// Sliding layers: with a period n, layer i slides unless i % n == n - 1 (llama.cpp's set_swa_pattern): Gemma 2
// every other layer (2), Gemma 3 five in six (6); 0: every layer (Mistral, Phi-3, and whatever else names a
// sliding window).
inline int32_t DefaultSlidingPeriod(Arch a) { return a == Arch::kGemma2 ? 2 : a == Arch::kGemma3 ? 6 : 0; }
inline bool SlidesInPeriod(int64_t layer, int64_t period) { return period <= 0 || layer % period < period - 1; }
// Gemma's query scale: 1/sqrt(head_dim), except the 27B models (46 layers for Gemma 2, 62 for Gemma 3), which
// use 1/sqrt(dim / heads).
inline float DefaultGemmaQueryScale(const ModelConfig& c) {
  const bool is_27b = (c.arch == Arch::kGemma2 && c.n_layers == 46) || (c.arch == Arch::kGemma3 && c.n_layers == 62);
  return 1.0f / std::sqrt(static_cast<float>(is_27b ? c.dim / c.n_heads : c.head_dim));
}
inline constexpr float kDefaultLocalRopeBase = 10000.0f;  // Gemma 3's sliding layers

// "<arch>.<suffix>", e.g. Key("qwen2", "attention.head_count").
inline std::string Key(const std::string& arch, const char* suffix) { return arch + "." + suffix; }

// general.file_type (llama.cpp's enum llama_ftype) of a file whose matrices are of one type.
inline constexpr uint32_t kFileTypeAllF32 = 0;
inline constexpr uint32_t kFileTypeMostlyF16 = 1;
inline constexpr uint32_t kFileTypeMostlyQ8_0 = 7;
inline constexpr uint32_t kFileTypeMostlyBF16 = 32;
inline constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

}  // namespace kvlab::gguf_layout
