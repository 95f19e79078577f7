#include "kvlab/sweep/evaluate_point.h"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "kvlab/eval/bench.h"
#include "kvlab/eval/fidelity.h"
#include "kvlab/eval/perplexity.h"
#include "kvlab/kv/registry.h"
#include "kvlab/tasks/task_runner.h"
#include "kvlab/tokenizer/model_chat_template.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
int64_t PeakRssBytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

std::vector<int> FidelityLayers(const SweepMetrics& m, const ModelConfig& c) {
  std::vector<int> layers;
  for (int64_t l : m.fidelity_layers) layers.push_back(static_cast<int>(l));
  if (layers.empty()) {
    for (int l = 0; l < c.n_layers; ++l) layers.push_back(l);  // every layer
  }
  return layers;
}
}  // namespace

std::vector<int32_t> LoadTextTokens(const Tokenizer& tokenizer, const TextSource& source, int64_t count,
                                    const std::string& needed_for) {
  const std::string text = ReadTextSource(source, "data.texts");
  const std::string path = source.Name();
  // Encode a prefix cut at whitespace, doubling it until it holds enough tokens: the tokens well before
  // the cut are those of the whole text, and a long file is never encoded whole.
  size_t bytes = static_cast<size_t>(count) * 8 + 1024;
  while (true) {
    size_t cut = text.size();
    if (bytes < text.size()) {
      cut = text.find_last_of(" \n", bytes);
      if (cut == std::string::npos || cut == 0) cut = bytes;
    }
    std::vector<int32_t> ids =
        tokenizer.Encode(std::string_view(text).substr(0, cut), tokenizer.add_bos_default());
    // Drop a margin at the cut so that the last tokens do not depend on where the prefix ended.
    const size_t usable = cut == text.size() ? ids.size() : (ids.size() > 16 ? ids.size() - 16 : 0);
    if (usable >= static_cast<size_t>(count)) {
      ids.resize(static_cast<size_t>(count));
      return ids;
    }
    if (cut == text.size()) {
      throw Error(path, "has " + std::to_string(ids.size()) + " tokens for this model, fewer than " +
                            std::to_string(count) + " (" + needed_for + ")");
    }
    bytes *= 2;
  }
}

TaskGridOptions SweepEvaluator::TaskOptions(uint64_t seed) const {
  const SweepTasks& t = metrics_.tasks;
  TaskGridOptions o;
  o.lengths = t.lengths;
  o.depths = t.depths;
  o.samples = static_cast<int>(t.samples);
  o.seed = seed;
  o.beyond_context = t.beyond_context;
  o.format.question_before = t.question == "both";
  o.format.chat = chat_.get();
  o.run.compress = t.compress == "once" ? CompressMode::kOnce : CompressMode::kStream;
  o.run.stop_tokens = end_of_turn_;
  o.field_prefix = "tasks.";
  return o;
}

const Model& SweepEvaluator::ModelFor(const fs::path& path) {
  if (model_ == nullptr || path != model_path_) {
    model_.reset();
    tokenizer_.reset();
    tokens_.clear();
    generation_.Reset();
    model_ = std::make_unique<Model>(LoadModel(path));
    const LoadedModel& m = model_->loaded();
    tokenizer_ = LoadTokenizer({m.path, m.format, m.config.vocab_size});
    chat_.reset();
    end_of_turn_.clear();
    if (metrics_.tasks.enabled && metrics_.tasks.chat) {
      try {
        chat_ = std::make_unique<ChatTemplate>(
            LoadModelChatTemplate({m.path, m.format, m.config.vocab_size}, *tokenizer_));
      } catch (const Error& e) {
        throw Error("tasks.chat: " + path.string(), e.what());
      }
      end_of_turn_ = EndOfTurnTokens(*tokenizer_, *chat_);
    }
    model_path_ = path;
  }
  return *model_;
}

const std::vector<int32_t>& SweepEvaluator::TokensFor(const GridPoint& p) {
  ModelFor(p.model_path);
  const std::string key = p.text_source.Name() + "\t" + std::to_string(p.tokens);
  auto it = tokens_.find(key);
  if (it == tokens_.end())
    it = tokens_.emplace(key, LoadTextTokens(*tokenizer_, p.text_source, p.tokens)).first;
  return it->second;
}

