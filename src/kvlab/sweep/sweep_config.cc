#include "kvlab/sweep/sweep_config.h"

#include <toml++/toml.h>

#include <charconv>
#include <optional>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "kvlab/util/error.h"
#include "kvlab/util/toml_guard.h"

namespace kvlab {

namespace {

const std::set<std::string> kTopLevel = {"sweep", "data", "metrics", "tasks", "policy", "quick", "full"};
const std::set<std::string> kOverrideLevel = {"sweep", "data", "metrics", "tasks", "policy"};
const std::set<std::string> kSweepKeys = {"out", "seed", "threads"};
const std::set<std::string> kDataKeys = {"models", "texts", "tokens", "ctx"};
const std::set<std::string> kMetricsKeys = {
    "quality",           "vs_full",         "fidelity",   "fidelity_layers",          "fidelity_stride",
    "fidelity_tokens",   "fidelity_warmup", "speed",      "speed_gen_tokens",         "speed_depth",
    "speed_repetitions", "speed_depths",    "generation", "generation_prompt_tokens", "generation_lengths",
    "generation_prompts"};
const std::set<std::string> kTasksKeys = {"names",   "file",     "lengths",       "depths",
                                          "samples", "compress", "question",      "beyond_context", "chat"};
// Keys of a [[policy]] table that belong to the sweep; every other key is a policy parameter.
const std::set<std::string> kEntryKeys = {"name",        "spec",           "codec",
                                          "quant_group", "quant_residual", "skip_invalid"};

std::string Join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& k : s) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// Reads one config: the base tables plus, in a mode, the override table that shadows them key by key.
class ConfigReader {
 public:
  ConfigReader(const toml::table& root, const std::string& source, const std::string& mode)
      : root_(root), source_(source), mode_(mode) {
    if (!mode.empty()) {
      over_ = root[mode].as_table();
      if (over_ == nullptr) {
        throw Error(source, "has no [" + mode + "] table, which --" + mode + " applies",
                    "add one (it may be empty) or run without --" + mode);
      }
    }
  }

  [[noreturn]] void Fail(const toml::node* node, const std::string& key, const std::string& what) const {
    std::string where = source_;
    if (node != nullptr && node->source().begin.line > 0)
      where += ":" + std::to_string(node->source().begin.line);
    throw Error(where + ": " + key, what);
  }

  void CheckKnownKeys() const {
    CheckTable(root_, "", kTopLevel);
    for (const char* mode : {"quick", "full"}) {
      if (const toml::node* n = root_.get(mode)) {
        if (!n->is_table()) Fail(n, mode, "must be a table ([" + std::string(mode) + "])");
        CheckTable(*n->as_table(), std::string(mode) + ".", kOverrideLevel);
      }
    }
  }

  // The node of section.key: the override's if it has one, else the base's (nullptr if neither).
  const toml::node* Get(const std::string& section, const std::string& key) const {
    if (over_ != nullptr) {
      if (const toml::table* t = (*over_)[section].as_table(); t != nullptr && t->contains(key))
        return t->get(key);
    }
    if (const toml::table* t = root_[section].as_table(); t != nullptr) return t->get(key);
    return nullptr;
  }
  std::string KeyName(const std::string& section, const std::string& key) const {
    if (over_ != nullptr) {
      if (const toml::table* t = (*over_)[section].as_table(); t != nullptr && t->contains(key)) {
        return mode_ + "." + section + "." + key;
      }
    }
    return section + "." + key;
  }

