#include "kvlab/tasks/task_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <span>

#include "kvlab/eval/attention_recorder.h"
#include "kvlab/gen/sampler.h"
#include "kvlab/kv/registry.h"
#include "kvlab/tasks/frozen_policy.h"
#include "kvlab/tasks/task_scoring.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Bytes of an all-f32 cache that kept every one of `tokens` tokens (the model's own sliding-window layers
// hold at most their window, as Model::Forward trims them with or without a policy).
int64_t FullCacheBytes(const ModelConfig& c, int64_t tokens) {
  const int64_t slot = 2 * static_cast<int64_t>(c.head_dim) * static_cast<int64_t>(sizeof(float)) +
                       static_cast<int64_t>(sizeof(SlotMeta));
  int64_t bytes = 0;
  for (size_t l = 0; l < static_cast<size_t>(c.n_layers); ++l) {
    const int64_t window = c.Window(l);
    bytes += (window > 0 ? std::min(tokens, window) : tokens) * c.n_kv_heads * slot;
  }
  return bytes;
}

std::vector<int> AllLayers(const ModelConfig& c) {
  std::vector<int> layers(static_cast<size_t>(c.n_layers));
  std::iota(layers.begin(), layers.end(), 0);
  return layers;
}

// Mass the recorded query puts on `spans`, averaged over every recorded (layer, query head).
double MassOn(const AttentionRecorder& rec, const ModelConfig& c, const std::vector<TokenSpan>& spans) {
  if (spans.empty()) return 0;
  double total = 0;
  size_t heads = 0;
  for (size_t li = 0; li < rec.layers().size(); ++li) {
    for (size_t h = 0; h < static_cast<size_t>(c.n_heads); ++h) {
      const AttentionRecorder::HeadRecord& r = rec.Record(li, h);
      if (!r.seen) continue;
      double mass = 0;
      for (const TokenSpan& s : spans)
        for (int32_t p = s.begin; p < s.end && static_cast<size_t>(p) < r.probs.size(); ++p)
          mass += r.probs[p];
      total += mass;
      ++heads;
    }
  }
  return heads == 0 ? 0 : total / static_cast<double>(heads);
}

}  // namespace