void SweepEvaluator::Preflight(const std::vector<GridPoint>& points) {
  std::set<std::string> checked;  // "model\tspec"
  for (const GridPoint& p : points) {
    const Model& model = ModelFor(p.model_path);
    const ModelConfig& c = model.config();
    if (p.ctx > c.max_seq_len) {
      throw Error("data.ctx",
                  std::to_string(p.ctx) + " exceeds the trained context of " + p.model + " (" +
                      std::to_string(c.max_seq_len) + ")",
                  "lower ctx (and tokens)");
    }
    if (p.tokens > p.ctx) {
      throw Error("data.tokens", std::to_string(p.tokens) + " exceeds ctx " + std::to_string(p.ctx),
                  "a sweep streams at most ctx tokens");
    }
    for (int l : metrics_.fidelity_layers) {
      if (metrics_.fidelity && l >= c.n_layers) {
        throw Error("metrics.fidelity_layers", "layer " + std::to_string(l) + " does not exist in " +
                                                   p.model + " (" + std::to_string(c.n_layers) + " layers)");
      }
    }
    try {
      TokensFor(p);
    } catch (const Error& e) {
      throw Error("data.texts: " + p.model, e.what());
    }
    if (metrics_.generation) generation_.Check(model, *tokenizer_, p);
    if (metrics_.tasks.enabled && checked.insert(p.model_path.string() + "\ttasks").second) {
      // Every task at every length with the first sample's prompt: a length too short for a task's
      // template, or beyond the model's context, fails here rather than after hours of points.
      const TaskGridOptions o = TaskOptions(p.seed);
      for (int64_t len : o.lengths) {
        if (!o.beyond_context && len > c.max_seq_len)
          throw Error("tasks.lengths", std::to_string(len) + " exceeds the trained context of " + p.model + " (" +
                                           std::to_string(c.max_seq_len) + ")",
                      "lower it, or set beyond_context = true");
        for (const TaskSpec& t : metrics_.tasks.specs) {
          try {
            BuildTaskPrompt(t, len, 0.0, TaskSampleSeed(p.seed, t.name, len, 0.0, 0), *tokenizer_, o.format);
          } catch (const Error& e) {
            throw Error("tasks: " + p.model, e.what());
          }
        }
      }
    }
    if (checked.insert(p.model_path.string() + "\t" + p.spec).second) {
      try {
        MakePolicy(p.spec)->Bind(c.CacheShape());
      } catch (const Error& e) {
        throw Error(p.entry + ": " + p.model, e.what());
      }
    }
  }
}

json SweepEvaluator::Quality(const GridPoint& p, const std::vector<int32_t>& tokens) {
  PerplexityOptions o;
  o.kv = p.spec;
  o.ctx = static_cast<int32_t>(p.ctx);
  o.max_tokens = static_cast<int32_t>(p.tokens);
  o.vs_full = metrics_.vs_full;
  const PerplexityResult r = EvaluatePerplexity(*model_, tokens, o);
  json j = {{"predicted_tokens", r.tokens}, {"kv_bytes", r.kv_bytes}, {"policy_bytes", r.policy_bytes}};
  if (metrics_.quality) {
    j["ppl"] = r.ppl;
    j["nll_mean"] = r.nll_mean;
  }
  if (r.has_full) {
    j["ppl_full"] = r.ppl_full;
    j["ppl_ratio"] = r.ppl_ratio;
    j["kl_mean"] = r.kl_mean;
    j["kl_median"] = r.kl_median;
    j["kl_p99"] = r.kl_p99;
    j["kl_max"] = r.kl_max;
    j["top1"] = r.top1_agreement;
    j["rms_dp"] = r.rms_dp;
    j["kv_bytes_full"] = r.kv_bytes_full;
  }
  return j;
}

