// FrozenPolicy: a policy after its last compression. It keeps the codec and the state (metadata bytes) of
// the policy it was made from, but evicts nothing any more: the cache grows with every token. What the
// question and the answer run under in CompressMode::kOnce (tasks/task_runner.h), as kvpress compresses
// the context once and then decodes over what it kept.
#pragma once

#include <memory>
#include <string>

#include "kvlab/kv/policy.h"

namespace kvlab {

class FrozenPolicy final : public KvPolicy {
 public:
  explicit FrozenPolicy(std::unique_ptr<KvPolicy> compressed) : inner_(std::move(compressed)) {}

  std::string Spec() const override { return inner_->Spec(); }
  size_t MaxSlots() const override { return kUnbounded; }
  void Compress(size_t, KvCache&) override {}
  KvCodec Codec() const override { return inner_->Codec(); }
  size_t MetadataBytes() const override { return inner_->MetadataBytes(); }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<FrozenPolicy>(inner_->Clone()); }

 private:
  std::unique_ptr<KvPolicy> inner_;
};

}  // namespace kvlab
