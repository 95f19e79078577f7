// Task files: `[[task]]` tables of TOML (toml++, as sweep configs), each a built-in or earlier task changed
// field by field, or a new task of a kind. Errors point at the key's line: "FILE:LINE: task[I] KEY: what".
#include <toml++/toml.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "kvlab/tasks/task_spec.h"
#include "kvlab/tasks/task_spec_check.h"
#include "kvlab/util/error.h"
#include "kvlab/util/toml_guard.h"

namespace kvlab {

namespace {

template <typename E>
using Names = std::vector<std::pair<const char*, E>>;

const Names<TaskKind> kKinds = {{"needle", TaskKind::kNeedle},
                                {"variable_tracking", TaskKind::kVariableTracking},
                                {"common_words", TaskKind::kCommonWords},
                                {"frequent_words", TaskKind::kFrequentWords}};
const Names<HaystackKind> kHaystacks = {
    {"essay", HaystackKind::kEssay}, {"noise", HaystackKind::kNoise}, {"needles", HaystackKind::kNeedles}};
const Names<ItemKind> kItems = {{"none", ItemKind::kNone},
                                {"numbers", ItemKind::kNumbers},
                                {"words", ItemKind::kWords},
                                {"uuids", ItemKind::kUuids},
                                {"letters", ItemKind::kLetters}};
const Names<InsertAt> kInserts = {{"sentence", InsertAt::kSentence}, {"word", InsertAt::kWord}};
const Names<ScoreKind> kScores = {{"all", ScoreKind::kAll}, {"exact", ScoreKind::kExact}};

// Reads one [[task]] table onto a spec, failing at the line of the key at fault.
class TaskTableReader {
 public:
  TaskTableReader(const toml::table& table, const std::string& source, size_t index)
      : table_(table), source_(source), index_(index) {}

  [[noreturn]] void Fail(const std::string& key, const std::string& what) const {
    const toml::node* node = table_.get(key);
    int64_t line = node != nullptr ? node->source().begin.line : 0;
    if (line <= 0) line = table_.source().begin.line;
    std::string where = source_;
    if (line > 0) where += ":" + std::to_string(line);
    throw Error(where + ": task[" + std::to_string(index_ + 1) + "] " + key, what);
  }

  std::string String(const std::string& key, bool non_empty) const {
    const toml::node& n = *table_.get(key);
    if (!n.is_string()) Fail(key, "must be a string");
    std::string v = *n.value<std::string>();
    if (non_empty && v.empty()) Fail(key, "must be a non-empty string");
    return v;
  }
  int Int(const std::string& key) const {
    const toml::node& n = *table_.get(key);
    if (!n.is_integer()) Fail(key, "must be an integer");
    const int64_t v = *n.value<int64_t>();
    if (v < INT32_MIN || v > INT32_MAX) Fail(key, std::to_string(v) + " is out of range");
    return static_cast<int>(v);
  }
  double Float(const std::string& key) const {
    const toml::node& n = *table_.get(key);
    if (!n.is_number()) Fail(key, "must be a number");
    const double v = *n.value<double>();
    if (!std::isfinite(v)) Fail(key, "must be a finite number");
    return v;
  }
  bool Bool(const std::string& key) const {
    const toml::node& n = *table_.get(key);
    if (!n.is_boolean()) Fail(key, "must be true or false");
    return *n.value<bool>();
  }
  template <typename E>
  E Enum(const std::string& key, const Names<E>& names) const {
    const std::string v = String(key, false);
    std::string known;
    for (const auto& [name, e] : names) {
      if (v == name) return e;
      known += (known.empty() ? "" : ", ") + std::string(name);
    }
    Fail(key, "unknown value \"" + v + "\" (known: " + known + ")");
  }

