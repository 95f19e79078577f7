// TaskSpec: what one long-context retrieval task is — its kind, its needles and haystack, and every piece
// of phrasing — as data, so a user can match the prompt format their model was trained on (docs/TASKS.md).
//
// The built-in tasks follow RULER (Hsieh et al. 2024, "RULER: What's the Real Context Size of Your
// Long-Context Language Models?", github.com/NVIDIA/RULER, scripts/synthetic.yaml and
// scripts/data/synthetic/constants.py): niah_single_1..3, niah_multikey_1..3, niah_multivalue,
// niah_multiquery, vt (variable tracking), cwe (common words), fwe (frequent words); and passkey retrieval
// (Mohtashami & Jaggi 2023, "Landmark Attention: Random-Access Infinite Context Length for Transformers").
// A task file (TOML, `[[task]]` tables) defines new tasks or changes built-in ones (`base = "niah_single_2"`
// then only the fields that differ); configs/tasks/recall-char.toml is an example.
//
// Templates are plain text with {placeholders} (a literal brace is written {{ or }}):
//   {key} {value}          one needle's key and value (needle, distractor needles)
//   {query}                the queried keys, "a", "a and b", "a, b, and c" (vt: the chain's value)
//   {values}               value_noun, or value_noun_singular when exactly one answer is expected (in a
//   needle
//                          always value_noun: RULER formats its needles before the single-answer rewrite)
//   {Some} {are} {are_all} "Some"/"are"/"are all", or "A"/"is"/"is" with exactly one answer
//                          (RULER rewrites its template the same way)
//   {num_answers}          how many answers are expected (vt: variables in the chain)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kvlab {

enum class TaskKind {
  kNeedle,            // needles "key → value" in a haystack, asked for by key (NIAH, passkey)
  kVariableTracking,  // chains VAR A = 12345, VAR B = VAR A, ...; asked for every name of one value
  kCommonWords,       // a numbered word list; asked for the num_common words repeated most often
  kFrequentWords,     // Zipf-distributed coded words; asked for the three most frequent
};

enum class HaystackKind {
  kEssay,    // running text from haystack_file (a path, or a name under $KVLAB_ASSETS/text)
  kNoise,    // noise_text repeated, one per line (RULER's "noise")
  kNeedles,  // distractor needles with fresh keys and values, one per line (RULER's "needle")
};

// What a needle key or value is made of.
enum class ItemKind {
  kNone,     // no key (passkey: the needle has only a value)
  kNumbers,  // `digits` decimal digits, no leading zero
  kWords,    // "word-word": two distinct words drawn from the essay file's vocabulary
  kUuids,    // 8-4-4-4-12 lower-case hex
  kLetters,  // `digits` upper-case letters (one capital letter: recall-char's keys)
};

enum class InsertAt {
  kSentence,  // needles go between sentences of an essay (before a word that follows . ! or ?)
  kWord,      // before any word
};

enum class ScoreKind {
  kAll,  // RULER's string_match_all: the fraction of expected answers found (case-insensitive) in the output
  kExact,  // 1 when the output, leading whitespace trimmed, begins with the one expected answer, else 0
};

struct TaskSpec {
  std::string name;
  std::string description;  // one line for `kvlab tasks --list`
  TaskKind kind = TaskKind::kNeedle;

  // Phrasing. prompt = instruction + [question_before, query-aware runs only] + context + question +
  // answer_prefix; the model's answer continues after answer_prefix.
  std::string instruction;
  std::string needle;  // kNeedle: one needle, e.g. "One of the special magic {values} for {key} is: {value}."
  std::string question;  // the final question (also what "both" places before the context)
  std::string
      question_before;  // query-aware runs: text before the context; empty = question, trimmed, + "\n"
  std::string answer_prefix;
  std::string value_noun = "numbers", value_noun_singular = "number";

  // Needles (kNeedle).
  ItemKind key_kind = ItemKind::kWords;
  ItemKind value_kind = ItemKind::kNumbers;
  int key_digits = 7;      // kNumbers / kLetters keys: length
  int value_digits = 7;    // kNumbers / kLetters values: length
  int keys = 1;            // needles' distinct keys (RULER num_needle_k)
  int values_per_key = 1;  // needles per key, each with its own value (num_needle_v)
  int queries = 1;         // keys asked for (num_needle_q, ≤ keys); the others are distractors

  // Variable tracking.
  int chains = 1;  // the first chain is asked for; the others are distractors
  int hops = 4;    // assignments after the first: a chain names hops + 1 variables

  // Common words: num_common words appear freq_common times, the others freq_uncommon times (RULER: 30 and 3
  // from 4096 tokens, 6 and 1 below; 0 = that rule).
  int num_common = 10, freq_common = 0, freq_uncommon = 0;
  // Frequent words: a vocabulary of coded words of `coded_length` letters, Zipf(alpha) counts; the most
  // frequent is "..." (noise, as RULER), the next three are the answers.
  int coded_length = 6;
  double alpha = 2.0;

  // Haystack.
  HaystackKind haystack = HaystackKind::kEssay;
  std::string haystack_file = "tinystories_val.txt";
  double haystack_begin = 0.0, haystack_end = 1.0;  // the part of the file an essay starts in (fractions)
  bool lowercase = false;                           // lower-case the essay text
  bool normalize_whitespace = true;  // essay whitespace runs become one space (RULER); off keeps newlines
  std::string noise_text =
      "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
  InsertAt insert_at = InsertAt::kSentence;  // for essays; line haystacks insert between lines
  std::string needle_separator = " ";        // after an inserted needle in an essay (lines: "\n")

  // Answering.
  int max_new_tokens = 128;
  ScoreKind score = ScoreKind::kAll;
  // Whether the task has a depth axis (kNeedle, kVariableTracking); the word tasks ignore depths.
  bool HasDepth() const { return kind == TaskKind::kNeedle || kind == TaskKind::kVariableTracking; }
};

// The built-in tasks, in a fixed order.
const std::vector<TaskSpec>& BuiltinTasks();

// Reads a task file: `[[task]]` tables with `name` and either `base` (a built-in, or a task defined earlier
// in the file) or `kind`, then any TaskSpec field by its name above (enums as lower-case words: kind =
// "needle" | "variable_tracking" | "common_words" | "frequent_words", haystack = "essay" | "noise" |
// "needles", key/value = "none" | "numbers" | "words" | "uuids" | "letters", insert_at = "sentence" |
// "word", score = "all" | "exact"). Unknown keys, wrong types, out-of-range numbers, templates with an
// unknown or unclosed {placeholder}, and inconsistent counts (queries > keys, exact scoring with more than
// one answer, ...) are errors "FILE:LINE: task[I] KEY: what is wrong". Throws kvlab::Error.
std::vector<TaskSpec> LoadTaskFile(const std::filesystem::path& path);
// The same from text (`source` names it in messages); for tests and the fuzzer.
std::vector<TaskSpec> ParseTaskFileText(const std::string& toml, const std::filesystem::path& source);

// Looks a task up by name among `defined` (a task file's) and then the built-ins. Throws kvlab::Error
// naming `where` (e.g. "--task") and listing the known names.
const TaskSpec& FindTask(const std::string& name, const std::vector<TaskSpec>& defined,
                         const std::string& where);

// Checks one spec (what LoadTaskFile checks per table); `where` prefixes the message.
void ValidateTaskSpec(const TaskSpec& spec, const std::string& where);

}  // namespace kvlab