  int64_t Int(const std::string& section, const std::string& key, int64_t fallback, int64_t min,
              int64_t max) const {
    const toml::node* n = Get(section, key);
    if (n == nullptr) return fallback;
    if (!n->is_integer()) Fail(n, KeyName(section, key), "must be an integer");
    const int64_t v = *n->value<int64_t>();
    if (v < min || v > max) {
      Fail(n, KeyName(section, key),
           std::to_string(v) + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    return v;
  }
  bool Bool(const std::string& section, const std::string& key, bool fallback) const {
    const toml::node* n = Get(section, key);
    if (n == nullptr) return fallback;
    if (!n->is_boolean()) Fail(n, KeyName(section, key), "must be true or false");
    return *n->value<bool>();
  }
  std::string String(const std::string& section, const std::string& key, const std::string& fallback) const {
    const toml::node* n = Get(section, key);
    if (n == nullptr) return fallback;
    if (!n->is_string() || n->value<std::string>()->empty())
      Fail(n, KeyName(section, key), "must be a non-empty string");
    return *n->value<std::string>();
  }
  // A string or a non-empty list of strings.
  std::vector<std::string> Strings(const std::string& section, const std::string& key, bool required) const {
    const toml::node* n = Get(section, key);
    if (n == nullptr) {
      if (required) Fail(nullptr, section + "." + key, "is required");
      return {};
    }
    return StringList(*n, KeyName(section, key));
  }
  std::vector<int64_t> Ints(const std::string& section, const std::string& key, int64_t min) const {
    const toml::node* n = Get(section, key);
    if (n == nullptr) return {};
    const toml::array* a = n->as_array();
    if (a == nullptr) Fail(n, KeyName(section, key), "must be a list of integers");
    std::vector<int64_t> out;
    for (const toml::node& e : *a) {
      if (!e.is_integer() || *e.value<int64_t>() < min) {
        Fail(&e, KeyName(section, key), "must hold integers >= " + std::to_string(min));
      }
      out.push_back(*e.value<int64_t>());
    }
    return out;
  }

  // A non-empty list of numbers (integers or floats) in [min, max].
  std::vector<double> Floats(const std::string& section, const std::string& key, double min, double max) const {
    const toml::node* n = Get(section, key);
    if (n == nullptr) return {};
    const toml::array* a = n->as_array();
    if (a == nullptr || a->empty()) Fail(n, KeyName(section, key), "must be a non-empty list of numbers");
    std::vector<double> out;
    for (const toml::node& e : *a) {
      const std::optional<double> v = e.is_integer() ? std::optional<double>(static_cast<double>(*e.value<int64_t>()))
                                                     : e.value<double>();
      if (!v || !(*v >= min && *v <= max)) {
        Fail(&e, KeyName(section, key), "must hold numbers in [" + std::to_string(min) + ", " +
                                            std::to_string(max) + "]");
      }
      out.push_back(*v);
    }
    return out;
  }
  bool Has(const std::string& section) const {
    return root_.contains(section) || (over_ != nullptr && over_->contains(section));
  }

  std::vector<std::string> StringList(const toml::node& n, const std::string& key) const {
    std::vector<std::string> out;
    if (n.is_string()) {
      out.push_back(*n.value<std::string>());
    } else if (const toml::array* a = n.as_array()) {
      for (const toml::node& e : *a) {
        if (!e.is_string()) Fail(&e, key, "must hold strings");
        out.push_back(*e.value<std::string>());
      }
      if (out.empty()) Fail(&n, key, "is an empty list: nothing to sweep");
    } else {
      Fail(&n, key, "must be a string or a list of strings");
    }
    for (const std::string& s : out) {
      if (s.empty()) Fail(&n, key, "holds an empty string");
    }
    return out;
  }

  const toml::array* PolicyArray(const toml::node** node) const {
    const toml::node* n =
        over_ != nullptr && over_->contains("policy") ? over_->get("policy") : root_.get("policy");
    *node = n;
    if (n == nullptr) return nullptr;
    const toml::array* a = n->as_array();
    if (a == nullptr || !a->is_array_of_tables())
      Fail(n, "policy", "must be an array of tables ([[policy]])");
    return a;
  }

  const std::string& source() const { return source_; }
  const std::string& mode() const { return mode_; }

 private:
  void CheckTable(const toml::table& t, const std::string& prefix,
                  const std::set<std::string>& allowed) const {
    for (auto&& [key, node] : t) {
      const std::string k(key.str());
      if (!allowed.count(k)) Fail(&node, prefix + k, "unknown key (known: " + Join(allowed) + ")");
      const std::set<std::string>* sub = k == "sweep"     ? &kSweepKeys
                                         : k == "data"    ? &kDataKeys
                                         : k == "metrics" ? &kMetricsKeys
                                         : k == "tasks"   ? &kTasksKeys
                                                          : nullptr;
      if (sub != nullptr) {
        if (!node.is_table()) Fail(&node, prefix + k, "must be a table ([" + k + "])");
        for (auto&& [sk, sn] : *node.as_table()) {
          if (!sub->count(std::string(sk.str()))) {
            Fail(&sn, prefix + k + "." + std::string(sk.str()), "unknown key (known: " + Join(*sub) + ")");
          }
        }
      }
    }
  }

  const toml::table& root_;
  const toml::table* over_ = nullptr;
  std::string source_;
  std::string mode_;
};

// A scalar policy value as it appears in a spec string.
std::string ScalarText(const toml::node& n, const ConfigReader& r, const std::string& key) {
  if (n.is_string()) return *n.value<std::string>();
  if (n.is_integer()) return std::to_string(*n.value<int64_t>());
  if (n.is_boolean()) return *n.value<bool>() ? "true" : "false";
  if (n.is_floating_point()) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, *n.value<double>());
    return std::string(buf, res.ptr);
  }
  r.Fail(&n, key, "must be a string, number or boolean (or a list of them)");
}

PolicyGridEntry ReadPolicyEntry(const toml::table& t, size_t index, const ConfigReader& r, int64_t ctx) {
  PolicyGridEntry e;
  const std::string key = "policy[" + std::to_string(index + 1) + "]";
  const auto line = t.source().begin.line;
  e.where = r.source();
  if (line > 0) {
    e.where += ':';
    e.where += std::to_string(line);
  }
  e.where += ": " + key;
  const toml::node* name = t.get("name");
  const toml::node* spec = t.get("spec");
  if ((name == nullptr) == (spec == nullptr)) {
    r.Fail(&t, key,
           "needs exactly one of name = \"POLICY\" (a grid over its keys) or spec = \"SPEC\" (literal)");
  }
  if (spec != nullptr) {
    e.literal_specs = r.StringList(*spec, key + ".spec");
    for (auto&& [k, n] : t) {
      if (k.str() != "spec")
        r.Fail(&n, key + "." + std::string(k.str()), "a literal spec entry takes no other keys");
    }
    return e;
  }
  if (!name->is_string() || name->value<std::string>()->empty())
    r.Fail(name, key + ".name", "must be a policy name");
  e.name = *name->value<std::string>();
  for (auto&& [k, n] : t) {
    const std::string k_str(k.str());
    const std::string kname = key + "." + k_str;
    if (k_str == "name") continue;
    if (k_str == "codec") {
      e.codecs = r.StringList(n, kname);
    } else if (k_str == "quant_group" || k_str == "quant_residual") {
      if (!n.is_integer() || *n.value<int64_t>() < 0) r.Fail(&n, kname, "must be an integer >= 0");
      (k_str == "quant_group" ? e.quant_group : e.quant_residual) = *n.value<int64_t>();
    } else if (k_str == "skip_invalid") {
      if (!n.is_boolean()) r.Fail(&n, kname, "must be true or false");
      e.skip_invalid = *n.value<bool>();
    } else {
      std::vector<std::string> values;
      if (const toml::array* a = n.as_array()) {
        if (a->empty()) r.Fail(&n, kname, "is an empty list: nothing to sweep");
        for (const toml::node& v : *a) values.push_back(ScalarText(v, r, kname));
      } else {
        values.push_back(ScalarText(n, r, kname));
      }
      if (k_str == "budget") {
        for (const std::string& v : values) ResolveBudget(v, ctx, e.where + ".budget");
      }
      e.axes.emplace_back(k_str, std::move(values));
    }
  }
  for (const std::string& c : e.codecs) {
    static const std::set<std::string> kCodecs = {"f32", "none", "f16", "bf16", "int8", "int4", "int2"};
    if (!kCodecs.count(c))
      r.Fail(t.get("codec"), key + ".codec", "unknown codec '" + c + "' (known: " + Join(kCodecs) + ")");
  }
  return e;
}

uint64_t Fnv1a(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : text) h = (h ^ ch) * 0x100000001b3ULL;
  return h;
}

