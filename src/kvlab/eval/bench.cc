#include "kvlab/eval/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include "kvlab/eval/membw.h"
#include "kvlab/eval/policy_timer.h"
#include "kvlab/kv/registry.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/ops/region_timer.h"
#include "kvlab/ops/threads.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {
// Large enough to stream mostly from DRAM, small enough (3 reads, ~30 ms) to run after every repetition.
// Not all of it: on the EPYC of BENCHMARKS.md the last-level cache still feeds reads of 256 MiB (67 GB/s
// on average against 60 over 512 MiB or more, BM_ReadBandwidth), and footprints above kMinOwnProbeBytes
// but under a few hundred MB (a q8 110M model's) get a partly cache-fed bound.
constexpr size_t kRepetitionBandwidthBytes = size_t{256} << 20;
// Below this a model and its cache sit largely in the last-level cache: the bound is then measured on a
// buffer of kRepetitionBandwidthBytes instead, closer to DRAM's bandwidth.
constexpr size_t kMinOwnProbeBytes = size_t{64} << 20;
// One probe pass among a repetition's steps after every this many (not after the last: the three passes
// after the repetition follow it). Three passes before and three after sampled the host over ~1/10 of the
// time the steps ran: a repetition that caught a quieter stretch than its passes read above its bound
// (bf16 weights at 105% of it on 2026-12-07). A pass costs about one step of a model whose bytes it reads.
constexpr int32_t kStepsPerProbePass = 16;
// Probe passes right before and right after each repetition.
constexpr int kPassesAroundRepetition = 3;

// The probe beside each repetition reads what a decode step reads, the model's weights and the cache's
// row stores, on their own pages (eval/membw.h says why); small models get a separate buffer.
ReadBandwidthProbe MakeRepetitionProbe(const Model& model, const KvCache& cache, bool& on_step_memory) {
  std::vector<std::span<const std::byte>> regions = cache.RowStores();
  const HugePageBuffer& arena = model.loaded().arena;
  if (arena.size() > 0) regions.push_back({static_cast<const std::byte*>(arena.data()), arena.size()});
  ReadBandwidthProbe own(NumThreads(), std::move(regions));
  on_step_memory = own.bytes() >= kMinOwnProbeBytes;
  if (on_step_memory) return own;
  return ReadBandwidthProbe(NumThreads(), kRepetitionBandwidthBytes);
}

