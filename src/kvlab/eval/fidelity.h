// Attention fidelity of a policy against the full cache (docs/METRICS.md "Attention fidelity"): what
// `kvlab fidelity` runs. A full-cache stream and a policy stream advance in lockstep over the same tokens;
// at sampled query positions (after a warm-up, every stride tokens) and chosen layers, each query head's
// attention row of both streams is mapped onto original positions and compared.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "kvlab/model/model.h"

namespace kvlab {

struct FidelityOptions {
  std::string kv = "full";
  std::vector<int> layers;  // empty: layer 6 if the model has one, else the middle layer
  int32_t warmup = 64;      // first sampled query position
  int32_t stride = 16;      // sample every stride-th query position after the warm-up
  int32_t max_tokens = 0;   // 0: whole text, capped at the model's trained context
};

// Means over the sampled query positions (and, for layer rows and `mean`, over heads too).
struct HeadFidelity {
  int layer = 0, head = 0;
  int64_t samples = 0;
  double retained_mass = 0, kl = 0, cosine = 0, l1 = 0, l2 = 0, argmax_agreement = 0, output_rel_error = 0;
};

struct FidelityResult {
  std::vector<HeadFidelity> heads;   // one per (layer, head)
  std::vector<HeadFidelity> layers;  // head = -1, mean over heads
  HeadFidelity mean;                 // layer = head = -1, mean over all (layer, head)
  double epsilon = 0;                // smoothing of KL (docs/METRICS.md)
  int64_t tokens = 0;                // tokens streamed
};

// How many tokens of a text the evaluation uses at most (max_tokens, else the trained context).
size_t FidelityTokensNeeded(const FidelityOptions& o, const ModelConfig& c);

FidelityResult EvaluateFidelity(const Model& model, std::span<const int32_t> tokens,
                                const FidelityOptions& o);

nlohmann::json ToJson(const HeadFidelity& h);
nlohmann::json ToJson(const FidelityResult& r);

}  // namespace kvlab