TaskSampleResult RunTaskSample(const Model& model, const Tokenizer& tokenizer, const TaskPrompt& prompt,
                               const std::string& kv_spec, const TaskRunOptions& options) {
  const ModelConfig& c = model.config();
  const size_t n = prompt.ids.size(), q = static_cast<size_t>(prompt.question_start);
  KVLAB_CHECK(q > 0 && q < n);
  const size_t total = n + static_cast<size_t>(std::max(prompt.max_new_tokens, 0));
  const bool once = options.compress == CompressMode::kOnce;
  const std::span<const int32_t> ids(prompt.ids);

  std::unique_ptr<KvPolicy> policy = MakePolicy(kv_spec);
  policy->Bind(c.CacheShape());
  // kStream needs the policy's bound plus one chunk (kv/policy.h). kOnce prefills the context as one chunk
  // (a bounded policy's cache needs its bound + that chunk before Compress) and then stops evicting, so the
  // question and answer come on top of what was kept (at most the bound).
  const size_t batch = once ? q : std::max<size_t>(options.prefill_batch, 1);
  const bool bounded = policy->MaxSlots() != KvPolicy::kUnbounded;
  const size_t capacity =
      !once ? RequiredCapacity(policy.get(), total, batch) : (bounded ? total + policy->MaxSlots() : total);
  KvCache cache(c.CacheShape(), capacity, CacheCodecFor(policy.get()));
  MergeTracker merges(cache.n_layers(), cache.n_kv_heads());
  cache.SetMergeObserver(&merges);
  Activations act(c, batch);
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));

  TaskSampleResult r;
  const auto t0 = Clock::now();
  // The context: compressed as it streams in (kStream), or observed whole and compressed once (kOnce).
  std::unique_ptr<AttentionRecorder> recorder;
  if (once) {
    model.Forward(ids.first(q), 0, cache, act, logits.data(), LogitsFor::kLastToken, policy.get());
    recorder = std::make_unique<AttentionRecorder>(std::make_unique<FrozenPolicy>(std::move(policy)), c,
                                                   AllLayers(c));
  } else {
    recorder = std::make_unique<AttentionRecorder>(std::move(policy), c, AllLayers(c));
  }
  recorder->SetCache(&cache);
  if (!once) model.Forward(ids.first(q), 0, cache, act, logits.data(), LogitsFor::kLastToken, recorder.get());

  // What the cache holds of the needles when the final question begins. A needle right before the question
  // may share its last token with the question's first (BPE merges "." and "\n"): that token is not in the
  // cache yet, and is not counted.
  std::vector<TokenSpan> before_question;
  for (const TokenSpan& s : prompt.needles)
    if (s.begin < prompt.question_start)
      before_question.push_back({s.begin, std::min(s.end, prompt.question_start)});
  r.retention = MeasureNeedleRetention(cache, before_question, &merges);
  r.kv_bytes = static_cast<int64_t>(cache.Bytes() + recorder->MetadataBytes());
  r.kv_bytes_full = FullCacheBytes(c, static_cast<int64_t>(q));

  // The question, recording where the prompt's last token looks.
  recorder->Arm(true, static_cast<int32_t>(n - 1));
  model.Forward(ids.subspan(q), static_cast<int32_t>(q), cache, act, logits.data(), LogitsFor::kLastToken,
                recorder.get());
  recorder->Arm(false, 0);
  r.needle_attention = MassOn(*recorder, c, prompt.needles);
  r.prefill_ms = MsSince(t0);

  // Greedy answer (Argmax: lowest id on ties, as `kvlab generate --temp 0`).
  const auto t1 = Clock::now();
  std::vector<int32_t> answer;
  for (int i = 0; i < prompt.max_new_tokens; ++i) {
    const int32_t token = Argmax(logits);
    if (token == tokenizer.eos_id() ||
        std::find(options.stop_tokens.begin(), options.stop_tokens.end(), token) != options.stop_tokens.end())
      break;
    answer.push_back(token);
    if (i + 1 == prompt.max_new_tokens) break;
    const int32_t pos = static_cast<int32_t>(n + answer.size() - 1);
    model.Forward(std::span<const int32_t>(&answer.back(), 1), pos, cache, act, logits.data(),
                  LogitsFor::kLastToken, recorder.get());
  }
  r.decode_ms = MsSince(t1);
  r.generated_tokens = static_cast<int64_t>(answer.size());
  r.kv_bytes_end = static_cast<int64_t>(cache.Bytes() + recorder->MetadataBytes());
  r.output = tokenizer.Decode(answer);
  r.score = ScoreTaskOutput(prompt.score, r.output, prompt.answers);
  return r;
}

namespace {

nlohmann::json SampleJson(const TaskPrompt& p, const TaskSampleResult& r, int sample) {
  std::vector<nlohmann::json> needles;
  for (const TokenSpan& s : p.needles) needles.push_back({s.begin, s.end});
  return {{"sample", sample},
          {"seed", p.seed},
          {"prompt_tokens", p.ids.size()},
          {"question_start", p.question_start},
          {"needle_spans", needles},
          {"needle_tokens", r.retention.needle_tokens},
          {"answers", p.answers},
          {"output", r.output},
          {"score", r.score},
          {"retention", r.retention.held},
          {"merged", r.retention.merged},
          {"retention_by_layer", r.retention.held_by_layer},
          {"retention_by_head", r.retention.held_by_head},
          {"needle_attention", r.needle_attention},
          {"kv_bytes", r.kv_bytes},
          {"kv_bytes_end", r.kv_bytes_end},
          {"kv_bytes_full", r.kv_bytes_full},
          {"generated_tokens", r.generated_tokens},
          {"prefill_ms", r.prefill_ms},
          {"decode_ms", r.decode_ms}};
}

void CheckGrid(const ModelConfig& c, const std::vector<TaskSpec>& tasks, const TaskGridOptions& o) {
  const std::string lengths = o.field_prefix + "lengths", depths = o.field_prefix + "depths";
  if (tasks.empty()) throw Error(o.field_prefix + "tasks", "no task given");
  if (o.lengths.empty()) throw Error(lengths, "no length given");
  for (int64_t len : o.lengths) {
    if (len < 2) throw Error(lengths, std::to_string(len) + " is not a prompt length (at least 2 tokens)");
    if (!o.beyond_context && c.max_seq_len > 0 && len > c.max_seq_len)
      throw Error(
          lengths,
          std::to_string(len) + " is beyond the model's trained context of " + std::to_string(c.max_seq_len),
          "allow it with --beyond-context (sweep: beyond_context = true)");
  }
  const bool any_depth =
      std::any_of(tasks.begin(), tasks.end(), [](const TaskSpec& t) { return t.HasDepth(); });
  if (any_depth && o.depths.empty()) throw Error(depths, "no depth given");
  for (double d : o.depths)
    if (!(d >= 0.0 && d <= 1.0)) throw Error(depths, std::to_string(d) + " is not a fraction in [0, 1]");
  if (o.samples < 1) throw Error(o.field_prefix + "samples", "must be at least 1");
}

}  // namespace

