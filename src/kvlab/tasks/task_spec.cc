// The built-in tasks (RULER's synthetic tasks and passkey retrieval), looking tasks up by name, and the
// consistency checks every spec passes before a prompt is built.
#include "kvlab/tasks/task_spec.h"

#include <cmath>
#include <limits>

#include "kvlab/tasks/task_spec_check.h"
#include "kvlab/tasks/task_template.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {

// RULER scripts/data/synthetic/constants.py, TASKS['niah'], split at {context} and at the answer prefix; its
// "Some/are/are all" rewrite for a single answer is the {Some} {are} {are_all} placeholders here.
TaskSpec Niah(const std::string& name, const std::string& description, HaystackKind haystack, ItemKind key,
              ItemKind value, int keys, int values_per_key, int queries) {
  TaskSpec s;
  s.name = name;
  s.description = description;
  s.kind = TaskKind::kNeedle;
  s.instruction =
      "{Some} special magic {values} {are} hidden within the following text. Make sure to memorize it. "
      "I will quiz you about the {values} afterwards.\n";
  // RULER formats its needles with the plural type_needle_v (before the template's single-answer rewrite),
  // and the needle template sees the same: {values} in a needle is always value_noun.
  s.needle = "One of the special magic {values} for {key} is: {value}.";
  s.question = "\nWhat {are_all} the special magic {values} for {query} mentioned in the provided text?";
  s.answer_prefix = " The special magic {values} for {query} mentioned in the provided text {are}";
  s.haystack = haystack;
  s.key_kind = key;
  s.value_kind = value;
  if (value == ItemKind::kUuids) {
    s.value_noun = "uuids";
    s.value_noun_singular = "uuid";
  }
  s.keys = keys;
  s.values_per_key = values_per_key;
  s.queries = queries;
  s.max_new_tokens = 128;
  return s;
}

