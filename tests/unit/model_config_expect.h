// ExpectSameConfig: every field of two ModelConfigs, the family features included, for round-trip tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "kvlab/model/config.h"

namespace kvlab::test {

inline void ExpectSameRopeScaling(const RopeScaling& a, const RopeScaling& b, const std::string& what) {
  EXPECT_EQ(a.type, b.type) << what;
  EXPECT_EQ(a.factor, b.factor) << what;
  EXPECT_EQ(a.factor_given, b.factor_given) << what;
  EXPECT_EQ(a.original_max_positions, b.original_max_positions) << what;
  EXPECT_EQ(a.low_freq_factor, b.low_freq_factor) << what;
  EXPECT_EQ(a.high_freq_factor, b.high_freq_factor) << what;
  EXPECT_EQ(a.beta_fast, b.beta_fast) << what;
  EXPECT_EQ(a.beta_slow, b.beta_slow) << what;
  EXPECT_EQ(a.attention_factor, b.attention_factor) << what;
  EXPECT_EQ(a.mscale, b.mscale) << what;
  EXPECT_EQ(a.mscale_all_dim, b.mscale_all_dim) << what;
  EXPECT_EQ(a.truncate, b.truncate) << what;
  EXPECT_EQ(a.short_factor, b.short_factor) << what;
  EXPECT_EQ(a.long_factor, b.long_factor) << what;
}

// `b` is `a` after a trip through a file; GPT-2 has no RoPE, so its rope fields are not compared.
inline void ExpectSameConfig(const ModelConfig& a, const ModelConfig& b, const std::string& what) {
  EXPECT_EQ(a.arch, b.arch) << what;
  EXPECT_EQ(a.dim, b.dim) << what;
  EXPECT_EQ(a.n_layers, b.n_layers) << what;
  EXPECT_EQ(a.n_heads, b.n_heads) << what;
  EXPECT_EQ(a.n_kv_heads, b.n_kv_heads) << what;
  EXPECT_EQ(a.head_dim, b.head_dim) << what;
  EXPECT_EQ(a.ffn_dim, b.ffn_dim) << what;
  EXPECT_EQ(a.vocab_size, b.vocab_size) << what;
  EXPECT_EQ(a.max_seq_len, b.max_seq_len) << what;
  EXPECT_EQ(a.norm_eps, b.norm_eps) << what;
  EXPECT_EQ(a.activation, b.activation) << what;
  EXPECT_EQ(a.tied_embeddings, b.tied_embeddings) << what;
  EXPECT_EQ(a.bos_id, b.bos_id) << what;
  EXPECT_EQ(a.eos_id, b.eos_id) << what;
  if (a.HasRope()) {
    EXPECT_EQ(a.rope_theta, b.rope_theta) << what;
    EXPECT_EQ(a.rope_style, b.rope_style) << what;
    ExpectSameRopeScaling(a.rope_scaling, b.rope_scaling, what + " rope_scaling");
  }
  EXPECT_EQ(a.rope_local_theta, b.rope_local_theta) << what;
  EXPECT_EQ(a.qkv_bias, b.qkv_bias) << what;
  EXPECT_EQ(a.qk_norm, b.qk_norm) << what;
  EXPECT_EQ(a.sandwich_norms, b.sandwich_norms) << what;
  EXPECT_EQ(a.embed_scale, b.embed_scale) << what;
  EXPECT_EQ(a.query_scale, b.query_scale) << what;
  EXPECT_EQ(a.attn_softcap, b.attn_softcap) << what;
  EXPECT_EQ(a.final_softcap, b.final_softcap) << what;
  EXPECT_EQ(a.layer_window, b.layer_window) << what;
}

}  // namespace kvlab::test
