#include "stream.h"

#include <algorithm>
#include <string>

#include "kvlab/util/error.h"

namespace kvlab::python {

namespace {
size_t ContextOf(const ModelHandle& m, size_t context) {
  return context > 0 ? context : static_cast<size_t>(m.model->config().max_seq_len);
}
// Largest attention record a stream keeps (Stream.record_attention).
constexpr size_t kMaxAttentionRecordBytes = size_t{1} << 30;
}  // namespace

Stream::Stream(std::shared_ptr<ModelHandle> model, std::unique_ptr<KvPolicy> policy, size_t context,
               size_t max_batch)
    : model_(std::move(model)),
      policy_(std::move(policy)),
      context_(ContextOf(*model_, context)),
      cache_(model_->model->config().CacheShape(), RequiredCapacity(policy_.get(), context_, max_batch),
             CacheCodecFor(policy_.get())),
      act_(model_->model->config(), max_batch) {
  if (policy_) {
    prototype_ = policy_->Clone();
    policy_->Bind(model_->model->config().CacheShape());
  }
}

void Stream::CheckUsable() const {
  if (broken_)
    throw Error("stream", "a forward pass of this stream failed earlier; call reset() to start over");
}

void Stream::Feed(std::span<const int32_t> ids, float* logits, bool all_logits) {
  CheckUsable();
  if (ids.empty()) throw Error("ids", "no token ids to feed");
  const Model& m = *model_->model;
  KvPolicy* run_policy = policy_.get();
  if (capture_) {
    capture_->Begin(pos_, ids.size(), kMaxAttentionRecordBytes);
    run_policy = capture_.get();
  }
  if (last_logits_.empty()) last_logits_.resize(static_cast<size_t>(m.config().vocab_size));
  broken_ = true;  // until the forward pass returns
  m.Forward(ids, pos_, cache_, act_, logits, all_logits ? LogitsFor::kAllTokens : LogitsFor::kLastToken,
            run_policy);
  broken_ = false;
  const size_t vocab = last_logits_.size();
  const float* last = logits + (all_logits ? (ids.size() - 1) * vocab : 0);
  std::copy(last, last + vocab, last_logits_.begin());
  pos_ += static_cast<int32_t>(ids.size());
  history_.insert(history_.end(), ids.begin(), ids.end());
}

std::vector<int32_t> Stream::Generate(std::span<const int32_t> prompt, const GenerateSettings& s,
                                      std::string& stop_reason) {
  CheckUsable();
  ValidateSamplerConfig(s.sampler, {"temperature", "top_k", "top_p", "repeat_penalty", "repeat_last_n"});
  if (s.max_new_tokens < 0) throw Error("max_new_tokens", "must be >= 0");
  std::vector<float> logits(static_cast<size_t>(model_->model->config().vocab_size));
  if (!prompt.empty()) {
    Feed(prompt, logits.data(), false);
  } else if (pos_ == 0) {
    throw Error("prompt", "the stream is empty: give a prompt to generate from");
  }
  // The sampler edits the logits in place (repetition penalty), so it works on this copy; each Feed below
  // overwrites it with the next token's logits (and keeps its own unedited copy in last_logits_).
  logits = last_logits_;
  const int32_t eos = model_->model->config().eos_id;
  Sampler sampler(s.sampler);
  std::vector<int32_t> out;
  stop_reason = "length";
  for (int32_t i = 0; i < s.max_new_tokens; ++i) {
    if (static_cast<size_t>(pos_) >= context_ && (!policy_ || policy_->MaxSlots() == KvPolicy::kUnbounded)) {
      stop_reason = "context full";
      break;
    }
    const int32_t token = sampler.Sample(logits, history_);
    out.push_back(token);
    Feed({&token, 1}, logits.data(), false);
    const bool stop =
        token == eos || std::find(s.stop_tokens.begin(), s.stop_tokens.end(), token) != s.stop_tokens.end();
    if (s.stop_at_eos && stop) {
      stop_reason = "eos";
      break;
    }
  }
  return out;
}

void Stream::Reset() {
  cache_.Clear();
  if (policy_) {
    policy_ = prototype_->Clone();
    policy_->Bind(model_->model->config().CacheShape());
    if (capture_) RecordAttention(capture_->layers());  // the capture wraps the new policy
  }
  pos_ = 0;
  history_.clear();
  last_logits_.clear();
  broken_ = false;
}

void Stream::RecordAttention(std::vector<int> layers) {
  const auto n_layers = static_cast<size_t>(model_->model->config().n_layers);
  for (int l : layers) {
    if (l < 0 || static_cast<size_t>(l) >= n_layers) {
      throw Error("record_attention", "layer " + std::to_string(l) + " is out of range (the model has " +
                                          std::to_string(n_layers) + " layers)");
    }
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  if (layers.empty()) {
    capture_.reset();
    return;
  }
  capture_ = std::make_unique<AttentionCapture>(policy_.get(), n_layers,
                                                static_cast<size_t>(model_->model->config().n_heads), layers);
}

}  // namespace kvlab::python
