#include "kvlab/sweep/grid.h"

#include <cstdio>
#include <set>

#include "kvlab/kv/registry.h"
#include "kvlab/kv/spec.h"
#include "kvlab/util/assets.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace fs = std::filesystem;

namespace {

// Every combination of the axes' values, last axis fastest: "key=value,key=value".
std::vector<std::string> Product(const std::vector<std::pair<std::string, std::vector<std::string>>>& axes,
                                 int64_t ctx, const std::string& where) {
  std::vector<std::string> out = {""};
  for (const auto& [key, values] : axes) {
    std::vector<std::string> next;
    for (const std::string& prefix : out) {
      for (const std::string& v : values) {
        const std::string value =
            key == "budget" ? std::to_string(ResolveBudget(v, ctx, where + ".budget")) : v;
        next.push_back(prefix + (prefix.empty() ? "" : ",") + key + "=" + value);
      }
    }
    out = std::move(next);
  }
  return out;
}

std::string QuantPart(const std::string& codec, const PolicyGridEntry& e) {
  if (codec == "f32" || codec == "none") return "";
  std::string s = "+quant:k=" + codec + ",v=" + codec;
  if (e.quant_group > 0) s += ",group=" + std::to_string(e.quant_group);
  if (e.quant_residual > 0) s += ",residual=" + std::to_string(e.quant_residual);
  return s;
}

// The canonical form, or the policy's error. Quant alone ("full" + codec) is written as just its part.
std::string Canonical(const std::string& spec) { return MakePolicy(spec)->Spec(); }

bool Accepts(const std::string& spec) {
  try {
    MakePolicy(spec);
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::string FormatFraction(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", f);
  return buf;
}

}  // namespace

std::vector<std::string> ExpandPolicyEntry(const PolicyGridEntry& e, int64_t ctx, uint64_t seed,
                                           size_t* skipped) {
  std::vector<std::string> raw;
  if (!e.literal_specs.empty()) {
    raw = e.literal_specs;
  } else {
    bool has_seed = false;
    for (const auto& axis : e.axes) has_seed |= axis.first == "seed";
    for (const std::string& keys : Product(e.axes, ctx, e.where)) {
      std::string base = e.name + (keys.empty() ? "" : ":" + keys);
      // The sweep's seed reaches policies that take one (random, sketch, ...) unless the entry sets it.
      const std::string seeded = base + (keys.empty() ? ":" : ",") + "seed=" + std::to_string(seed);
      if (!has_seed && Accepts(seeded)) base = seeded;
      for (const std::string& codec : e.codecs) {
        // "full+quant:..." is just the quant part: full keeps everything and adds nothing.
        std::string quant = QuantPart(codec, e);
        raw.push_back(e.name == "full" && keys.empty() && !quant.empty() ? quant.substr(1) : base + quant);
      }
    }
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  size_t dropped = 0;
  for (const std::string& spec : raw) {
    std::string canonical;
    try {
      canonical = Canonical(spec);
    } catch (const Error& err) {
      if (!e.skip_invalid || !e.literal_specs.empty()) throw Error(e.where, std::string(err.what()));
      ++dropped;
      continue;
    }
    if (seen.insert(canonical).second) out.push_back(canonical);
  }
  if (skipped != nullptr) *skipped = dropped;
  if (out.empty()) {
    throw Error(e.where, "every combination of this entry is rejected by the policy (skip_invalid dropped " +
                             std::to_string(dropped) + ")");
  }
  return out;
}

std::vector<GridPoint> ExpandGrid(const SweepConfig& c, std::vector<std::string>* notes) {
  const std::string source = c.source.string();
  std::vector<fs::path> model_paths;
  std::vector<TextSource> text_sources;
  for (const std::string& m : c.models) {
    try {
      model_paths.push_back(ResolveModelPath(m));
    } catch (const Error& e) {
      throw Error(source + ": data.models", e.what());
    }
  }
  for (const std::string& t : c.texts) text_sources.push_back(ResolveTextSource(t, source + ": data.texts"));
  struct Expanded {
    std::string spec, entry;
  };
  std::vector<Expanded> specs;
  std::set<std::string> seen;
  for (const PolicyGridEntry& e : c.policies) {
    size_t skipped = 0;
    size_t duplicates = 0;
    for (const std::string& s : ExpandPolicyEntry(e, c.ctx, c.seed, &skipped)) {
      if (seen.insert(s).second) {
        specs.push_back({s, e.where});
      } else {
        ++duplicates;
      }
    }
    if (notes != nullptr && skipped > 0) {
      notes->push_back(e.where + ": skipped " + std::to_string(skipped) + " combinations the policy rejects");
    }
    if (notes != nullptr && duplicates > 0) {
      notes->push_back(e.where + ": " + std::to_string(duplicates) + " specs already in an earlier entry");
    }
  }
  std::vector<GridPoint> points;
  for (size_t m = 0; m < c.models.size(); ++m) {
    for (size_t t = 0; t < c.texts.size(); ++t) {
      for (const Expanded& s : specs) {
        GridPoint p;
        p.model = c.models[m];
        p.text = c.texts[t];
        p.model_path = model_paths[m];
        p.text_source = text_sources[t];
        p.tokens = c.tokens;
        p.ctx = c.ctx;
        p.spec = s.spec;
        p.entry = s.entry;
        p.seed = c.seed;
        p.id = PointId(p, c.metrics);
        points.push_back(std::move(p));
      }
    }
  }
  return points;
}

nlohmann::json PointIdentity(const GridPoint& p, const SweepMetrics& m) {
  nlohmann::json metrics = {
      {"quality", m.quality}, {"vs_full", m.vs_full}, {"fidelity", m.fidelity}, {"speed", m.speed}};
  if (m.fidelity) {
    metrics["fidelity_layers"] = m.fidelity_layers;
    metrics["fidelity_warmup"] = m.fidelity_warmup;
    metrics["fidelity_stride"] = m.fidelity_stride;
    metrics["fidelity_tokens"] = m.fidelity_tokens;
  }
  if (m.speed) {
    metrics["speed_gen_tokens"] = m.speed_gen_tokens;
    metrics["speed_depth"] = m.speed_depth;
    metrics["speed_depths"] = m.speed_depths;
  }
  // Only when on, like tasks, so the ids of sweeps without generation are those they always had.
  if (m.generation) {
    metrics["generation"] = {{"prompt_tokens", m.generation_prompt_tokens},
                             {"lengths", m.generation_lengths},
                             {"prompts", m.generation_prompts}};
  }
  if (m.tasks.enabled) {
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(m.tasks.file_hash));
    metrics["tasks"] = {{"names", m.tasks.names},       {"file_hash", hash},
                        {"lengths", m.tasks.lengths},   {"depths", m.tasks.depths},
                        {"samples", m.tasks.samples},   {"compress", m.tasks.compress},
                        {"question", m.tasks.question}, {"beyond_context", m.tasks.beyond_context},
                        {"chat", m.tasks.chat}};
  }
  return {{"model", p.model}, {"text", p.text}, {"tokens", p.tokens}, {"ctx", p.ctx},
          {"policy", p.spec}, {"seed", p.seed}, {"metrics", metrics}};
}

std::string PointId(const GridPoint& p, const SweepMetrics& m) {
  const std::string text = PointIdentity(p, m).dump();
  uint64_t h = 1469598103934665603ull;  // FNV-1a offset basis
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

nlohmann::json DescribeSpec(const std::string& spec, int64_t ctx) {
  const std::vector<PolicyParams> parts = ParsePolicySpec(spec);
  nlohmann::json d = {{"policy_name", ""},       {"budget", nullptr},          {"budget_fraction", nullptr},
                      {"ratio", nullptr},        {"codec", nullptr},           {"sketch_type", nullptr},
                      {"sketch_width", nullptr}, {"sketch_depth", nullptr},    {"sketch_strategy", nullptr},
                      {"sketch_topk", nullptr}};
  std::string name;
  for (PolicyParams p : parts) {
    name += (name.empty() ? "" : "+") + p.policy();
    if (d["ratio"].is_null() && d["budget"].is_null() && p.Has("ratio")) {
      // A ratio keeps that fraction of the context (at most, when a budget caps it: then the cap's).
      d["ratio"] = p.Float("ratio", 0.0, 0.0, 1.0);
      if (!p.Has("budget")) d["budget_fraction"] = d["ratio"];
    }
    if (d["budget"].is_null() && p.Has("budget")) {
      d["budget"] = p.Int("budget", 0, 0, INT64_MAX);
      d["budget_fraction"] = std::stod(FormatFraction(static_cast<double>(d["budget"].get<int64_t>()) / ctx));
    }
    if (p.policy() == "quant") {
      const std::string k = p.Text("k", "int8"), v = p.Text("v", "int8");
      d["codec"] = k == v ? k : k + "/" + v;
    }
    if (p.policy() == "sketch") {
      d["sketch_type"] = p.Text("type", "cms");
      d["sketch_width"] = p.Int("width", 512, 0, INT64_MAX);
      d["sketch_depth"] = p.Int("depth", 4, 0, INT64_MAX);
      d["sketch_strategy"] = p.Text("strategy", "topk");
      if (p.Has("topk")) d["sketch_topk"] = p.Int("topk", 0, 0, INT64_MAX);
    }
  }
  d["policy_name"] = name;
  return d;
}

}  // namespace kvlab
