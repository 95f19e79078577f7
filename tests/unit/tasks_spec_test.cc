// Task specs: the built-ins, task files (every field read, every kind of mistake a one-line message naming
// the line and key), lookups and templates.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "kvlab/tasks/task_spec.h"
#include "kvlab/tasks/task_template.h"
#include "kvlab/util/error.h"
#include "kvlab/util/toml_guard.h"

namespace kvlab {
namespace {

// The message of the kvlab::Error a task file throws ("" if it parses).
std::string ErrorOf(const std::string& toml) {
  try {
    ParseTaskFileText(toml, "t.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Expects `toml` to fail with a one-line message holding every piece of `parts`.
void ExpectError(const std::string& toml, std::initializer_list<std::string> parts) {
  const std::string message = ErrorOf(toml);
  ASSERT_FALSE(message.empty()) << "parsed:\n" << toml;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const std::string& p : parts)
    EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
}

TEST(TaskSpec, BuiltinsAreRulerTasksThenPasskeyInOrderAndAllValidate) {
  std::vector<std::string> names;
  for (const TaskSpec& t : BuiltinTasks()) {
    names.push_back(t.name);
    EXPECT_NO_THROW(ValidateTaskSpec(t, "builtin")) << t.name;
    EXPECT_FALSE(t.description.empty()) << t.name;
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1",
                                      "niah_multikey_2", "niah_multikey_3", "niah_multivalue",
                                      "niah_multiquery", "passkey", "vt", "cwe", "fwe"}));
  // scripts/synthetic.yaml's variants.
  const auto& t = BuiltinTasks();
  EXPECT_EQ(t[0].haystack, HaystackKind::kNoise);
  EXPECT_EQ(t[2].value_kind, ItemKind::kUuids);
  EXPECT_EQ(t[2].value_noun_singular, "uuid");
  EXPECT_EQ(t[3].keys, 4);
  EXPECT_EQ(t[3].queries, 1);
  EXPECT_EQ(t[4].haystack, HaystackKind::kNeedles);
  EXPECT_EQ(t[5].key_kind, ItemKind::kUuids);
  EXPECT_EQ(t[6].values_per_key, 4);
  EXPECT_EQ(t[7].keys, 4);
  EXPECT_EQ(t[7].queries, 4);
  EXPECT_EQ(t[8].key_kind, ItemKind::kNone);
  EXPECT_EQ(t[8].max_new_tokens, 16);
  EXPECT_EQ(t[9].kind, TaskKind::kVariableTracking);
  EXPECT_EQ(t[10].kind, TaskKind::kCommonWords);
  EXPECT_EQ(t[11].kind, TaskKind::kFrequentWords);
  EXPECT_FALSE(t[10].HasDepth());
  EXPECT_TRUE(t[9].HasDepth());
}

TEST(TaskSpec, FindTaskPrefersDefinedTasksAndListsNamesWhenUnknown) {
  TaskSpec mine = BuiltinTasks()[0];
  mine.max_new_tokens = 7;
  EXPECT_EQ(FindTask("niah_single_1", {mine}, "--task").max_new_tokens, 7);
  EXPECT_EQ(FindTask("vt", {mine}, "--task").name, "vt");
  try {
    FindTask("nope", {}, "--task");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--task: unknown task 'nope'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("passkey"), std::string::npos) << e.what();
  }
}

TEST(TaskSpec, ValidateNamesWhereAndTheField) {
  const auto message = [](const TaskSpec& s) -> std::string {
    try {
      ValidateTaskSpec(s, "--task x");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  TaskSpec s = BuiltinTasks()[3];  // niah_multikey_1
  s.queries = 5;
  EXPECT_NE(message(s).find("--task x queries: 5 is more than keys (4)"), std::string::npos) << message(s);
  s = BuiltinTasks()[6];  // niah_multivalue: 4 answers
  s.score = ScoreKind::kExact;
  EXPECT_NE(
      message(s).find("--task x score: \"exact\" needs exactly one expected answer, this task expects 4"),
      std::string::npos)
      << message(s);
  s = BuiltinTasks()[1];
  s.score = ScoreKind::kExact;  // one answer: allowed
  EXPECT_EQ(message(s), "");
  s.needle = "no value here {key}";
  EXPECT_NE(message(s).find("needle: must contain {value}"), std::string::npos) << message(s);
  s = BuiltinTasks()[8];  // passkey: key none
  s.keys = 2;
  EXPECT_NE(message(s).find("keys: must be 1 when key = \"none\""), std::string::npos) << message(s);
  s = BuiltinTasks()[1];
  s.haystack_begin = 0.5;
  s.haystack_end = 0.5;
  EXPECT_NE(message(s).find("haystack_end"), std::string::npos) << message(s);
  s = BuiltinTasks()[1];
  s.max_new_tokens = 0;
  EXPECT_NE(message(s).find("max_new_tokens: 0 is out of range [1, 4096]"), std::string::npos) << message(s);
  s = BuiltinTasks()[1];
  s.question = "";
  s.answer_prefix = "";
  EXPECT_NE(message(s).find("question:"), std::string::npos) << message(s);
  s = BuiltinTasks()[9];
  s.hops = 0;
  EXPECT_NE(message(s).find("hops:"), std::string::npos) << message(s);
}

TEST(TaskTemplate, ExpandsPlaceholdersAndLiteralBraces) {
  TemplateValues v;
  v.values = "numbers";
  v.query = "q";
  v.key = "k";
  v.value = "7";
  v.num_answers = "3";
  EXPECT_EQ(
      ExpandTemplate("{Some} {values} {are} {are_all} for {query}: {{{value}}} {num_answers} {key}}}", v),
      "Some numbers are are all for q: {7} 3 k}");
  EXPECT_EQ(CheckTemplate("{{literal}} {query}", TemplateField::kText), "");
  EXPECT_NE(CheckTemplate("{key}", TemplateField::kText).find("unknown placeholder {key}"),
            std::string::npos);
  EXPECT_EQ(CheckTemplate("{key}", TemplateField::kNeedle), "");
  EXPECT_NE(CheckTemplate("a {query", TemplateField::kText).find("unclosed '{'"), std::string::npos);
  EXPECT_NE(CheckTemplate("a } b", TemplateField::kText).find("unmatched '}'"), std::string::npos);
  EXPECT_NE(CheckTemplate("{a{b}", TemplateField::kText).find("unclosed"), std::string::npos);
  EXPECT_EQ(JoinQuery({"a"}), "a");
  EXPECT_EQ(JoinQuery({"a", "b"}), "a and b");
  EXPECT_EQ(JoinQuery({"a", "b", "c"}), "a, b, and c");
}

// Every field of a [[task]] table, each set to something other than its default.
const char* kEveryField = R"([[task]]
name = "full"
kind = "needle"
description = "d"
instruction = "I {values}\n"
needle = "N {key}={value}"
question = "Q {query}"
question_before = "B {query}\n"
answer_prefix = "A"
value_noun = "codes"
value_noun_singular = "code"
key = "uuids"
value = "letters"
key_digits = 3
value_digits = 9
keys = 5
values_per_key = 2
queries = 2
chains = 3
hops = 6
num_common = 12
freq_common = 40
freq_uncommon = 4
coded_length = 8
alpha = 2.5
haystack = "needles"
haystack_file = "moby-dick.txt"
haystack_begin = 0.25
haystack_end = 0.75
lowercase = true
normalize_whitespace = false
noise_text = "noise."
insert_at = "word"
needle_separator = "|"
max_new_tokens = 99
score = "all"
)";

TEST(TaskFile, ReadsEveryField) {
  const std::vector<TaskSpec> tasks = ParseTaskFileText(kEveryField, "t.toml");
  ASSERT_EQ(tasks.size(), 1u);
  const TaskSpec& s = tasks[0];
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.kind, TaskKind::kNeedle);
  EXPECT_EQ(s.description, "d");
  EXPECT_EQ(s.instruction, "I {values}\n");
  EXPECT_EQ(s.needle, "N {key}={value}");
  EXPECT_EQ(s.question, "Q {query}");
  EXPECT_EQ(s.question_before, "B {query}\n");
  EXPECT_EQ(s.answer_prefix, "A");
  EXPECT_EQ(s.value_noun, "codes");
  EXPECT_EQ(s.value_noun_singular, "code");
  EXPECT_EQ(s.key_kind, ItemKind::kUuids);
  EXPECT_EQ(s.value_kind, ItemKind::kLetters);
  EXPECT_EQ(s.key_digits, 3);
  EXPECT_EQ(s.value_digits, 9);
  EXPECT_EQ(s.keys, 5);
  EXPECT_EQ(s.values_per_key, 2);
  EXPECT_EQ(s.queries, 2);
  EXPECT_EQ(s.chains, 3);
  EXPECT_EQ(s.hops, 6);
  EXPECT_EQ(s.num_common, 12);
  EXPECT_EQ(s.freq_common, 40);
  EXPECT_EQ(s.freq_uncommon, 4);
  EXPECT_EQ(s.coded_length, 8);
  EXPECT_DOUBLE_EQ(s.alpha, 2.5);
  EXPECT_EQ(s.haystack, HaystackKind::kNeedles);
  EXPECT_EQ(s.haystack_file, "moby-dick.txt");
  EXPECT_DOUBLE_EQ(s.haystack_begin, 0.25);
  EXPECT_DOUBLE_EQ(s.haystack_end, 0.75);
  EXPECT_TRUE(s.lowercase);
  EXPECT_FALSE(s.normalize_whitespace);
  EXPECT_EQ(s.noise_text, "noise.");
  EXPECT_EQ(s.insert_at, InsertAt::kWord);
  EXPECT_EQ(s.needle_separator, "|");
  EXPECT_EQ(s.max_new_tokens, 99);
  EXPECT_EQ(s.score, ScoreKind::kAll);
}

TEST(TaskFile, BaseCopiesABuiltinOrAnEarlierTaskAndOverridesFields) {
  const std::vector<TaskSpec> tasks = ParseTaskFileText(R"(
[[task]]
name = "short_passkey"
base = "passkey"
value_digits = 3
[[task]]
name = "shorter"
base = "short_passkey"
max_new_tokens = 4
)",
                                                        "t.toml");
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].value_digits, 3);
  EXPECT_EQ(tasks[0].needle, BuiltinTasks()[8].needle);
  EXPECT_EQ(tasks[1].value_digits, 3);
  EXPECT_EQ(tasks[1].max_new_tokens, 4);
  EXPECT_EQ(tasks[1].kind, TaskKind::kNeedle);
  EXPECT_EQ(FindTask("shorter", tasks, "--task").max_new_tokens, 4);
}

