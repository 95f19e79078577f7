// quant: store keys and values with a codec instead of f32 (f16, bf16, int8, int4, int2 with per-group
// scale and minimum), keeping the `residual` newest tokens of every head in f32. The codec lives in the
// KvCache (kv/codec.h, built from Codec()); this part evicts nothing, so it composes with any eviction
// policy: "h2o:budget=128,recent=32+quant:k=int4,v=int4,group=32,residual=64".
//
// After KIVI (Liu et al., "KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache", ICML 2024):
// asymmetric min/scale groups and an f32 residual window of recent tokens. Keys are grouped per token
// (along channels) like values by default; kaxis=channel groups them per channel over blocks of `group`
// tokens as KIVI does (kv/channel_key_blocks.h), which tames outlier channels. Either way eviction drops a
// slot's codes without re-quantizing its neighbours (docs/POLICIES.md "Quantization").
#include "kvlab/kv/policies/policies.h"
#include "kvlab/util/error.h"

namespace kvlab::policies {

namespace {
class QuantPolicy final : public KvPolicy {
 public:
  explicit QuantPolicy(const KvCodec& codec) : codec_(codec) {}
  std::string Spec() const override { return "quant:" + CodecSpec(codec_); }
  size_t MaxSlots() const override { return kUnbounded; }
  // Encoding happens as tokens leave the residual window, inside KvCache::Append.
  void Compress(size_t, KvCache&) override {}
  KvCodec Codec() const override { return codec_; }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<QuantPolicy>(*this); }

 private:
  KvCodec codec_;
};

const std::vector<std::string> kCodecNames = {"f32", "f16", "bf16", "int8", "int4", "int2"};
}  // namespace

std::unique_ptr<KvPolicy> MakeQuant(PolicyParams& p) {
  // bits=N is shorthand for k=intN,v=intN; k= and v= override it.
  const std::string bits = p.Choice("bits", "8", {"2", "4", "8"});
  const std::string both = "int" + bits;
  KvCodec codec;
  codec.k = *ParseCodec(p.Choice("k", both, kCodecNames));
  codec.v = *ParseCodec(p.Choice("v", both, kCodecNames));
  codec.group = static_cast<uint32_t>(p.Int("group", 32, 1, 4096));
  codec.residual = static_cast<uint32_t>(p.Int("residual", 0, 0, 1 << 24));
  if (p.Choice("kaxis", "token", {"token", "channel"}) == "channel") {
    codec.key_axis = KeyAxis::kChannel;
    if (!IsIntegerCodec(codec.k)) {
      throw Error("--kv", std::string("quant: kaxis=channel needs integer keys (k=int8|int4|int2), got k=") +
                              CodecName(codec.k));
    }
    // Keys leave the f32 window `group` tokens at a time, as one per-channel block.
    if (codec.residual < codec.group) {
      throw Error("--kv", "quant: kaxis=channel needs residual >= group (residual=" + std::to_string(codec.residual) +
                              ", group=" + std::to_string(codec.group) + ")",
                  "keys are quantized per channel over blocks of `group` tokens taken from the f32 window");
    }
  }
  if (!codec.quantized()) {
    throw Error("--kv", "quant: k=f32,v=f32 quantizes nothing", "drop the quant part, or pick a codec");
  }
  return std::make_unique<QuantPolicy>(codec);
}

}  // namespace kvlab::policies
