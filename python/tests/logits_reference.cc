// The C++ API's logits for given token ids, for python/tests/test_stream.py to hold the Python package's
// equal to them bit for bit: loads the model with LoadModel, runs Model::Forward in chunks of max_batch
// (as a Stream does) with THREADS threads (their count changes how sums are split) and writes float32
// [ids][vocab] to a file.
//   kvlab_logits_reference MODEL KV MAX_BATCH THREADS OUT.f32 ID...
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "kvlab/kv/registry.h"
#include "kvlab/model/model.h"
#include "kvlab/ops/threads.h"
#include "kvlab/util/assets.h"
#include "kvlab/util/error.h"

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s MODEL KV MAX_BATCH THREADS OUT.f32 ID...\n", argv[0]);
    return 2;
  }
  try {
    kvlab::SetNumThreads(std::atoi(argv[4]));
    const kvlab::Model model(kvlab::LoadModel(kvlab::ResolveModelPath(argv[1])));
    const kvlab::ModelConfig& c = model.config();
    std::unique_ptr<kvlab::KvPolicy> policy = kvlab::MakePolicy(argv[2]);
    const size_t max_batch = std::strtoul(argv[3], nullptr, 10);
    std::vector<int32_t> ids;
    for (int i = 6; i < argc; ++i) ids.push_back(std::atoi(argv[i]));
    policy->Bind(c.CacheShape());
    kvlab::KvCache cache(c.CacheShape(),
                         kvlab::RequiredCapacity(policy.get(), static_cast<size_t>(c.max_seq_len), max_batch),
                         kvlab::CacheCodecFor(policy.get()));
    kvlab::Activations act(c, max_batch);
    std::vector<float> logits(ids.size() * static_cast<size_t>(c.vocab_size));
    model.Forward(ids, 0, cache, act, logits.data(), kvlab::LogitsFor::kAllTokens, policy.get());
    std::ofstream out(argv[5], std::ios::binary);
    out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * 4));
    return out ? 0 : 1;
  } catch (const kvlab::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
