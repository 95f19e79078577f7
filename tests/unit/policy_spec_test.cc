// Spec strings: what parses, and every malformed spec rejected with a message naming the offending part.
#include <gtest/gtest.h>

#include "kvlab/kv/registry.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

std::string ErrorOf(const std::string& spec) {
  try {
    MakePolicy(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PolicySpec, ParsesAndRoundTripsCanonicalSpecs) {
  for (const char* spec : {"full", "window:budget=64", "sinks:budget=64,sinks=4", "h2o:budget=128,recent=32",
                           "tova:budget=16,recent=4", "knorm:budget=16,recent=4", "random:budget=16,seed=3"}) {
    auto p = MakePolicy(spec);
    EXPECT_EQ(p->Spec(), spec);
    EXPECT_EQ(MakePolicy(p->Spec())->Spec(), spec);  // canonical form is stable
  }
  for (const char* spec : {
           "snapkv:budget=64,recent=32,window=32,pool=7,every=0",
           "snapkv:budget=64,sinks=4,recent=0,chunk=4,window=16,pool=1,every=8",
           "sketch:type=cms,width=512,depth=4,budget=128,sinks=4,recent=32,strategy=topk,topk=92,seed=0",
           "sketch:type=cms,width=512,depth=4,conservative=true,budget=128,sinks=4,recent=32,strategy=topk,topk=64,"
           "decay=0.99,seed=7",
           "sketch:type=cs,width=256,depth=5,budget=64,recent=16,strategy=topk,topk=48,seed=0",
           "sketch:type=race,width=64,depth=2,bits=6,budget=64,recent=16,strategy=topk,topk=32,seed=1",
           "sketch:type=cms,width=128,depth=2,budget=64,sinks=4,recent=16,strategy=aggregate,summaries=16,"
           "assign=kmeans,metric=cosine,seed=0",
           "sketch:type=race,width=64,depth=2,bits=6,budget=64,recent=16,strategy=aggregate,chunk=4,summaries=8,"
           "assign=lsh,seed=2",
           "cluster:budget=64,sinks=4,summaries=16,assign=kmeans,metric=cosine",
           "cluster:budget=64,sinks=0,chunk=8,summaries=8,assign=lsh,seed=5",
       }) {
    auto p = MakePolicy(spec);
    EXPECT_EQ(p->Spec(), spec);
    EXPECT_EQ(MakePolicy(p->Spec())->Spec(), spec);
  }
  // Defaults fill in: the canonical form names every default that matters.
  EXPECT_EQ(MakePolicy("sketch:budget=64")->Spec(),
            "sketch:type=cms,width=512,depth=4,budget=64,strategy=topk,topk=56,seed=0");
  EXPECT_EQ(MakePolicy("sketch:type=race,budget=64,recent=8")->Spec(),
            "sketch:type=race,width=512,depth=4,bits=9,budget=64,recent=8,strategy=topk,topk=48,seed=0");
  // The original study's sketch names are the same sketches.
  EXPECT_EQ(MakePolicy("sketch:type=count_sketch,width=256,budget=64,recent=16")->Spec(),
            MakePolicy("sketch:type=cs,width=256,budget=64,recent=16")->Spec());
  EXPECT_EQ(MakePolicy("sketch:type=count_min,budget=64")->Spec(), MakePolicy("sketch:type=cms,budget=64")->Spec());
  EXPECT_EQ(MakePolicy("snapkv:budget=64")->Spec(), "snapkv:budget=64,recent=32,window=32,pool=7,every=0");
  EXPECT_EQ(MakePolicy("cluster:budget=64")->Spec(), "cluster:budget=64,sinks=4,summaries=16,assign=kmeans,metric=cosine");
  // topk < budget amortizes eviction: the bound stays the budget.
  EXPECT_EQ(MakePolicy("sketch:budget=64,recent=8,topk=16")->MaxSlots(), 64u);
  EXPECT_EQ(MakePolicy("cluster:budget=40,summaries=8")->MaxSlots(), 40u);
  EXPECT_EQ(MakePolicy("h2o:recent=8,budget=32+window:budget=24")->Spec(), "h2o:budget=32,recent=8+window:budget=24");
  EXPECT_EQ(MakePolicy("h2o:budget=32+window:budget=24")->MaxSlots(), 24u);
}

TEST(PolicySpec, RejectsBadSpecsNamingTheOffendingPart) {
  EXPECT_NE(ErrorOf("").find("empty"), std::string::npos);
  EXPECT_NE(ErrorOf("lru:budget=4").find("unknown policy 'lru'"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=64,recnt=8").find("unknown key 'recnt'"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=abc").find("budget=abc"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=0").find("budget=0"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:recent=8").find("needs budget"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=16,recent=8,sinks=10").find("impossible budget"), std::string::npos);
  EXPECT_NE(ErrorOf("sinks:budget=4,sinks=4").find("impossible budget"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget").find("not key=value"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=8,budget=9").find("given twice"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=8+").find("empty part"), std::string::npos);
  EXPECT_NE(ErrorOf("full:budget=8").find("unknown key 'budget'"), std::string::npos);
  // Sketch, cluster and snapkv specs.
  EXPECT_NE(ErrorOf("sketch:width=0,budget=8").find("width=0"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:depth=0,budget=8").find("depth=0"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:depth=65,budget=8").find("depth=65"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:type=bloom,budget=8").find("type=bloom"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:budget=16,recent=8,topk=9").find("topk=9"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:budget=16,recent=12,sinks=8").find("impossible budget"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:width=64").find("needs budget"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:budget=16,strategy=mean").find("strategy=mean"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:budget=16,bits=4").find("unknown key 'bits'"), std::string::npos);  // race only
  EXPECT_NE(ErrorOf("sketch:type=cs,budget=16,conservative=true").find("unknown key 'conservative'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("sketch:budget=16,summaries=4").find("unknown key 'summaries'"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:budget=16,chunk=4").find("unknown key 'chunk'"), std::string::npos);  // topk does it
  EXPECT_NE(ErrorOf("sketch:type=race,bits=33,budget=16").find("bits=33"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:decay=1.5,budget=16").find("decay=1.5"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:budget=16,recent=8,strategy=aggregate,summaries=9").find("impossible budget"),
            std::string::npos);
  EXPECT_NE(ErrorOf("sketch:budget=16,strategy=aggregate,summaries=0").find("summaries=0"), std::string::npos);
  EXPECT_NE(ErrorOf("cluster:budget=16,summaries=12").find("impossible budget"), std::string::npos);
  EXPECT_NE(ErrorOf("cluster:budget=64,assign=lsh,metric=l2").find("unknown key 'metric'"), std::string::npos);
  EXPECT_NE(ErrorOf("cluster:budget=64,assign=kmeans,seed=2").find("unknown key 'seed'"), std::string::npos);
  EXPECT_NE(ErrorOf("cluster:budget=16,assign=tree").find("assign=tree"), std::string::npos);
  EXPECT_NE(ErrorOf("cluster:summaries=4").find("needs budget"), std::string::npos);
  EXPECT_NE(ErrorOf("snapkv:budget=16").find("impossible budget"), std::string::npos);  // recent = window = 32
  EXPECT_NE(ErrorOf("snapkv:budget=64,pool=4").find("pool=4"), std::string::npos);
  EXPECT_NE(ErrorOf("snapkv:budget=64,window=0").find("window=0"), std::string::npos);
  EXPECT_NE(ErrorOf("snapkv:budget=64,every=-1").find("every=-1"), std::string::npos);
  for (const char* bad : {"", "lru", "h2o:budget=-1"}) EXPECT_EQ(ErrorOf(bad).rfind("--kv: ", 0), 0u) << bad;
}

TEST(PolicySpec, QuantSpecsParseAndBadOnesAreRejected) {
  for (const char* spec : {"quant:k=int4,v=int4,group=32,residual=64", "quant:k=int8,v=int8,group=32,residual=0",
                           "quant:k=f16,v=bf16,group=32,residual=16", "quant:k=int2,v=f32,group=8,residual=0",
                           "h2o:budget=128,recent=32+quant:k=int4,v=int4,group=32,residual=64",
                           "quant:k=int2,v=int4,group=32,residual=64,kaxis=channel"}) {
    auto p = MakePolicy(spec);
    EXPECT_EQ(p->Spec(), spec);
    EXPECT_EQ(MakePolicy(p->Spec())->Spec(), spec);
  }
  // Defaults, the bits= shorthand, and the codec a composite hands to its cache.
  EXPECT_EQ(MakePolicy("quant")->Spec(), "quant:k=int8,v=int8,group=32,residual=0");
  EXPECT_EQ(MakePolicy("quant:bits=4,v=int2")->Spec(), "quant:k=int4,v=int2,group=32,residual=0");
  EXPECT_EQ(MakePolicy("quant:k=int4,v=int4")->MaxSlots(), KvPolicy::kUnbounded);
  const KvCodec codec = MakePolicy("sinks:budget=64+quant:k=int4,v=int2,group=16,residual=8")->Codec();
  EXPECT_EQ(codec.k, CodecType::kInt4);
  EXPECT_EQ(codec.v, CodecType::kInt2);
  EXPECT_EQ(codec.group, 16u);
  EXPECT_EQ(codec.residual, 8u);
  EXPECT_EQ(MakePolicy("sinks:budget=64+quant:k=int4")->MaxSlots(), 64u);
  EXPECT_FALSE(MakePolicy("h2o:budget=64")->Codec().quantized());
  EXPECT_FALSE(CacheCodecFor(nullptr).quantized());

  EXPECT_NE(ErrorOf("quant:bits=3").find("bits=3 is not one of: 2, 4, 8"), std::string::npos);
  EXPECT_NE(ErrorOf("quant:k=int3").find("k=int3 is not one of"), std::string::npos);
  EXPECT_NE(ErrorOf("quant:v=fp8").find("v=fp8 is not one of"), std::string::npos);
  EXPECT_NE(ErrorOf("quant:group=0").find("group=0 is out of range"), std::string::npos);
  EXPECT_NE(ErrorOf("quant:residual=-1").find("residual=-1"), std::string::npos);
  // KIVI per-channel keys move `group` tokens out of the f32 window at a time, as integer codes.
  EXPECT_NE(ErrorOf("quant:kaxis=channel").find("kaxis=channel needs residual >= group"), std::string::npos);
  EXPECT_NE(ErrorOf("quant:k=f16,v=int4,kaxis=channel,residual=64").find("needs integer keys"), std::string::npos);
  EXPECT_NE(ErrorOf("quant:kaxis=row").find("kaxis=row is not one of"), std::string::npos);
  EXPECT_NE(ErrorOf("quant:k=f32,v=f32").find("quantizes nothing"), std::string::npos);
  EXPECT_NE(ErrorOf("quant:budget=64").find("unknown key 'budget'"), std::string::npos);
  EXPECT_NE(ErrorOf("quant:k=int4+quant:k=int8").find("more than one quant part"), std::string::npos);
}

TEST(PolicySpec, ScoredPoliciesAmortizeEvictionByDefault) {
  EXPECT_EQ(DefaultChunk(128, 0, 32), 16u);  // budget / 8
  EXPECT_EQ(DefaultChunk(40, 4, 32), 2u);    // half of the 4 scored slots
  EXPECT_EQ(DefaultChunk(36, 4, 32), 0u);    // nothing scored: nothing to amortize
  // The default is not printed; chunk=0 (the papers' one-per-token eviction) is, and both round-trip.
  EXPECT_EQ(MakePolicy("h2o:budget=128,recent=32,chunk=16")->Spec(), "h2o:budget=128,recent=32");
  EXPECT_EQ(MakePolicy("h2o:budget=128,recent=32,chunk=0")->Spec(), "h2o:budget=128,recent=32,chunk=0");
  EXPECT_EQ(MakePolicy(MakePolicy("tova:budget=64,chunk=0")->Spec())->Spec(), "tova:budget=64,chunk=0");
  // The memory bound stays the budget; a composite's window/sinks keep chunk 0.
  EXPECT_EQ(MakePolicy("h2o:budget=128,recent=32")->MaxSlots(), 128u);
  EXPECT_EQ(MakePolicy("window:budget=64")->Spec(), "window:budget=64");
  // An explicit chunk that leaves no room is still refused.
  EXPECT_NE(ErrorOf("h2o:budget=40,recent=32,chunk=9").find("impossible budget"), std::string::npos);
}

}  // namespace
}  // namespace kvlab