json SweepEvaluator::Fidelity(const GridPoint& p, const std::vector<int32_t>& tokens) {
  FidelityOptions o;
  o.kv = p.spec;
  o.layers = FidelityLayers(metrics_, model_->config());
  o.warmup = static_cast<int32_t>(metrics_.fidelity_warmup);
  o.stride = static_cast<int32_t>(metrics_.fidelity_stride);
  o.max_tokens = static_cast<int32_t>(metrics_.fidelity_tokens > 0 ? metrics_.fidelity_tokens : p.tokens);
  const FidelityResult r = EvaluateFidelity(*model_, tokens, o);
  auto fields = [](const HeadFidelity& h, json& j) {
    j["retained_mass"] = h.retained_mass;
    j["attn_kl"] = h.kl;
    j["attn_cosine"] = h.cosine;
    j["attn_l1"] = h.l1;
    j["attn_l2"] = h.l2;
    j["argmax_agreement"] = h.argmax_agreement;
    j["output_rel_error"] = h.output_rel_error;
  };
  json j = json::object();
  fields(r.mean, j);
  json layers = json::array();
  for (const HeadFidelity& h : r.layers) {
    json l = {{"layer", h.layer}, {"samples", h.samples}};
    fields(h, l);
    layers.push_back(l);
  }
  j["fidelity_layers"] = layers;
  j["fidelity_epsilon"] = r.epsilon;
  return j;
}

json SweepEvaluator::Speed(const GridPoint& p) {
  BenchOptions o;
  o.kv = p.spec;
  o.seed = p.seed;
  o.repetitions = static_cast<int32_t>(metrics_.speed_repetitions);
  o.gen_tokens = static_cast<int32_t>(metrics_.speed_gen_tokens);
  o.prompt_tokens = static_cast<int32_t>(p.ctx);
  // Decode at the end of the context by default, where a policy's cache is smallest relative to full.
  o.depth = static_cast<int32_t>(metrics_.speed_depth > 0 ? metrics_.speed_depth
                                                          : std::max<int64_t>(0, p.ctx - o.gen_tokens));
  const BenchResult r = RunBench(*model_, o);
  json j = {{"decode_tok_s", r.decode_tok_s.mean},
            {"prefill_tok_s", r.prefill_tok_s.mean},
            {"decode_ms_per_token", r.decode_ms_per_token},
            {"decode_depth", o.depth}};  // the depth decode_ms_per_token was measured at
  if (!metrics_.speed_depths.empty()) {
    json by_ctx = json::object();
    for (int64_t d : metrics_.speed_depths) {
      BenchOptions od = o;
      od.prompt_tokens = 0;
      od.depth = static_cast<int32_t>(d);
      by_ctx[std::to_string(d)] = RunBench(*model_, od).decode_ms_per_token;
    }
    j["ms_per_token_by_ctx"] = by_ctx;
  }
  return j;
}

// Means over every cell (accuracy) and over the cells with needles (retention, merged, attention), plus
// the cells themselves (docs/SWEEP.md).
json SweepEvaluator::Tasks(const GridPoint& p) {
  const std::vector<TaskCellResult> cells =
      RunTaskGrid(*model_, *tokenizer_, metrics_.tasks.specs, p.spec, TaskOptions(p.seed));
  double accuracy = 0, retention = 0, merged = 0, attention = 0, bytes = 0, full = 0;
  size_t with_needles = 0;
  json list = json::array();
  for (const TaskCellResult& c : cells) {
    accuracy += c.accuracy;
    bytes += c.kv_bytes;
    full += c.kv_bytes_full;
    if (c.has_needles) {
      retention += c.retention;
      merged += c.merged;
      attention += c.needle_attention;
      ++with_needles;
    }
    list.push_back(CellJson(c, /*with_samples=*/false));
  }
  const double n = static_cast<double>(cells.size());
  const auto needle_mean = [&](double v) { return with_needles ? json(v / with_needles) : json(nullptr); };
  return {{"task_accuracy", accuracy / n},         {"task_retention", needle_mean(retention)},
          {"task_merged", needle_mean(merged)},    {"task_needle_attention", needle_mean(attention)},
          {"task_kv_bytes", bytes / n},            {"task_kv_bytes_full", full / n},
          {"task_cells", list}};
}

json SweepEvaluator::Evaluate(const GridPoint& p) {
  const std::vector<int32_t>& tokens = TokensFor(p);
  json row = json::object();
  if (metrics_.quality || metrics_.vs_full) row.update(Quality(p, tokens));
  if (metrics_.fidelity) row.update(Fidelity(p, tokens));
  if (metrics_.speed) row.update(Speed(p));
  if (metrics_.generation) row.update(generation_.Evaluate(*model_, *tokenizer_, p));
  if (metrics_.tasks.enabled) row.update(Tasks(p));
  row["peak_rss_bytes"] = PeakRssBytes();
  return row;
}

}  // namespace kvlab
