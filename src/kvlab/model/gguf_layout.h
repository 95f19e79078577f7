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

// "<arch>.<suffix>", e.g. Key("qwen2", "attention.head_count").
inline std::string Key(const std::string& arch, const char* suffix) { return arch + "." + suffix; }

// general.file_type (llama.cpp's enum llama_ftype) of a file whose matrices are of one type.
inline constexpr uint32_t kFileTypeAllF32 = 0;
inline constexpr uint32_t kFileTypeMostlyF16 = 1;
inline constexpr uint32_t kFileTypeMostlyQ8_0 = 7;
inline constexpr uint32_t kFileTypeMostlyBF16 = 32;
inline constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

}  // namespace kvlab::gguf_layout
