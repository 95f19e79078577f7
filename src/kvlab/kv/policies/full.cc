// full: no compression. Every token stays; the cache is exactly what the model wrote. The reference every
// other policy is measured against (and bit-identical to running without a policy).
#include "kvlab/kv/policies/policies.h"

namespace kvlab::policies {

namespace {
class FullPolicy final : public KvPolicy {
 public:
  std::string Spec() const override { return "full"; }
  size_t MaxSlots() const override { return kUnbounded; }
  void Compress(size_t, KvCache&) override {}
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<FullPolicy>(*this); }
};
}  // namespace

std::unique_ptr<KvPolicy> MakeFull(PolicyParams&) { return std::make_unique<FullPolicy>(); }

}  // namespace kvlab::policies
