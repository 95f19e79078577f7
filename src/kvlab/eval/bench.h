// Throughput benchmark of the forward pass (what `kvlab bench` runs): prefill tokens/s, decode tokens/s
// at a given context depth, and the bytes a decode step must read, for comparison with the bandwidth bound.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "kvlab/model/model.h"

namespace kvlab {

struct BenchOptions {
  int32_t prompt_tokens = 128;  // prefill test: this many tokens in one Forward call (0: skip)
  int32_t gen_tokens = 32;      // decode test: this many single-token steps (0: skip)
  int32_t depth = 0;            // decode test: tokens already in the cache before the timed steps
  int32_t repetitions = 3;
  uint64_t seed = 1;
  std::string kv = "full";      // KV-cache policy spec applied during both tests
  // Measure the read bandwidth right before and right after each timed decode repetition, so every
  // repetition is compared with the bandwidth of its own moment, the better of the two (on a shared
  // machine the bandwidth drifts by tens of percent).
  bool bandwidth_per_repetition = false;
  // Time the decode steps with every mat-vec replaced by the bandwidth probe's read of its weights
  // (kernels::ProbeRows): the step's speed were its kernels as fast as the probe. Its tokens are meaningless.
  bool probe_matvecs = false;
};

struct Stat {
  double mean = 0, stddev = 0, best = 0;
};

// Where a decode step's wall time went (ops/region_timer.h), in ms per step over the timed repetitions:
// the parallel regions the step ran, by what they read, and the serial work between them (the step's
// time less its regions': norms, RoPE and the cache append, activations, a policy's serial eviction).
struct StepPhases {
  double weights_ms = 0;          // mat-vecs: every weight matrix streamed once
  double attention_ms = 0;        // attention over the cache, a policy's Observe included
  double other_regions_ms = 0;    // other parallel regions (a policy's eviction on several threads)
  double between_regions_ms = 0;  // no region running: the calling thread's serial work
  double wait_ms = 0;             // part of the regions' time: the calling thread waiting for the others
  // The mean step: the timed steps' wall time over their count (decode_ms_per_token is 1000 / the mean
  // of the repetitions' tokens/s, a little shorter when the repetitions' speeds differ).
  double StepMs() const { return weights_ms + attention_ms + other_regions_ms + between_regions_ms; }
};

struct BenchResult {
  Stat prefill_tok_s;     // tokens/s of the prefill test
  Stat decode_tok_s;      // tokens/s of the decode test
  double decode_ms_per_token = 0;  // mean
  int64_t weight_bytes = 0;        // bytes of weights one decode step reads
  int64_t kv_bytes_read = 0;       // mean KV bytes one timed decode step reads
  double decode_gb_s = 0;          // (weight_bytes + kv_bytes_read) * mean decode tok/s / 1e9
  int64_t kv_bytes = 0;            // cache bytes at the end of the decode test
  int64_t policy_bytes = 0;        // policy metadata bytes at the end of the decode test
  // Time in the policy's hooks per decode step. Observe (with WillObserve) runs inside the attention, on
  // every attention thread at once; Compress is timed around the call (wall time: a policy may evict a
  // layer's heads on several threads).
  double policy_observe_ms_per_token = 0;          // summed over threads
  double policy_observe_busiest_ms_per_token = 0;  // the thread that spent the most (PolicyTimer)
  double policy_compress_ms_per_token = 0;
  // The hooks' time with Observe summed over threads: CPU time, an upper bound on what they cost a step.
  double PolicyMsPerToken() const { return policy_observe_ms_per_token + policy_compress_ms_per_token; }
  // What the step waits for: the busiest thread's Observe, plus Compress.
  double PolicyWallMsPerToken() const {
    return policy_observe_busiest_ms_per_token + policy_compress_ms_per_token;
  }
  // Each as a share of the decode step (0 without a decode test).
  double PolicyFractionOfStep() const {
    return decode_ms_per_token > 0 ? PolicyMsPerToken() / decode_ms_per_token : 0.0;
  }
  double PolicyWallFractionOfStep() const {
    return decode_ms_per_token > 0 ? PolicyWallMsPerToken() / decode_ms_per_token : 0.0;
  }
  // With bandwidth_per_repetition: the bandwidth measured beside each decode repetition (the best of three
  // passes before it, one among its steps after every 16 and three after it), and each repetition's
  // decode GB/s divided by it (the fraction of the bandwidth bound).
  Stat membw_gb_s;
  Stat fraction_of_bound;
  // The same passes' mean rate over their best (the bound): the fraction that a step reading its bytes
  // as fast as the probe reads them on average would reach. The bound is the best pass, and on a shared
  // host a pass catches a quiet moment that a whole repetition of steps does not (eval/membw.h).
  Stat probe_mean_of_bound;
  // The best of the same passes' plain reads alone over the bound (ops/stream_read.h): at most 1, and
  // below it where the prefetched read was the faster.
  Stat plain_read_of_bound;
  // What that bandwidth was measured on: the model's weights and the cache's row stores, or (small models)
  // a buffer of the probe's own.
  bool bound_on_step_memory = false;
  StepPhases phases;  // zero without a decode test
};

BenchResult RunBench(const Model& model, const BenchOptions& options);

// Every field (Stat as its mean, plus _std for the tokens/s and the fraction); "phases" (PhasesJson) only
// with a decode test, the membw fields only when a bandwidth was measured.
nlohmann::json ToJson(const BenchResult& r);
// The step's phases as ToJson writes them ("phases": ms per step, and the weights' and the cache's read
// rates in GB/s where their regions took any time).
nlohmann::json PhasesJson(const BenchResult& r);
// The policy fields of ToJson alone (its bytes and its hooks' times, summed and on the busiest thread), for
// a caller that writes one record per depth.
nlohmann::json PolicyJson(const BenchResult& r);

}  // namespace kvlab