std::vector<TaskCellResult> RunTaskGrid(const Model& model, const Tokenizer& tokenizer,
                                        const std::vector<TaskSpec>& tasks, const std::string& kv_spec,
                                        const TaskGridOptions& options,
                                        const std::function<void(const TaskCellResult&)>& on_cell) {
  const ModelConfig& c = model.config();
  CheckGrid(c, tasks, options);
  std::vector<TaskCellResult> cells;
  for (const TaskSpec& task : tasks) {
    const std::vector<double> depths = task.HasDepth() ? options.depths : std::vector<double>{-1.0};
    for (int64_t length : options.lengths) {
      for (double depth : depths) {
        TaskCellResult cell;
        cell.task = task.name;
        cell.length = length;
        cell.depth = depth;
        cell.retention_by_layer.assign(static_cast<size_t>(c.n_layers), 0.0);
        for (int s = 0; s < options.samples; ++s) {
          const double d = std::max(depth, 0.0);
          const TaskPrompt prompt =
              BuildTaskPrompt(task, length, d, TaskSampleSeed(options.seed, task.name, length, d, s),
                              tokenizer, options.format);
          const TaskSampleResult r = RunTaskSample(model, tokenizer, prompt, kv_spec, options.run);
          cell.accuracy += r.score;
          cell.retention += r.retention.held;
          cell.merged += r.retention.merged;
          cell.needle_attention += r.needle_attention;
          cell.kv_bytes += static_cast<double>(r.kv_bytes);
          cell.kv_bytes_full += static_cast<double>(r.kv_bytes_full);
          cell.prompt_tokens += static_cast<double>(prompt.ids.size());
          for (size_t l = 0; l < cell.retention_by_layer.size(); ++l)
            cell.retention_by_layer[l] += r.retention.held_by_layer[l];
          cell.has_needles = cell.has_needles || !prompt.needles.empty();
          cell.sample_rows.push_back(SampleJson(prompt, r, s));
          if (options.keep_prompts) cell.sample_rows.back()["prompt"] = prompt.text;
          ++cell.samples;
        }
        const double inv = 1.0 / cell.samples;
        for (double* v : {&cell.accuracy, &cell.retention, &cell.merged, &cell.needle_attention,
                          &cell.kv_bytes, &cell.kv_bytes_full, &cell.prompt_tokens})
          *v *= inv;
        for (double& v : cell.retention_by_layer) v *= inv;
        if (on_cell) on_cell(cell);
        cells.push_back(std::move(cell));
      }
    }
  }
  return cells;
}

nlohmann::json CellJson(const TaskCellResult& cell, bool with_samples) {
  const auto needle_metric = [&](double v) {
    return cell.has_needles ? nlohmann::json(v) : nlohmann::json(nullptr);
  };
  nlohmann::json j = {{"task", cell.task},
                      {"length", cell.length},
                      {"depth", cell.depth < 0 ? nlohmann::json(nullptr) : nlohmann::json(cell.depth)},
                      {"samples", cell.samples},
                      {"accuracy", cell.accuracy},
                      {"retention", needle_metric(cell.retention)},
                      {"merged", needle_metric(cell.merged)},
                      {"needle_attention", needle_metric(cell.needle_attention)},
                      {"kv_bytes", cell.kv_bytes},
                      {"kv_bytes_full", cell.kv_bytes_full},
                      {"prompt_tokens", cell.prompt_tokens},
                      {"retention_by_layer",
                       cell.has_needles ? nlohmann::json(cell.retention_by_layer) : nlohmann::json(nullptr)}};
  if (with_samples) j["samples_detail"] = cell.sample_rows;
  return j;
}

}  // namespace kvlab