Stat Summarize(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) {
    s.mean += x;
    s.best = std::max(s.best, x);
  }
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(s.stddev / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

// BenchOptions::probe_matvecs for the scope's lifetime (the timed steps, not the prefill of their depth).
// Off, it leaves the process-wide switch alone.
class ProbeMatVecsScope {
 public:
  explicit ProbeMatVecsScope(bool on) : on_(on) {
    if (on_) kernels::SetProbeMatVecs(true);
  }
  ~ProbeMatVecsScope() {
    if (on_) kernels::SetProbeMatVecs(false);
  }
  ProbeMatVecsScope(const ProbeMatVecsScope&) = delete;
  ProbeMatVecsScope& operator=(const ProbeMatVecsScope&) = delete;

 private:
  const bool on_;
};

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

BenchResult RunBench(const Model& model, const BenchOptions& o) {
  const ModelConfig& c = model.config();
  if (o.prompt_tokens < 0 || o.gen_tokens < 0 || o.depth < 0 || o.repetitions <= 0) {
    throw Error("bench", "token counts must be >= 0 and repetitions > 0");
  }
  if (c.arch == Arch::kGpt2 && std::max(o.prompt_tokens, o.depth + o.gen_tokens) > c.max_seq_len) {
    throw Error("bench",
                "GPT-2 models cannot go past their " + std::to_string(c.max_seq_len) + " learned positions",
                "lower -p, -n or -d");
  }
  // Random token ids: random-weight models have no meaningful text anyway, and it keeps runs repeatable.
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> pick(0, c.vocab_size - 1);
  const size_t longest = static_cast<size_t>(std::max(o.prompt_tokens, o.depth + o.gen_tokens));
  std::vector<int32_t> tokens(std::max<size_t>(longest, 1));
  for (int32_t& t : tokens) t = pick(rng);

  const std::unique_ptr<KvPolicy> prototype = MakePolicy(o.kv);
  prototype->Bind(c.CacheShape());
  constexpr size_t kBatch = 256;
  KvCache cache(c.CacheShape(), RequiredCapacity(prototype.get(), longest + 1, kBatch),
                CacheCodecFor(prototype.get()));
  Activations act(c, kBatch);
  std::vector<float> logits(c.vocab_size);
  BenchResult r;
  r.weight_bytes = model.loaded().WeightBytes();

  std::vector<double> prefill, decode, membw, fraction, probe_mean, plain_read;
  // The bound of each repetition: the best of the passes just before it, among its steps and just after
  // it (the shared host's bandwidth drifts by tens of percent within minutes, and a repetition lasts
  // about a second).
  std::optional<ReadBandwidthProbe> probe;
  if (o.bandwidth_per_repetition && o.gen_tokens > 0) {
    probe.emplace(MakeRepetitionProbe(model, cache, r.bound_on_step_memory));
  }
  MemBandwidth before;  // the passes right before the repetition
  double kv_read = 0;
  double observe_ns = 0, observe_busiest_ns = 0, compress_ns = 0;  // PolicyTimer, summed over the timed repetitions
  RegionTimes regions;        // the decode steps' parallel regions, summed over the timed repetitions
  double decode_seconds = 0;  // the timed steps' wall time, summed likewise
  // Repetition -1 is a warm-up (page faults, caches, thread wake-up) and is not recorded.
  for (int32_t rep = -1; rep < o.repetitions; ++rep) {
    if (o.prompt_tokens > 0) {
      cache.Clear();
      std::unique_ptr<KvPolicy> policy = prototype->Clone();  // fresh state for every run
      const auto t0 = std::chrono::steady_clock::now();
      model.Forward({tokens.data(), static_cast<size_t>(o.prompt_tokens)}, 0, cache, act, logits.data(),
                    LogitsFor::kLastToken, policy.get());
      if (rep >= 0) prefill.push_back(o.prompt_tokens / Seconds(t0));
    }
    if (o.gen_tokens > 0) {
      cache.Clear();
      PolicyTimer policy(prototype->Clone());
      if (o.depth > 0) {
        model.Forward({tokens.data(), static_cast<size_t>(o.depth)}, 0, cache, act, logits.data(),
                      LogitsFor::kLastToken, &policy);
      }
      policy.ResetTimes();
      const bool probing = probe && rep >= 0;
      if (probing) before = probe->Measure(kPassesAroundRepetition);
      MemBandwidth among;  // the passes among the steps: their best, and the sum of their rates
      double among_rates = 0;
      int among_passes = 0;
      const double kv_before = static_cast<double>(cache.Bytes());
      RegionTimes rep_regions;
      double seconds = 0;  // the steps' own time, without the passes among them
      const ProbeMatVecsScope probe_matvecs(o.probe_matvecs);
      StartRegionTimer(&rep_regions);
      auto t0 = std::chrono::steady_clock::now();
      for (int32_t i = 0; i < o.gen_tokens; ++i) {
        const int32_t pos = o.depth + i;
        model.Forward({&tokens[pos], 1}, pos, cache, act, logits.data(), LogitsFor::kLastToken, &policy);
        if (probing && (i + 1) % kStepsPerProbePass == 0 && i + 1 < o.gen_tokens) {
          seconds += Seconds(t0);
          StopRegionTimer();
          const MemBandwidth pass = probe->Measure(1);
          among.gb_per_s = std::max(among.gb_per_s, pass.gb_per_s);
          among.plain_gb_per_s = std::max(among.plain_gb_per_s, pass.plain_gb_per_s);
          among_rates += pass.gb_per_s;
          ++among_passes;
          StartRegionTimer(&rep_regions);
          t0 = std::chrono::steady_clock::now();
        }
      }
      seconds += Seconds(t0);
      StopRegionTimer();
      const double tok_s = o.gen_tokens / seconds;
      // Each step reads the cache as it stands after its own append; average over the steps.
      kv_read = (kv_before + static_cast<double>(cache.Bytes())) / 2.0;
      if (rep >= 0) {
        decode.push_back(tok_s);
        regions += rep_regions;
        decode_seconds += seconds;
        observe_ns += static_cast<double>(policy.ObserveNs());
        observe_busiest_ns += static_cast<double>(policy.BusiestThreadObserveNs());
        compress_ns += static_cast<double>(policy.CompressNs());
        if (probe) {
          // The best of the passes before, among and after the steps: the bound is the machine's peak,
          // which a moment of other load on a shared host only hides (the mean of the passes could read
          // below what the decode itself reached, and put the fraction above 100%).
          const MemBandwidth after = probe->Measure(kPassesAroundRepetition);
          const double gb_s = std::max({before.gb_per_s, among.gb_per_s, after.gb_per_s});
          membw.push_back(gb_s);
          fraction.push_back((static_cast<double>(r.weight_bytes) + kv_read) * tok_s / 1e9 / gb_s);
          // The probe held to its own best: what a step streaming its bytes exactly as the probe does, at
          // its average over the same passes, would reach.
          const double mean_rate =
              (kPassesAroundRepetition * (before.mean_gb_per_s + after.mean_gb_per_s) + among_rates) /
              static_cast<double>(2 * kPassesAroundRepetition + among_passes);
          probe_mean.push_back(mean_rate / gb_s);
          plain_read.push_back(std::max({before.plain_gb_per_s, among.plain_gb_per_s, after.plain_gb_per_s}) /
                               gb_s);
        }
      }
      r.kv_bytes = static_cast<int64_t>(cache.Bytes());
      r.policy_bytes = static_cast<int64_t>(policy.MetadataBytes());
    }
  }
  r.prefill_tok_s = Summarize(prefill);
  r.decode_tok_s = Summarize(decode);
  r.membw_gb_s = Summarize(membw);
  r.fraction_of_bound = Summarize(fraction);
  r.probe_mean_of_bound = Summarize(probe_mean);
  r.plain_read_of_bound = Summarize(plain_read);
  if (r.decode_tok_s.mean > 0) {
    r.decode_ms_per_token = 1000.0 / r.decode_tok_s.mean;
    r.kv_bytes_read = static_cast<int64_t>(kv_read);
    const double steps = static_cast<double>(o.gen_tokens) * o.repetitions;
    r.policy_observe_ms_per_token = observe_ns / 1e6 / steps;
    r.policy_observe_busiest_ms_per_token = observe_busiest_ns / 1e6 / steps;
    r.policy_compress_ms_per_token = compress_ns / 1e6 / steps;
    r.decode_gb_s = static_cast<double>(r.weight_bytes + r.kv_bytes_read) * r.decode_tok_s.mean / 1e9;
    auto ms_per_step = [steps](double ns) { return ns / 1e6 / steps; };
    r.phases.weights_ms = ms_per_step(static_cast<double>(regions.Ns(RegionKind::kWeights)));
    r.phases.attention_ms = ms_per_step(static_cast<double>(regions.Ns(RegionKind::kAttention)));
    r.phases.other_regions_ms = ms_per_step(static_cast<double>(regions.Ns(RegionKind::kOther)));
    // Rounding of the two clocks aside, never below 0: the regions run inside the timed steps.
    r.phases.between_regions_ms =
        std::max(0.0, ms_per_step(decode_seconds * 1e9 - static_cast<double>(regions.TotalNs())));
    r.phases.wait_ms = ms_per_step(static_cast<double>(regions.TotalWaitNs()));
  }
  return r;
}

nlohmann::json PolicyJson(const BenchResult& r) {
  return {
      {"policy_bytes", r.policy_bytes},
      {"policy_ms_per_token", r.PolicyMsPerToken()},
      {"policy_observe_ms_per_token", r.policy_observe_ms_per_token},
      {"policy_compress_ms_per_token", r.policy_compress_ms_per_token},
      {"policy_fraction_of_step", r.PolicyFractionOfStep()},
      {"policy_observe_busiest_ms_per_token", r.policy_observe_busiest_ms_per_token},
      {"policy_wall_ms_per_token", r.PolicyWallMsPerToken()},
      {"policy_wall_fraction_of_step", r.PolicyWallFractionOfStep()},
  };
}

nlohmann::json PhasesJson(const BenchResult& r) {
  const StepPhases& p = r.phases;
  nlohmann::json j = {{"weights_ms", p.weights_ms},
                      {"attention_ms", p.attention_ms},
                      {"other_regions_ms", p.other_regions_ms},
                      {"between_regions_ms", p.between_regions_ms},
                      {"wait_ms", p.wait_ms}};
  // bytes / (ms * 1e6) = GB/s
  if (p.weights_ms > 0) j["weights_gb_s"] = static_cast<double>(r.weight_bytes) / (p.weights_ms * 1e6);
  if (p.attention_ms > 0) j["attention_gb_s"] = static_cast<double>(r.kv_bytes_read) / (p.attention_ms * 1e6);
  return j;
}

nlohmann::json ToJson(const BenchResult& r) {
  nlohmann::json j = {
      {"prefill_tok_s", r.prefill_tok_s.mean},
      {"prefill_tok_s_std", r.prefill_tok_s.stddev},
      {"decode_tok_s", r.decode_tok_s.mean},
      {"decode_tok_s_std", r.decode_tok_s.stddev},
      {"decode_ms_per_token", r.decode_ms_per_token},
      {"weight_bytes", r.weight_bytes},
      {"kv_bytes_read", r.kv_bytes_read},
      {"decode_gb_s", r.decode_gb_s},
      {"kv_bytes", r.kv_bytes},
  };
  j.update(PolicyJson(r));
  if (r.decode_tok_s.mean > 0) j["phases"] = PhasesJson(r);
  if (r.membw_gb_s.mean > 0) {
    j["membw_gb_s"] = r.membw_gb_s.mean;
    j["fraction_of_bound"] = r.fraction_of_bound.mean;
    j["fraction_of_bound_std"] = r.fraction_of_bound.stddev;
    j["probe_mean_of_bound"] = r.probe_mean_of_bound.mean;
    j["plain_read_of_bound"] = r.plain_read_of_bound.mean;
    j["bound_on_step_memory"] = r.bound_on_step_memory;
  }
  return j;
}

}  // namespace kvlab
