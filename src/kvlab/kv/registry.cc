#include "kvlab/kv/registry.h"

#include "kvlab/kv/composite_policy.h"
#include "kvlab/kv/policies/policies.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/util/error.h"

namespace kvlab {

const std::vector<PolicyInfo>& RegisteredPolicies() {
  static const std::vector<PolicyInfo> kPolicies = {
      {"full", "no compression (every token kept)", policies::MakeFull},
      {"window", "sliding window of the most recent budget tokens", policies::MakeWindow},
      {"sinks", "StreamingLLM: first sinks tokens + most recent window", policies::MakeSinks},
      {"random", "uniformly random eviction (baseline)", policies::MakeRandom},
      {"knorm", "keep the keys of lowest L2 norm", policies::MakeKeyNorm},
      {"h2o", "heavy hitters: accumulated attention received + recent window", policies::MakeH2o},
      {"tova", "attention of the current query (token omission via attention)", policies::MakeTova},
      {"snapkv", "observation-window attention votes, max-pooled, after prefill (and every N steps)",
       policies::MakeSnapKv},
      {"sketch", "accumulated attention in a Count-Min / Count Sketch / RACE sketch; topk or aggregate",
       policies::MakeSketch},
      {"cluster", "sinks + recent window exact, older tokens merged into summary slots (online k-means / LSH)",
       policies::MakeCluster},
      {"quant", "store K/V as f16 / bf16 / int8 / int4 / int2 (per-group scales) with an f32 residual window",
       policies::MakeQuant},
  };
  return kPolicies;
}

namespace {
std::unique_ptr<KvPolicy> MakeOne(PolicyParams& params) {
  for (const PolicyInfo& info : RegisteredPolicies()) {
    if (info.name != params.policy()) continue;
    auto policy = info.make(params);
    params.RejectUnknownKeys();
    return policy;
  }
  std::string names;
  for (const PolicyInfo& info : RegisteredPolicies()) names += (names.empty() ? "" : ", ") + info.name;
  throw Error("--kv", "unknown policy '" + params.policy() + "'", "known policies: " + names);
}

// rerotate=true keeps each head's keys at cache-relative positions by tracking only its own evictions
// (kv/rerotate.h), so no other part may evict, and the keys must be f32 to be rotated in place.
void CheckRerotateParts(std::string_view spec, const std::vector<std::unique_ptr<KvPolicy>>& parts, bool quantized) {
  const KvPolicy* rerotating = nullptr;
  for (const auto& p : parts) {
    if (auto* s = dynamic_cast<const ScorePolicy*>(p.get()); s != nullptr && s->budget().options.rerotate) rerotating = p.get();
  }
  if (rerotating == nullptr) return;
  if (quantized) {
    throw Error("--kv", "'" + std::string(spec) + "': rerotate=true needs f32 keys, drop the quant part");
  }
  for (const auto& p : parts) {
    const bool evicts = dynamic_cast<const ScorePolicy*>(p.get()) != nullptr || p->MaxSlots() != KvPolicy::kUnbounded;
    if (p.get() != rerotating && evicts) {
      throw Error("--kv", "'" + std::string(spec) + "': with rerotate=true no other part may evict ('" + p->Spec() + "')",
                  "put the whole budget on the rerotating part");
    }
  }
}
}  // namespace

std::unique_ptr<KvPolicy> MakePolicy(std::string_view spec) {
  std::vector<PolicyParams> parts = ParsePolicySpec(spec);
  if (parts.size() == 1) return MakeOne(parts[0]);
  std::vector<std::unique_ptr<KvPolicy>> built;
  size_t quantizing = 0;
  for (PolicyParams& p : parts) {
    built.push_back(MakeOne(p));
    quantizing += built.back()->Codec().quantized() ? 1 : 0;
  }
  // The codec belongs to the cache, so one stream can have only one.
  if (quantizing > 1) throw Error("--kv", "'" + std::string(spec) + "' has more than one quant part");
  CheckRerotateParts(spec, built, quantizing > 0);
  return std::make_unique<CompositePolicy>(std::move(built));
}

}  // namespace kvlab
