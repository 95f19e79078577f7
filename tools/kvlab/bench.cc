// kvlab bench: prefill and decode throughput, effective bandwidth, and the fraction of the machine's
// memory-bandwidth bound that decode reaches (DESIGN.md §6).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "kvlab/eval/bench.h"
#include "kvlab/eval/membw.h"
#include "kvlab/kv/registry.h"
#include "kvlab/ops/cpu_features.h"
#include "kvlab/ops/threads.h"

namespace kvlab::cli {

namespace {
struct BenchArgs {
  ModelOptions model;
  BenchOptions bench;
  std::vector<int32_t> depths;  // decode depths (-d 128,1024,4096): one decode test per depth
  bool membw_only = false;
  bool no_membw = false;
  bool json = false;
};

// Where the decode step's time went (StepPhases) and the read rates of the regions that stream memory,
// each against the bound when one was measured beside the repetitions.
void PrintPhases(const BenchResult& r, double bound_gb_s) {
  const StepPhases& p = r.phases;
  const double step = p.StepMs();
  if (step <= 0) return;
  auto share = [step](double ms) { return 100.0 * ms / step; };
  std::printf(
      "step    %.3f ms = weights %.3f (%.1f%%) + attention %.3f (%.1f%%) + other regions %.3f (%.1f%%) + "
      "between regions %.3f (%.1f%%)\n",
      step, p.weights_ms, share(p.weights_ms), p.attention_ms, share(p.attention_ms), p.other_regions_ms,
      share(p.other_regions_ms), p.between_regions_ms, share(p.between_regions_ms));
  auto rate = [bound_gb_s](double bytes, double ms) {
    if (ms <= 0) return std::string("-");
    const double gb_s = bytes / (ms * 1e6);
    char text[64];
    if (bound_gb_s > 0) {
      std::snprintf(text, sizeof text, "%.1f GB/s (%.0f%% of the bound)", gb_s, 100.0 * gb_s / bound_gb_s);
    } else {
      std::snprintf(text, sizeof text, "%.1f GB/s", gb_s);
    }
    return std::string(text);
  };
  std::printf(
      "        weights read at %s, the cache at %s; the regions include %.3f ms (%.1f%%) of waiting "
      "for the other threads\n",
      rate(static_cast<double>(r.weight_bytes), p.weights_ms).c_str(),
      rate(static_cast<double>(r.kv_bytes_read), p.attention_ms).c_str(), p.wait_ms, share(p.wait_ms));
}

void Run(const BenchArgs& a) {
  SetNumThreads(a.model.threads);
  MemBandwidth bw;
  if (a.membw_only || !a.no_membw) bw = MeasureReadBandwidth(NumThreads());
  if (a.membw_only) {
    nlohmann::json j = {{"threads", bw.threads},
                        {"read_gb_s", bw.gb_per_s},
                        {"plain_read_gb_s", bw.plain_gb_per_s},
                        {"prefetched_read_gb_s", bw.prefetched_gb_per_s},
                        {"buffer_bytes", bw.bytes}};
    if (a.json) {
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf(
          "memory read bandwidth: %.1f GB/s (%d threads, %zu MiB buffer, best of 10 passes; plain read %.1f, "
          "prefetched read %.1f)\n",
          bw.gb_per_s, bw.threads, bw.bytes >> 20, bw.plain_gb_per_s, bw.prefetched_gb_per_s);
    }
    return;
  }
  MakePolicy(a.bench.kv);  // a bad spec fails before the model is loaded
  // Load time: reading, dequantizing or converting, and packing the weights into the arena.
  const auto load_start = std::chrono::steady_clock::now();
  auto model = LoadModelFromOptions(a.model);
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
  // What the decode kernels read: the dtype of the layer matrices (after --weights).
  const LoadedModel& loaded = model->loaded();
  const std::string weight_dtype(
      DTypeName(loaded.weights.layers.empty() ? loaded.weights.lm_head.dtype : loaded.weights.layers[0].wq.dtype));
  // One decode test per depth, so ms/token can be read as the context grows; the prefill test runs once.
  std::vector<int32_t> depths = a.depths;
  if (depths.empty()) depths.push_back(0);
  nlohmann::json by_depth = nlohmann::json::array();
  nlohmann::json j;
  for (size_t i = 0; i < depths.size(); ++i) {
    BenchOptions o = a.bench;
    o.depth = depths[i] == 0 ? o.prompt_tokens : depths[i];  // decode right after a prompt of -p tokens
    if (i > 0) o.prompt_tokens = 0;
    o.bandwidth_per_repetition = !a.no_membw;
    const BenchResult r = RunBench(*model, o);
    const double bytes_per_token = static_cast<double>(r.weight_bytes + r.kv_bytes_read);
    // The bound: the bandwidth measured beside each decode repetition (the start-up measurement only when
    // there was no decode test), and the fraction averaged over the repetitions.
    const double bound_gb_s = r.membw_gb_s.mean > 0 ? r.membw_gb_s.mean : bw.gb_per_s;
    const double bound_tok_s = bound_gb_s > 0 ? bound_gb_s * 1e9 / bytes_per_token : 0;
    const double fraction = r.fraction_of_bound.mean > 0 ? r.fraction_of_bound.mean
                                                         : (bound_tok_s > 0 ? r.decode_tok_s.mean / bound_tok_s : 0.0);
    nlohmann::json depth = {{"depth", o.depth},
                            {"decode_tok_s", r.decode_tok_s.mean},
                            {"decode_ms_per_token", r.decode_ms_per_token},
                            {"kv_bytes", r.kv_bytes},
                            {"kv_bytes_read", r.kv_bytes_read},
                            {"membw_gb_s", bound_gb_s},
                            {"bound_on_step_memory", r.bound_on_step_memory},
                            {"fraction_of_bound", fraction},
                            {"fraction_of_bound_std", r.fraction_of_bound.stddev}};
    if (r.probe_mean_of_bound.mean > 0) {
      depth["probe_mean_of_bound"] = r.probe_mean_of_bound.mean;
      depth["plain_read_of_bound"] = r.plain_read_of_bound.mean;
    }
    depth.update(PolicyJson(r));
    if (o.gen_tokens > 0) depth["phases"] = PhasesJson(r);
    by_depth.push_back(std::move(depth));
    if (i == 0) {  // the top-level fields describe the first depth (and the prefill test)
      // The measurements as the library writes them, then what this run adds: its settings, and the bound
      // as chosen above (the start-up measurement where no repetition measured one).
      j = ToJson(r);
      j.update({
          {"model", a.model.model},
          {"threads", NumThreads()},
          {"simd", SimdLevelName(ActiveSimdLevel())},
          {"weights", weight_dtype},
          {"prompt_tokens", o.prompt_tokens},
          {"gen_tokens", o.gen_tokens},
          {"depth", o.depth},
          {"repetitions", o.repetitions},
          {"kv", o.kv},
          {"probe_matvecs", o.probe_matvecs},
          {"membw_gb_s", bound_gb_s},
          {"bound_on_step_memory", r.bound_on_step_memory},
          {"startup_membw_gb_s", bw.gb_per_s},
          {"bound_tok_s", bound_tok_s},
          {"fraction_of_bound", fraction},
          {"fraction_of_bound_std", r.fraction_of_bound.stddev},
      });
      if (!a.json) {
        std::printf("model %s | %d threads | %s kernels | weights %s %.1f MB | kv %s\n", a.model.model.c_str(),
                    NumThreads(), SimdLevelName(ActiveSimdLevel()), weight_dtype.c_str(), r.weight_bytes / 1e6,
                    o.kv.c_str());
        if (o.probe_matvecs) {
          std::printf(
              "probe   every decode mat-vec only reads its weights as the bound's probe does: the step's "
              "time is its ceiling, its tokens are meaningless\n");
        }
        if (o.prompt_tokens > 0) {
          std::printf("prefill pp%-5d %9.1f ± %.1f tok/s\n", o.prompt_tokens, r.prefill_tok_s.mean,
                      r.prefill_tok_s.stddev);
        }
      }
    }
    if (a.json || o.gen_tokens == 0) continue;
    std::printf("decode  tg%-5d %9.1f ± %.1f tok/s  (%.2f ms/token at depth %d, %.1f GB/s effective)\n", o.gen_tokens,
                r.decode_tok_s.mean, r.decode_tok_s.stddev, r.decode_ms_per_token, o.depth, r.decode_gb_s);
    std::printf("kv      %.2f MB cache + %.3f MB policy state; policy hooks %.3f ms/token (%.2f%% of a step)\n",
                r.kv_bytes / 1e6, r.policy_bytes / 1e6, r.PolicyMsPerToken(), 100.0 * r.PolicyFractionOfStep());
    if (r.PolicyMsPerToken() > 0) {
      std::printf("        = Observe %.3f ms summed over the attention's threads + Compress %.3f ms\n",
                  r.policy_observe_ms_per_token, r.policy_compress_ms_per_token);
      std::printf("        the step waits %.3f ms on them (%.2f%%): Observe on its busiest thread %.3f ms + Compress\n",
                  r.PolicyWallMsPerToken(), 100.0 * r.PolicyWallFractionOfStep(),
                  r.policy_observe_busiest_ms_per_token);
    }
    PrintPhases(r, r.membw_gb_s.mean);
    if (bound_tok_s > 0) {
      std::printf(
          "bound   %.1f GB/s read bandwidth (%s, best of the passes before, among and after each "
          "repetition's steps) -> %.1f tok/s; decode reaches %.1f ± %.1f%% of it\n",
          bound_gb_s,
          r.bound_on_step_memory ? "reading the weights and cache themselves" : "reading a 256 MiB buffer",
          bound_tok_s, 100.0 * fraction, 100.0 * r.fraction_of_bound.stddev);
      if (r.probe_mean_of_bound.mean > 0) {
        std::printf(
            "        the probe's own passes average %.1f%% of their best: what a step reading its bytes "
            "as fast as the probe does on average would reach\n",
            100.0 * r.probe_mean_of_bound.mean);
        std::printf("        the plain read alone (no prefetch requests) reached %.1f%% of the bound\n",
                    100.0 * r.plain_read_of_bound.mean);
      }
    }
  }
  // Peak resident memory of the whole process (weights, caches, scratch), as the OS counts it.
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const int64_t peak_rss = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  j["peak_rss_bytes"] = peak_rss;
  j["load_ms"] = load_ms;
  j["by_depth"] = by_depth;
  if (a.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("load    %.1f ms\n", load_ms);
  std::printf("memory  peak RSS %.1f MB\n", peak_rss / 1e6);
}
}  // namespace

void AddBenchCommand(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "prefill/decode tokens/s and the memory-bandwidth bound");
  AddModelOptions(cmd, args->model, /*with_tokenizer=*/false);
  cmd->add_option("-p,--n-prompt", args->bench.prompt_tokens, "prefill test: prompt tokens (0: skip)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("-n,--n-gen", args->bench.gen_tokens, "decode test: generated tokens (0: skip)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("-d,--depth", args->depths,
                  "decode test: context already in the cache (0: = -p); a list (-d 128,1024,4096) runs one decode "
                  "test per depth")
      ->delimiter(',')
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("-r,--repetitions", args->bench.repetitions, "repetitions")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("-s,--seed", args->bench.seed, "seed of the random token ids")->capture_default_str();
  cmd->add_option("--kv", args->bench.kv, "KV-cache policy spec (see docs/POLICIES.md)")->capture_default_str();
  cmd->add_flag("--membw", args->membw_only, "only measure the memory read bandwidth");
  cmd->add_flag("--no-membw", args->no_membw, "skip the bandwidth measurement (no bound reported)");
  cmd->add_flag("--probe-matvecs", args->bench.probe_matvecs,
                "decode with every mat-vec replaced by the bound's probe read of its weights (outputs 0): "
                "how fast the step would be were its kernels as fast as the probe");
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