 private:
  const toml::table& table_;
  const std::string& source_;
  size_t index_;
};

using FieldSetter = std::function<void(const TaskTableReader&, const std::string&, TaskSpec&)>;

// Every TaskSpec field a table may set, by its task-file key (the member's name; key_kind and value_kind are
// `key` and `value`, kind/name/base are read before these).
const std::map<std::string, FieldSetter>& Fields() {
  using R = const TaskTableReader&;
  using K = const std::string&;
  static const std::map<std::string, FieldSetter> fields = [] {
    std::map<std::string, FieldSetter> f;
    const auto text = [&f](const char* key, std::string TaskSpec::*member, bool non_empty) {
      f[key] = [member, non_empty](R r, K k, TaskSpec& s) { s.*member = r.String(k, non_empty); };
    };
    const auto integer = [&f](const char* key, int TaskSpec::*member) {
      f[key] = [member](R r, K k, TaskSpec& s) { s.*member = r.Int(k); };
    };
    const auto number = [&f](const char* key, double TaskSpec::*member) {
      f[key] = [member](R r, K k, TaskSpec& s) { s.*member = r.Float(k); };
    };
    const auto boolean = [&f](const char* key, bool TaskSpec::*member) {
      f[key] = [member](R r, K k, TaskSpec& s) { s.*member = r.Bool(k); };
    };
    text("description", &TaskSpec::description, false);
    text("instruction", &TaskSpec::instruction, false);
    text("needle", &TaskSpec::needle, false);
    text("question", &TaskSpec::question, false);
    text("question_before", &TaskSpec::question_before, false);
    text("answer_prefix", &TaskSpec::answer_prefix, false);
    text("value_noun", &TaskSpec::value_noun, true);
    text("value_noun_singular", &TaskSpec::value_noun_singular, true);
    text("haystack_file", &TaskSpec::haystack_file, true);
    text("noise_text", &TaskSpec::noise_text, true);
    text("needle_separator", &TaskSpec::needle_separator, false);
    integer("key_digits", &TaskSpec::key_digits);
    integer("value_digits", &TaskSpec::value_digits);
    integer("keys", &TaskSpec::keys);
    integer("values_per_key", &TaskSpec::values_per_key);
    integer("queries", &TaskSpec::queries);
    integer("chains", &TaskSpec::chains);
    integer("hops", &TaskSpec::hops);
    integer("num_common", &TaskSpec::num_common);
    integer("freq_common", &TaskSpec::freq_common);
    integer("freq_uncommon", &TaskSpec::freq_uncommon);
    integer("coded_length", &TaskSpec::coded_length);
    integer("max_new_tokens", &TaskSpec::max_new_tokens);
    number("alpha", &TaskSpec::alpha);
    number("haystack_begin", &TaskSpec::haystack_begin);
    number("haystack_end", &TaskSpec::haystack_end);
    boolean("lowercase", &TaskSpec::lowercase);
    boolean("normalize_whitespace", &TaskSpec::normalize_whitespace);
    f["key"] = [](R r, K k, TaskSpec& s) { s.key_kind = r.Enum(k, kItems); };
    f["value"] = [](R r, K k, TaskSpec& s) { s.value_kind = r.Enum(k, kItems); };
    f["haystack"] = [](R r, K k, TaskSpec& s) { s.haystack = r.Enum(k, kHaystacks); };
    f["insert_at"] = [](R r, K k, TaskSpec& s) { s.insert_at = r.Enum(k, kInserts); };
    f["score"] = [](R r, K k, TaskSpec& s) { s.score = r.Enum(k, kScores); };
    return f;
  }();
  return fields;
}

TaskSpec ReadTask(const toml::table& t, size_t index, const std::string& source,
                  const std::vector<TaskSpec>& earlier) {
  const TaskTableReader r(t, source, index);
  if (!t.contains("name")) r.Fail("name", "is required");
  const std::string name = r.String("name", true);
  for (const TaskSpec& e : earlier) {
    if (e.name == name) r.Fail("name", "'" + name + "' is defined twice in this file");
  }
  const bool has_base = t.contains("base"), has_kind = t.contains("kind");
  if (has_base == has_kind) {
    r.Fail(has_base ? "kind" : "name", has_base
                                           ? "a task takes base or kind, not both"
                                           : "needs base = \"TASK\" (a task to change) or kind = \"KIND\"");
  }
  TaskSpec spec;
  if (has_base) {
    const std::string base = r.String("base", true);
    const TaskSpec* found = nullptr;
    for (const TaskSpec& e : earlier) {
      if (e.name == base) found = &e;
    }
    for (const TaskSpec& b : BuiltinTasks()) {
      if (found == nullptr && b.name == base) found = &b;
    }
    if (found == nullptr) {
      std::string known;
      for (const auto* list : {&earlier, &BuiltinTasks()}) {
        for (const TaskSpec& e : *list) known += (known.empty() ? "" : ", ") + e.name;
      }
      r.Fail("base", "unknown task '" + base + "' (known: " + known + ")");
    }
    spec = *found;
    spec.description = "based on " + base;
  } else {
    spec.kind = r.Enum("kind", kKinds);
    spec.description.clear();
  }
  spec.name = name;
  for (auto&& [k, node] : t) {
    const std::string key(k.str());
    if (key == "name" || key == "base" || key == "kind") continue;
    const auto it = Fields().find(key);
    if (it == Fields().end()) {
      std::string known = "name, base, kind";
      for (const auto& [field, setter] : Fields()) known += ", " + field;
      r.Fail(key, "unknown key (known: " + known + ")");
    }
    it->second(r, key, spec);
  }
  if (std::optional<TaskSpecProblem> p = CheckTaskSpec(spec)) r.Fail(p->field, p->what);
  return spec;
}

}  // namespace

std::vector<TaskSpec> ParseTaskFileText(const std::string& text, const std::filesystem::path& source) {
  const std::string src = source.string();
  const toml::table root = ParseTomlGuarded(text, src);
  for (auto&& [k, node] : root) {
    if (k.str() != "task") {
      throw Error(src + ":" + std::to_string(node.source().begin.line) + ": " + std::string(k.str()),
                  "unknown key (a task file holds [[task]] tables only)");
    }
  }
  const toml::node* tasks = root.get("task");
  if (tasks == nullptr) throw Error(src, "no [[task]] tables: the file defines no tasks");
  const toml::array* array = tasks->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    throw Error(src + ":" + std::to_string(tasks->source().begin.line) + ": task",
                "must be an array of tables ([[task]])");
  }
  std::vector<TaskSpec> out;
  for (size_t i = 0; i < array->size(); ++i) out.push_back(ReadTask(*(*array)[i].as_table(), i, src, out));
  return out;
}

std::vector<TaskSpec> LoadTaskFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path)) throw Error(path.string(), "cannot read the task file");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseTaskFileText(text.str(), path);
}

}  // namespace kvlab
