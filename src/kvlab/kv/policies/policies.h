// Factories of the built-in policies (one .cc per policy in this folder); registry.cc lists them.
#pragma once

#include <memory>

#include "kvlab/kv/policy.h"
#include "kvlab/kv/spec.h"

namespace kvlab::policies {

std::unique_ptr<KvPolicy> MakeFull(PolicyParams& p);
std::unique_ptr<KvPolicy> MakeWindow(PolicyParams& p);
std::unique_ptr<KvPolicy> MakeSinks(PolicyParams& p);
std::unique_ptr<KvPolicy> MakeRandom(PolicyParams& p);
std::unique_ptr<KvPolicy> MakeKeyNorm(PolicyParams& p);
std::unique_ptr<KvPolicy> MakeH2o(PolicyParams& p);
std::unique_ptr<KvPolicy> MakeTova(PolicyParams& p);
std::unique_ptr<KvPolicy> MakeSnapKv(PolicyParams& p);
std::unique_ptr<KvPolicy> MakeSketch(PolicyParams& p);
std::unique_ptr<KvPolicy> MakeCluster(PolicyParams& p);
std::unique_ptr<KvPolicy> MakeQuant(PolicyParams& p);

}  // namespace kvlab::policies
