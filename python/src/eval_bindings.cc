// The evaluations as functions returning the dicts `kvlab ppl|fidelity|gen-compare --json` print (the same
// provenance fields, the same metrics: a test holds them equal), and bench.
#include <pybind11/stl.h>

#include "bindings.h"
#include "kvlab/eval/bench.h"
#include "kvlab/eval/fidelity.h"
#include "kvlab/eval/gen_compare.h"
#include "kvlab/eval/perplexity.h"
#include "kvlab/eval/run_info.h"
#include "kvlab/eval/text_input.h"
#include "kvlab/kv/registry.h"
#include "kvlab/util/error.h"
#include "model_handle.h"

namespace kvlab::python {

namespace {

// The tokens of `text` (a path, a name under $KVLAB_ASSETS/text or a WikiText article such as
// "wikitext-2:3") or `ids`, exactly one of them.
std::vector<int32_t> EvalTokens(ModelHandle& model, const std::string& text, const py::object& ids,
                                size_t need, bool parse_special) {
  if (text.empty() == ids.is_none()) throw Error("text", "give exactly one of text and ids");
  if (!ids.is_none()) return IdsFromPython(ids, "ids");
  const TextSource source = ResolveTextSource(text, "text");
  const auto tokenizer = model.GetTokenizer();
  py::gil_scoped_release release;
  return TokenizeText(*tokenizer, source, need, "text", parse_special);
}

py::dict Perplexity(ModelHandle& model, const std::string& text, const py::object& ids, const std::string& kv,
                    int32_t ctx, int32_t max_tokens, bool windowed, int32_t stride, bool vs_full,
                    bool stream_past_context, int32_t curve_block, bool parse_special) {
  PerplexityOptions o;
  o.kv = kv;
  o.ctx = ctx;
  o.max_tokens = max_tokens;
  o.windowed = windowed;
  o.stride = stride;
  o.vs_full = vs_full;
  o.stream_past_context = stream_past_context;
  o.curve_block = curve_block;
  const std::string spec = MakePolicy(kv)->Spec();  // a bad spec fails before any work
  const ModelConfig& c = model.model->config();
  const std::vector<int32_t> tokens =
      EvalTokens(model, text, ids, PerplexityTokensNeeded(o, c), parse_special);
  PerplexityResult r;
  {
    py::gil_scoped_release release;
    r = EvaluatePerplexity(*model.model, tokens, o);
  }
  nlohmann::json j = ResultRow(model.name, text.empty() ? "ids" : text, r.tokens, spec);
  j["command"] = "ppl";
  j["ctx"] = ctx > 0 ? ctx : c.max_seq_len;
  j["windowed"] = windowed;
  j["stride"] = stride;
  j["stream_past_context"] = stream_past_context;
  j["max_tokens"] = max_tokens;
  j["curve_block"] = curve_block;
  j.update(ToJson(r));
  return JsonToPython(j);
}

py::dict Fidelity(ModelHandle& model, const std::string& text, const py::object& ids, const std::string& kv,
                  std::vector<int> layers, int32_t warmup, int32_t stride, int32_t max_tokens,
                  bool parse_special) {
  FidelityOptions o;
  o.kv = kv;
  o.layers = std::move(layers);
  o.warmup = warmup;
  o.stride = stride;
  o.max_tokens = max_tokens;
  const std::string spec = MakePolicy(kv)->Spec();
  const std::vector<int32_t> tokens =
      EvalTokens(model, text, ids, FidelityTokensNeeded(o, model.model->config()), parse_special);
  FidelityResult r;
  {
    py::gil_scoped_release release;
    r = EvaluateFidelity(*model.model, tokens, o);
  }
  nlohmann::json j = ResultRow(model.name, text.empty() ? "ids" : text, r.tokens, spec);
  j["command"] = "fidelity";
  j["warmup"] = warmup;
  j["stride"] = stride;
  j.update(ToJson(r));
  return JsonToPython(j);
}

py::dict GenCompare(ModelHandle& model, std::vector<std::string> prompts, const std::string& kv,
                    int32_t max_new_tokens, bool stop_at_eos, int32_t prompt_tokens, bool parse_special) {
  if (prompts.empty()) throw Error("prompts", "no prompts given");
  GenCompareOptions o;
  o.kv = kv;
  o.max_new_tokens = max_new_tokens;
  o.stop_at_eos = stop_at_eos;
  o.prompt_tokens = prompt_tokens;
  o.parse_special = parse_special;
  const std::string spec = MakePolicy(kv)->Spec();
  const auto tokenizer = model.GetTokenizer();
  GenCompareResult r;
  {
    py::gil_scoped_release release;
    r = CompareGeneration(*model.model, *tokenizer, prompts, o);
  }
  int64_t generated = 0;
  for (const PromptComparison& p : r.per_prompt) generated += static_cast<int64_t>(p.policy_ids.size());
  nlohmann::json j = ResultRow(model.name, "prompts", generated, spec);
  j["command"] = "gen-compare";
  j["max_new_tokens"] = max_new_tokens;
  j["prompt_tokens_limit"] = prompt_tokens;
  j.update(ToJson(r));
  return JsonToPython(j);
}

py::dict Bench(ModelHandle& model, const std::string& kv, int32_t prompt_tokens, int32_t gen_tokens,
               int32_t depth, int32_t repetitions, uint64_t seed, bool bandwidth) {
  BenchOptions o;
  o.kv = MakePolicy(kv)->Spec();
  o.prompt_tokens = prompt_tokens;
  o.gen_tokens = gen_tokens;
  o.depth = depth;
  o.repetitions = repetitions;
  o.seed = seed;
  o.bandwidth_per_repetition = bandwidth;
  if (prompt_tokens < 0 || gen_tokens < 0 || depth < 0) throw Error("bench", "token counts must be >= 0");
  if (repetitions < 1) throw Error("repetitions", "must be >= 1");
  BenchResult r;
  {
    py::gil_scoped_release release;
    r = RunBench(*model.model, o);
  }
  nlohmann::json j = ResultRow(model.name, "", gen_tokens, o.kv);
  j["command"] = "bench";
  j.update(ToJson(r));
  j["prompt_tokens"] = prompt_tokens;
  j["gen_tokens"] = gen_tokens;
  j["depth"] = depth;
  j["repetitions"] = repetitions;
  return JsonToPython(j);
}

}  // namespace

void BindEval(py::module_& m) {
  m.def("perplexity", &Perplexity, py::arg("model"), py::kw_only(), py::arg("text") = "",
        py::arg("ids") = py::none(), py::arg("kv") = "full", py::arg("ctx") = 0, py::arg("max_tokens") = 0,
        py::arg("windowed") = false, py::arg("stride") = 0, py::arg("vs_full") = false,
        py::arg("stream_past_context") = false, py::arg("curve_block") = 0, py::arg("parse_special") = false,
        "Perplexity of a text (a path, a name under $KVLAB_ASSETS/text, or a WikiText article such as\n"
        "\"wikitext-2:3\"; `kvlab texts` lists them) or of token ids under a policy,\n"
        "as `kvlab ppl --json` (docs/METRICS.md): streaming by default, windowed as llama.cpp's; vs_full\n"
        "adds KL, top-1 agreement and RMS dp against the full cache in lockstep. Returns the same dict.");
  m.def("fidelity", &Fidelity, py::arg("model"), py::kw_only(), py::arg("text") = "",
        py::arg("ids") = py::none(), py::arg("kv") = "full", py::arg("layers") = std::vector<int>{},
        py::arg("warmup") = 64, py::arg("stride") = 16, py::arg("max_tokens") = 0,
        py::arg("parse_special") = false,
        "Attention fidelity of a policy against the full cache, as `kvlab fidelity --json`.");
  m.def("gen_compare", &GenCompare, py::arg("model"), py::arg("prompts"), py::kw_only(),
        py::arg("kv") = "full", py::arg("max_new_tokens") = 64, py::arg("stop_at_eos") = false,
        py::arg("prompt_tokens") = 0, py::arg("parse_special") = false,
        "Greedy generation under a policy against the full cache from the same prompts, as\n"
        "`kvlab gen-compare --json` (agreement length, BLEU, ROUGE-L, per prompt and overall).");
  m.def("bench", &Bench, py::arg("model"), py::kw_only(), py::arg("kv") = "full",
        py::arg("prompt_tokens") = 128, py::arg("gen_tokens") = 32, py::arg("depth") = 0,
        py::arg("repetitions") = 3, py::arg("seed") = 1, py::arg("bandwidth") = false,
        "Prefill and decode speed with a policy (the engine of `kvlab bench`): tokens/s, ms per decode\n"
        "step, bytes read per step, the policy's own time; bandwidth=True also measures the memory\n"
        "bandwidth beside each decode repetition and the fraction of that bound.");
}

}  // namespace kvlab::python