std::vector<TaskSpec> MakeBuiltins() {
  using H = HaystackKind;
  using I = ItemKind;
  std::vector<TaskSpec> t;
  // RULER scripts/synthetic.yaml, the niah_* entries (its "needle" haystack is kNeedles here).
  t.push_back(Niah("niah_single_1", "RULER NIAH: one word key -> number needle in noise lines", H::kNoise,
                   I::kWords, I::kNumbers, 1, 1, 1));
  t.push_back(Niah("niah_single_2", "RULER NIAH: one word key -> number needle in an essay", H::kEssay,
                   I::kWords, I::kNumbers, 1, 1, 1));
  t.push_back(Niah("niah_single_3", "RULER NIAH: one word key -> uuid needle in an essay", H::kEssay,
                   I::kWords, I::kUuids, 1, 1, 1));
  t.push_back(Niah("niah_multikey_1", "RULER NIAH: 4 keys in an essay, one asked for", H::kEssay, I::kWords,
                   I::kNumbers, 4, 1, 1));
  t.push_back(Niah("niah_multikey_2", "RULER NIAH: one word key -> number among distractor needle lines",
                   H::kNeedles, I::kWords, I::kNumbers, 1, 1, 1));
  t.push_back(Niah("niah_multikey_3", "RULER NIAH: one uuid key -> uuid among distractor needle lines",
                   H::kNeedles, I::kUuids, I::kUuids, 1, 1, 1));
  t.push_back(Niah("niah_multivalue", "RULER NIAH: one key with 4 values in an essay", H::kEssay, I::kWords,
                   I::kNumbers, 1, 4, 1));
  t.push_back(Niah("niah_multiquery", "RULER NIAH: 4 keys in an essay, all 4 asked for", H::kEssay, I::kWords,
                   I::kNumbers, 4, 1, 4));

  // Passkey retrieval (Mohtashami & Jaggi 2023, "Landmark Attention"): a 5-digit key among noise lines.
  TaskSpec passkey;
  passkey.name = "passkey";
  passkey.description = "passkey retrieval (Mohtashami & Jaggi 2023): a 5-digit number in noise lines";
  passkey.kind = TaskKind::kNeedle;
  passkey.instruction =
      "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. "
      "I will quiz you about the important information there.\n";
  passkey.needle = "The pass key is {value}. Remember it. {value} is the pass key.";
  passkey.question = "\nWhat is the pass key?";
  passkey.answer_prefix = " The pass key is";
  passkey.haystack = H::kNoise;
  passkey.key_kind = I::kNone;
  passkey.value_kind = I::kNumbers;
  passkey.value_digits = 5;
  passkey.max_new_tokens = 16;
  t.push_back(passkey);

  // RULER variable_tracking.py with synthetic.yaml's vt (1 chain, 4 hops, noise): 5-letter names, values
  // 10000..99999. constants.py TASKS['variable_tracking'] for the phrasing.
  TaskSpec vt;
  vt.name = "vt";
  vt.description = "RULER variable tracking: find every name of a value along a chain of assignments";
  vt.kind = TaskKind::kVariableTracking;
  vt.instruction = "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n";
  vt.question = "\nQuestion: Find all variables that are assigned the value {query} in the text above.";
  vt.answer_prefix =
      " Answer: According to the chain(s) of variable assignment in the text above, {num_answers} variables "
      "are assigned the value {query}, they are: ";
  vt.haystack = H::kNoise;
  vt.key_kind = I::kLetters;
  vt.key_digits = 5;
  vt.value_kind = I::kNumbers;
  vt.value_digits = 5;
  vt.chains = 1;
  vt.hops = 4;
  vt.max_new_tokens = 30;
  t.push_back(vt);

  // RULER common_words_extraction.py (synthetic.yaml's cwe: 10 common words, 30/3 repeats from 4096 tokens,
  // 6/1 below), without its few-shot example: kvlab measures what a cache keeps of one list, and an example
  // list would be a second haystack. Words come from haystack_file's vocabulary.
  TaskSpec cwe;
  cwe.name = "cwe";
  cwe.description = "RULER common words: the 10 words repeated most often in a numbered list";
  cwe.kind = TaskKind::kCommonWords;
  cwe.instruction =
      "Below is a numbered list of words. In these words, some appear more often than others. Memorize the "
      "ones that appear most often.\n";
  cwe.question = "\nQuestion: What are the {num_answers} most common words in the above list?";
  cwe.answer_prefix = " Answer: The top {num_answers} words that appear most often in the list are:";
  cwe.num_common = 10;
  cwe.max_new_tokens = 120;
  t.push_back(cwe);

  // RULER freq_words_extraction.py (synthetic.yaml's fwe: alpha 2, 6-letter coded words).
  TaskSpec fwe;
  fwe.name = "fwe";
  fwe.description = "RULER frequent words: the three most frequent coded words of a Zipf-distributed text";
  fwe.kind = TaskKind::kFrequentWords;
  fwe.instruction =
      "Read the following coded text and track the frequency of each coded word. Find the three most "
      "frequently appeared coded words. ";
  fwe.question =
      "\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are the three most "
      "frequently appeared words in the above coded text?";
  fwe.answer_prefix =
      " Answer: According to the coded text above, the three most frequently appeared words are:";
  fwe.coded_length = 6;
  fwe.alpha = 2.0;
  fwe.max_new_tokens = 50;
  t.push_back(fwe);
  return t;
}

// How many distinct items of a kind with `digits` exist (saturating at 1e18: only "too few" matters).
double ItemSpace(ItemKind kind, int digits) {
  switch (kind) {
    case ItemKind::kNone:
      return 1;
    case ItemKind::kNumbers:
      return 9 * std::pow(10.0, digits - 1);
    case ItemKind::kLetters:
      return std::pow(26.0, digits);
    case ItemKind::kWords:
      return 1e18;  // checked against the essay's vocabulary when drawn
    case ItemKind::kUuids:
      return 1e18;
  }
  return 0;
}

std::optional<TaskSpecProblem> Problem(std::string field, std::string what) {
  return TaskSpecProblem{std::move(field), std::move(what)};
}

std::optional<TaskSpecProblem> InRange(const std::string& field, double v, double lo, double hi) {
  if (!(v >= lo && v <= hi)) {
    const auto text = [](double x) {
      return x == std::floor(x) && std::abs(x) < 1e15 ? std::to_string(static_cast<int64_t>(x))
                                                      : std::to_string(x);
    };
    return Problem(field, text(v) + " is out of range [" + text(lo) + ", " + text(hi) + "]");
  }
  return std::nullopt;
}

}  // namespace