TEST(TaskFile, EachMistakeIsOneLineNamingLineTaskAndKey) {
  const std::string head = "[[task]]\nname = \"x\"\nbase = \"niah_multikey_1\"\n";  // lines 1-3
  ExpectError(head + "queries = 5\n", {"t.toml:4: task[1] queries", "more than keys (4)"});
  ExpectError(head + "colour = 1\n", {"t.toml:4: task[1] colour", "unknown key", "needle_separator"});
  ExpectError(head + "keys = \"4\"\n", {"t.toml:4: task[1] keys", "must be an integer"});
  ExpectError(head + "lowercase = 1\n", {"t.toml:4: task[1] lowercase", "true or false"});
  ExpectError(head + "alpha = \"x\"\n", {"t.toml:4: task[1] alpha", "must be a number"});
  ExpectError(head + "max_new_tokens = 5000\n", {"t.toml:4: task[1] max_new_tokens", "out of range"});
  ExpectError(head + "key_digits = 99999999999\n", {"t.toml:4: task[1] key_digits", "out of range"});
  ExpectError(head + "haystack = \"hay\"\n",
              {"t.toml:4: task[1] haystack", "unknown value \"hay\"", "needles"});
  ExpectError(head + "values_per_key = 2\nscore = \"exact\"\n", {"t.toml:5: task[1] score", "expects 2"});
  ExpectError(head + "question = \"{qery}\"\n", {"t.toml:4: task[1] question", "unknown placeholder {qery}"});
  ExpectError(head + "instruction = \"a {query\"\n", {"t.toml:4: task[1] instruction", "unclosed '{'"});
  ExpectError(head + "answer_prefix = \"a }\"\n", {"t.toml:4: task[1] answer_prefix", "unmatched '}'"});
  ExpectError(head + "needle = \"{key} only\"\n", {"t.toml:4: task[1] needle", "must contain {value}"});
  ExpectError(head + "haystack_begin = 0.8\nhaystack_end = 0.2\n", {"t.toml:5: task[1] haystack_end"});
  // A problem in an inherited field (queries = 4 from niah_multiquery) points at the table.
  ExpectError(
      "[[task]]\nname = \"x\"\nbase = \"niah_multiquery\"\n[[task]]\nname = \"y\"\nbase = \"x\"\nkeys = 2\n",
      {"t.toml:4: task[2] queries", "4 is more than keys (2)"});
  ExpectError(
      "[[task]]\nname = \"x\"\nbase = \"niah_multiquery\"\nqueries = 2\n[[task]]\nname = \"y\"\n"
      "base = \"x\"\nscore = \"exact\"\nkeys = 2\n",
      {"t.toml:8: task[2] score", "expects 2"});
  // Table-level mistakes.
  ExpectError("[[task]]\nbase = \"passkey\"\n", {"t.toml:1: task[1] name", "is required"});
  ExpectError("[[task]]\nname = \"\"\nbase = \"passkey\"\n", {"t.toml:2: task[1] name", "non-empty"});
  ExpectError("[[task]]\nname = \"a\"\n", {"task[1] name", "needs base"});
  ExpectError("[[task]]\nname = \"a\"\nbase = \"passkey\"\nkind = \"needle\"\n",
              {"t.toml:4: task[1] kind", "not both"});
  ExpectError("[[task]]\nname = \"a\"\nbase = \"nope\"\n",
              {"t.toml:3: task[1] base", "unknown task 'nope'", "fwe"});
  ExpectError("[[task]]\nname = \"a\"\nkind = \"haystack\"\n", {"t.toml:3: task[1] kind", "common_words"});
  ExpectError("[[task]]\nname = \"a\"\nbase = \"vt\"\n[[task]]\nname = \"a\"\nbase = \"vt\"\n",
              {"t.toml:5: task[2] name", "defined twice"});
  // A new task of a kind starts without phrasing, and says what is missing.
  ExpectError("[[task]]\nname = \"a\"\nkind = \"needle\"\n",
              {"t.toml:1: task[1] needle", "must contain {value}"});
  // The file as a whole.
  ExpectError("", {"t.toml", "no [[task]] tables"});
  ExpectError("task = 3\n", {"t.toml:1: task", "array of tables"});
  ExpectError("[sweep]\nx = 1\n", {"t.toml:1: sweep", "unknown key"});
  ExpectError("[[task]]\nname = \"a\nbase = 1\n", {"t.toml:2:"});  // TOML syntax: the parser's line
  // Input toml++ 3.3 mishandles (undefined behaviour) is refused before it is parsed.
  ExpectError("[[task]]\nname = \"a\"\nq\xc8\xa1 = 1\n",
              {"t.toml:3: a non-ASCII character outside a string"});
  ExpectError("# ok: caf\xc3\xa9\n[[[task]]]\n", {"t.toml:2: a table header without a name"});
  ExpectError("[[task]]\nname = \"a\"\nbase = \"vt\"\n  [ ]\n", {"t.toml:4: a table header without a name"});
  ExpectError("[[task]]\nname = \"a\"\nfreq_common = [}}\\n\"\n", {"t.toml:3: a '}' where an array expects a value"});
  ExpectError("[[task]]\nx = [1, # c\n\n }\n", {"t.toml:4: a '}' where an array expects a value"});
  ExpectError("[[task]]\nx = \"\"\"a\\\n\n\xc3\xa9\"\"\"\n",
              {"t.toml:2: a non-ASCII character after a backslash in a multi-line string"});
  ExpectError("[[task]]\nx = \"\"\"a\\\nb\n\"\"\"\ny = \"\"\"\\ \xc3\xa9\"\"\"\n",
              {"t.toml:5: a non-ASCII character after a backslash"});
  ExpectError("[[task]]\ni = 0000-16-00 1\n=000\n", {"t.toml:2: a date followed by a one-digit time"});
  EXPECT_EQ(CheckTomlGuard("d = 1979-05-27 07:32:00\ne = \"1979-05-27 1 \"\n").line, 0);
}