SweepTasks ReadTasks(const ConfigReader& r) {
  SweepTasks t;
  t.enabled = true;
  t.names = r.Strings("tasks", "names", /*required=*/true);
  t.file = r.String("tasks", "file", "");
  std::vector<TaskSpec> defined;
  if (!t.file.empty()) {
    defined = LoadTaskFile(t.file);
    std::ifstream in(t.file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    t.file_hash = Fnv1a(text.str());
  }
  for (const std::string& name : t.names) {
    try {
      t.specs.push_back(FindTask(name, defined, "name"));
    } catch (const Error&) {
      r.Fail(r.Get("tasks", "names"), r.KeyName("tasks", "names"),
             "unknown task '" + name + "' (kvlab tasks --list" + (t.file.empty() ? "" : " --task-file " + t.file) +
                 " shows them)");
    }
  }
  t.lengths = r.Ints("tasks", "lengths", 2);
  if (t.lengths.empty()) r.Fail(r.Get("tasks", "lengths"), "tasks.lengths", "is required (a list of token counts)");
  if (r.Get("tasks", "depths") != nullptr) t.depths = r.Floats("tasks", "depths", 0.0, 1.0);
  t.samples = r.Int("tasks", "samples", t.samples, 1, 1 << 20);
  t.compress = r.String("tasks", "compress", t.compress);
  if (t.compress != "stream" && t.compress != "once")
    r.Fail(r.Get("tasks", "compress"), r.KeyName("tasks", "compress"), "must be \"stream\" or \"once\"");
  t.question = r.String("tasks", "question", t.question);
  if (t.question != "after" && t.question != "both")
    r.Fail(r.Get("tasks", "question"), r.KeyName("tasks", "question"), "must be \"after\" or \"both\"");
  t.beyond_context = r.Bool("tasks", "beyond_context", false);
  t.chat = r.Bool("tasks", "chat", false);
  return t;
}

// The generation keys are read and checked whether or not `generation` is on, as the other metrics' are;
// what needs the model (lengths within its trained context, a text long enough) is Preflight's.
void ReadGeneration(const ConfigReader& r, SweepMetrics* m) {
  m->generation = r.Bool("metrics", "generation", m->generation);
  m->generation_prompt_tokens =
      r.Int("metrics", "generation_prompt_tokens", m->generation_prompt_tokens, 2, int64_t{1} << 24);
  m->generation_prompts = r.Int("metrics", "generation_prompts", m->generation_prompts, 1, 1 << 16);
  const toml::node* lengths = r.Get("metrics", "generation_lengths");
  const std::string key = r.KeyName("metrics", "generation_lengths");
  if (lengths != nullptr) {
    m->generation_lengths = r.Ints("metrics", "generation_lengths", 3);
    if (m->generation_lengths.empty()) r.Fail(lengths, key, "is an empty list: nothing to generate");
  }
  std::set<int64_t> seen;
  for (int64_t len : m->generation_lengths) {
    if (len <= m->generation_prompt_tokens) {
      // Without the key the defaults are at fault only through generation_prompt_tokens: name that line.
      r.Fail(lengths != nullptr ? lengths : r.Get("metrics", "generation_prompt_tokens"), key,
             std::to_string(len) + " total tokens leave none to generate after the " +
                 std::to_string(m->generation_prompt_tokens) + " of generation_prompt_tokens");
    }
    if (!seen.insert(len).second) r.Fail(lengths, key, "lists " + std::to_string(len) + " twice");
  }
}

SweepConfig Read(const toml::table& root, const std::string& source, const std::string& mode) {
  ConfigReader r(root, source, mode);
  r.CheckKnownKeys();
  SweepConfig c;
  c.source = source;
  c.mode = mode;
  c.out = r.String("sweep", "out", "results/sweep.jsonl");
  c.seed = static_cast<uint64_t>(r.Int("sweep", "seed", 1, 0, INT64_MAX));
  c.threads = r.Int("sweep", "threads", 0, 0, 1024);
  c.models = r.Strings("data", "models", /*required=*/true);
  c.texts = r.Strings("data", "texts", /*required=*/true);
  c.ctx = r.Int("data", "ctx", 512, 2, int64_t{1} << 24);
  c.tokens = r.Int("data", "tokens", c.ctx, 2, int64_t{1} << 30);

  SweepMetrics& m = c.metrics;
  m.quality = r.Bool("metrics", "quality", m.quality);
  m.vs_full = r.Bool("metrics", "vs_full", m.vs_full);
  m.fidelity = r.Bool("metrics", "fidelity", m.fidelity);
  m.fidelity_layers = r.Ints("metrics", "fidelity_layers", 0);
  m.fidelity_warmup = r.Int("metrics", "fidelity_warmup", m.fidelity_warmup, 0, int64_t{1} << 24);
  m.fidelity_stride = r.Int("metrics", "fidelity_stride", m.fidelity_stride, 1, 1 << 20);
  m.fidelity_tokens = r.Int("metrics", "fidelity_tokens", 0, 0, c.tokens);
  m.speed = r.Bool("metrics", "speed", m.speed);
  m.speed_gen_tokens = r.Int("metrics", "speed_gen_tokens", m.speed_gen_tokens, 1, 1 << 20);
  m.speed_depth = r.Int("metrics", "speed_depth", 0, 0, int64_t{1} << 24);
  m.speed_repetitions = r.Int("metrics", "speed_repetitions", m.speed_repetitions, 1, 1000);
  m.speed_depths = r.Ints("metrics", "speed_depths", 1);
  if (m.fidelity && m.fidelity_warmup >= (m.fidelity_tokens > 0 ? m.fidelity_tokens : c.tokens)) {
    throw Error(source + ": metrics.fidelity_warmup",
                std::to_string(m.fidelity_warmup) + " leaves no query to sample in " +
                    std::to_string(m.fidelity_tokens > 0 ? m.fidelity_tokens : c.tokens) + " tokens",
                "lower fidelity_warmup or raise data.tokens");
  }
  ReadGeneration(r, &m);
  if (r.Has("tasks")) m.tasks = ReadTasks(r);
  if (!m.quality && !m.vs_full && !m.fidelity && !m.speed && !m.generation && !m.tasks.enabled) {
    throw Error(source + ": metrics", "every metric is turned off and there is no [tasks]: nothing to measure");
  }

  const toml::node* policy_node = nullptr;
  const toml::array* policies = r.PolicyArray(&policy_node);
  if (policies == nullptr || policies->empty()) {
    r.Fail(policy_node, "policy", "no [[policy]] entries: nothing to sweep");
  }
  for (size_t i = 0; i < policies->size(); ++i) {
    c.policies.push_back(ReadPolicyEntry(*(*policies)[i].as_table(), i, r, c.ctx));
  }
  return c;
}

}  // namespace

