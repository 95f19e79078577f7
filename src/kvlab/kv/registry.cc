#include "kvlab/kv/registry.h"

#include "kvlab/kv/composite_policy.h"
#include "kvlab/kv/policies/policies.h"
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
}  // namespace

std::unique_ptr<KvPolicy> MakePolicy(std::string_view spec) {
  std::vector<PolicyParams> parts = ParsePolicySpec(spec);
  if (parts.size() == 1) return MakeOne(parts[0]);
  std::vector<std::unique_ptr<KvPolicy>> built;
  for (PolicyParams& p : parts) built.push_back(MakeOne(p));
  return std::make_unique<CompositePolicy>(std::move(built));
}

}  // namespace kvlab