TEST(TaskFile, NonAsciiInStringsAndCommentsAndNestedArraysAreFine) {
  const std::vector<TaskSpec> tasks = ParseTaskFileText(
      "# caf\xc3\xa9\n[[task]] # \xe2\x80\x9cq\xe2\x80\x9d\nname = \"caf\xc3\xa9\"\nbase = \"passkey\"\n"
      "instruction = '''\n\xc3\xa9 [[[ '''\nquestion = \"\\\" \xc3\xa9\"\n",
      "t.toml");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].name, "caf\xc3\xa9");
  EXPECT_EQ(tasks[0].instruction, "\xc3\xa9 [[[ ");
  EXPECT_EQ(tasks[0].question, "\" \xc3\xa9");
  // Brackets that open arrays, not table headers, are not the guard's business.
  EXPECT_EQ(CheckTomlGuard("x = [[[1]]]\ny = [ [2] ]\n").line, 0);
  EXPECT_EQ(CheckTomlGuard("x = 1\n [[[y]]]\n").line, 2);
  EXPECT_EQ(CheckTomlGuard("x = [\n[ ],\n  [1, {a = [2]}],\n]\n[t]\ny = {}\n").line, 0);
  // A quote where no string can start is bare text to toml++, so what follows it is checked (a fuzzer input).
  EXPECT_EQ(CheckTomlGuard("[[task]]\nname =+querry\"_\xc8\xb8{\n").line, 2);
  EXPECT_EQ(CheckTomlGuard("a = 1.\"\xc8\xb8\"\n").line, 1);
  EXPECT_EQ(CheckTomlGuard("a = \"\xc3\xa9\"\nb = [\"\xc3\xa9\", '\xc3\xa9']\n\"k\xc3\xa9\".\"x\" = { c = \"\xc3\xa9\" }\n").line, 0);
}

TEST(TaskFile, ShippedRecallCharFileDefinesBothTasks) {
  const std::vector<TaskSpec> tasks =
      LoadTaskFile(std::filesystem::path(KVLAB_SOURCE_DIR) / "configs/tasks/recall-char.toml");
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].name, "recall_char");
  EXPECT_EQ(tasks[0].needle, " {key}{value}.");
  EXPECT_EQ(tasks[0].score, ScoreKind::kExact);
  EXPECT_EQ(tasks[1].name, "recall_char_multikey");
  EXPECT_EQ(tasks[1].keys, 3);
  EXPECT_EQ(tasks[1].needle, tasks[0].needle);
  try {
    LoadTaskFile("/nonexistent/tasks.toml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tasks.toml: cannot read"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kvlab