int64_t ResolveBudget(const std::string& value, int64_t ctx, const std::string& where) {
  const std::string w = where;
  auto parse_int = [&](std::string_view s, int64_t* out) {
    const auto res = std::from_chars(s.data(), s.data() + s.size(), *out);
    return res.ec == std::errc() && res.ptr == s.data() + s.size();
  };
  int64_t slots = 0;
  int64_t n = 0, d = 0;
  double x = 0;
  const size_t slash = value.find('/');
  if (parse_int(value, &n)) {
    slots = n;
  } else if (slash != std::string::npos && parse_int(std::string_view(value).substr(0, slash), &n) &&
             parse_int(std::string_view(value).substr(slash + 1), &d)) {
    if (n <= 0 || d <= 0 || n > d) throw Error(w, "budget " + value + " must be a fraction in (0, 1] of ctx");
    slots = ctx * n / d;
  } else if (std::from_chars(value.data(), value.data() + value.size(), x).ptr ==
                 value.data() + value.size() &&
             !value.empty()) {
    if (!(x > 0 && x <= 1)) {
      throw Error(w,
                  "budget " + value + " is neither a whole number of slots nor a fraction in (0, 1] of ctx");
    }
    slots = static_cast<int64_t>(std::floor(x * static_cast<double>(ctx)));
  } else {
    throw Error(w,
                "budget '" + value + "' is not a number of slots, a fraction \"a/b\" or a float in (0, 1]");
  }
  if (slots < 1)
    throw Error(w, "budget " + value + " of ctx " + std::to_string(ctx) + " is less than one slot");
  if (slots > ctx) {
    throw Error(w, "budget " + value + " exceeds ctx " + std::to_string(ctx),
                "a budget above the context never evicts");
  }
  return slots;
}

SweepConfig ParseSweepConfigText(const std::string& text, const std::filesystem::path& source,
                                 const std::string& mode) {
  const toml::table root = ParseTomlGuarded(text, source.string());
  return Read(root, source.string(), mode);
}

SweepConfig ParseSweepConfig(const std::filesystem::path& path, const std::string& mode) {
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path)) throw Error(path.string(), "cannot read the sweep config");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseSweepConfigText(text.str(), path, mode);
}

}  // namespace kvlab