int ExpectedAnswers(const TaskSpec& spec) {
  switch (spec.kind) {
    case TaskKind::kNeedle:
      return spec.queries * spec.values_per_key;
    case TaskKind::kVariableTracking:
      return spec.hops + 1;
    case TaskKind::kCommonWords:
      return spec.num_common;
    case TaskKind::kFrequentWords:
      return 3;
  }
  return 0;
}

std::optional<TaskSpecProblem> CheckTaskSpec(const TaskSpec& s) {
  if (s.name.empty()) return Problem("name", "must be a non-empty string");
  // Counts first: the template and scoring checks below depend on them.
  struct Range {
    const char* field;
    double value, lo, hi;
  };
  const Range ranges[] = {
      {"key_digits", double(s.key_digits), 1, 32},
      {"value_digits", double(s.value_digits), 1, 32},
      {"keys", double(s.keys), 1, 1e6},
      {"values_per_key", double(s.values_per_key), 1, 1e6},
      {"queries", double(s.queries), 1, 1e6},
      {"chains", double(s.chains), 1, 1e4},
      {"hops", double(s.hops), 1, 1e4},
      {"num_common", double(s.num_common), 1, 1e5},
      {"freq_common", double(s.freq_common), 0, 1e4},
      {"freq_uncommon", double(s.freq_uncommon), 0, 1e4},
      {"coded_length", double(s.coded_length), 1, 32},
      {"max_new_tokens", double(s.max_new_tokens), 1, 4096},
      {"haystack_begin", s.haystack_begin, 0, 1},
      {"haystack_end", s.haystack_end, 0, 1},
  };
  for (const Range& r : ranges) {
    if (auto p = InRange(r.field, r.value, r.lo, r.hi)) return p;
  }
  if (!(s.haystack_begin < s.haystack_end)) {
    return Problem("haystack_end", "must be above haystack_begin (" + std::to_string(s.haystack_begin) + ")");
  }
  if (!(s.alpha > 1 && s.alpha <= 100)) {
    return Problem("alpha", "must be in (1, 100]: the Zipf normalizer zeta(alpha) diverges at 1");
  }

  switch (s.kind) {
    case TaskKind::kNeedle:
      if (s.value_kind == ItemKind::kNone) return Problem("value", "a needle needs a value (not none)");
      if (s.key_kind == ItemKind::kNone && (s.keys != 1 || s.queries != 1)) {
        return Problem(s.keys != 1 ? "keys" : "queries",
                       "must be 1 when key = \"none\" (one needle, no key)");
      }
      if (s.queries > s.keys) {
        return Problem("queries",
                       std::to_string(s.queries) + " is more than keys (" + std::to_string(s.keys) + ")");
      }
      if (ItemSpace(s.key_kind, s.key_digits) < s.keys) {
        return Problem("keys", std::to_string(s.keys) + " distinct keys do not exist with key_digits " +
                                   std::to_string(s.key_digits));
      }
      if (ItemSpace(s.value_kind, s.value_digits) < double(s.keys) * s.values_per_key) {
        return Problem("values_per_key", std::to_string(s.keys * s.values_per_key) +
                                             " distinct values do not exist with value_digits " +
                                             std::to_string(s.value_digits));
      }
      if (s.needle.find("{value}") == std::string::npos) return Problem("needle", "must contain {value}");
      if (s.key_kind != ItemKind::kNone && s.needle.find("{key}") == std::string::npos) {
        return Problem("needle", "must contain {key} (or set key = \"none\")");
      }
      break;
    case TaskKind::kVariableTracking:
      if (s.key_kind == ItemKind::kNone) return Problem("key", "variable names need a kind (not none)");
      if (s.value_kind == ItemKind::kNone) return Problem("value", "chain values need a kind (not none)");
      if (s.haystack == HaystackKind::kNeedles) {
        return Problem("haystack", "variable tracking takes an essay or noise haystack");
      }
      if (ItemSpace(s.key_kind, s.key_digits) < double(s.chains) * (s.hops + 1)) {
        return Problem("hops", std::to_string(s.chains * (s.hops + 1)) +
                                   " distinct variable names do not exist with key_digits " +
                                   std::to_string(s.key_digits));
      }
      if (ItemSpace(s.value_kind, s.value_digits) < s.chains) {
        return Problem(
            "chains", "more chains than distinct values with value_digits " + std::to_string(s.value_digits));
      }
      break;
    case TaskKind::kCommonWords:
      // A 0 takes RULER's rule for the length (30/3 from 4096 tokens, 6/1 below), so a count that is set
      // must stay on the right side of the rule's value on either side of 4096.
      if (s.freq_common > 0 || s.freq_uncommon > 0) {
        const int common = s.freq_common > 0 ? s.freq_common : 6;
        const int uncommon = s.freq_uncommon > 0 ? s.freq_uncommon : 3;
        if (common <= uncommon) {
          return Problem(s.freq_common > 0 ? "freq_common" : "freq_uncommon",
                         "common words repeated " + std::to_string(common) + " times and the others " +
                             std::to_string(uncommon) +
                             " times (0: RULER's 6/1 or 30/3) would not make the "
                             "common words the most common");
        }
      }
      break;
    case TaskKind::kFrequentWords:
      break;
  }
  if ((s.haystack == HaystackKind::kEssay || s.kind == TaskKind::kCommonWords ||
       s.key_kind == ItemKind::kWords || s.value_kind == ItemKind::kWords) &&
      s.haystack_file.empty() && s.kind != TaskKind::kFrequentWords) {
    return Problem("haystack_file", "must name the essay text (a path or a name under $KVLAB_ASSETS/text)");
  }
  if (s.haystack == HaystackKind::kNoise && s.noise_text.empty() && s.kind != TaskKind::kCommonWords &&
      s.kind != TaskKind::kFrequentWords) {
    return Problem("noise_text", "must be non-empty for a noise haystack");
  }

  // Templates: well-formed, and the needle's placeholders only in the needle.
  const struct {
    const char* field;
    const std::string* text;
    TemplateField kind;
  } templates[] = {
      {"instruction", &s.instruction, TemplateField::kText},
      {"needle", &s.needle, TemplateField::kNeedle},
      {"question", &s.question, TemplateField::kText},
      {"question_before", &s.question_before, TemplateField::kText},
      {"answer_prefix", &s.answer_prefix, TemplateField::kText},
  };
  for (const auto& t : templates) {
    if (std::string what = CheckTemplate(*t.text, t.kind); !what.empty()) return Problem(t.field, what);
  }
  if (s.question.empty() && s.answer_prefix.empty()) {
    return Problem("question", "question and answer_prefix are both empty: nothing asks for the answer");
  }
  if (s.score == ScoreKind::kExact && ExpectedAnswers(s) != 1) {
    return Problem("score", "\"exact\" needs exactly one expected answer, this task expects " +
                                std::to_string(ExpectedAnswers(s)) + " (use \"all\")");
  }
  return std::nullopt;
}

const std::vector<TaskSpec>& BuiltinTasks() {
  static const std::vector<TaskSpec> tasks = MakeBuiltins();
  return tasks;
}

const TaskSpec& FindTask(const std::string& name, const std::vector<TaskSpec>& defined,
                         const std::string& where) {
  for (const TaskSpec& t : defined) {
    if (t.name == name) return t;
  }
  for (const TaskSpec& t : BuiltinTasks()) {
    if (t.name == name) return t;
  }
  std::string known;
  for (const auto* list : {&defined, &BuiltinTasks()}) {
    for (const TaskSpec& t : *list) known += (known.empty() ? "" : ", ") + t.name;
  }
  throw Error(where, "unknown task '" + name + "' (known: " + known + ")",
              "define it in a task file ([[task]] with name and base or kind)");
}

void ValidateTaskSpec(const TaskSpec& spec, const std::string& where) {
  if (std::optional<TaskSpecProblem> p = CheckTaskSpec(spec)) {
    throw Error(where.empty() ? p->field : where + " " + p->field, p->what);
  }
}

}  // namespace kvlab
