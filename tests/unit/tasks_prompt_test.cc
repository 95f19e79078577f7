// Task prompts: needles where the depth says, token spans that hold them, the largest haystack that fits,
// answers that the prompt text itself bears out (parsed back out of it), determinism, query-aware and chat
// formats, and the recall-char tasks with their model's own tokenizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "kvlab/tasks/task_prompt.h"
#include "kvlab/tasks/task_prompt_detail.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;

// stories260K's 512-piece llama2.c vocabulary: small and fast, with byte fallback and BOS.
const Tokenizer& Tok512() {
  static const std::unique_ptr<Tokenizer> t =
      LoadTokenizerFile(AssetsDir() / "models/stories260K/tok512.bin");
  return *t;
}
// recall-char's vocabulary: one token per character.
const Tokenizer& CharTokenizer() {
  static const std::unique_ptr<Tokenizer> t =
      LoadTokenizerFile(AssetsDir() / "models/recall-char/tokenizer.bin");
  return *t;
}

TaskSpec Builtin(const std::string& name) { return FindTask(name, {}, "test"); }

// The text ids[begin, end) carry inside the prompt (streamed after the token before them, so a piece's
// leading space is not dropped as at the start of a text).
std::string Decode(const Tokenizer& tok, const std::vector<int32_t>& ids, int32_t begin, int32_t end) {
  std::string out;
  for (int32_t i = begin; i < end; ++i) out += tok.DecodeToken(i == 0 ? -1 : ids[i - 1], ids[i]);
  return out;
}

// The text between the first `after` and the last `before`.
std::string Between(const std::string& text, const std::string& after, const std::string& before) {
  const size_t a = text.find(after);
  const size_t b = text.rfind(before);
  EXPECT_NE(a, std::string::npos) << after;
  EXPECT_NE(b, std::string::npos) << before;
  if (a == std::string::npos || b == std::string::npos || b < a + after.size()) return "";
  return text.substr(a + after.size(), b - a - after.size());
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

// The built prompt fits, and the same draw with one more haystack unit would not.
void ExpectLargestFit(const TaskSpec& spec, const TaskPrompt& p, const Tokenizer& tok,
                      const PromptFormat& f = {}) {
  EXPECT_LE(static_cast<int64_t>(p.ids.size()) + spec.max_new_tokens, p.length) << spec.name;
  const TaskPrompt more =
      detail::BuildTaskPromptWithUnits(spec, p.length, p.depth, p.seed, tok, f, p.haystack_units + 1);
  if (more.haystack_units == p.haystack_units) return;  // the task had no more haystack to give
  EXPECT_GT(static_cast<int64_t>(more.ids.size()) + spec.max_new_tokens, p.length)
      << spec.name << ": " << p.haystack_units << " units fit, and so would one more";
  // The same draw: the needles do not change with the amount of haystack.
  EXPECT_EQ(more.answers, p.answers);
}

const std::string kNiahNeedle = "One of the special magic numbers for ";

TEST(TaskPrompt, EssayNeedleSitsAtItsDepthInWords) {
  KVLAB_REQUIRE_ASSETS();
  TaskSpec spec = Builtin("niah_single_2");
  spec.insert_at = InsertAt::kWord;
  for (double depth : {0.0, 0.3, 0.5, 1.0}) {
    const TaskPrompt p = BuildTaskPrompt(spec, 600, depth, 11, Tok512());
    const std::string context = Between(p.text, "afterwards.\n", "\nWhat is the special magic");
    const size_t at = context.find(kNiahNeedle);
    ASSERT_NE(at, std::string::npos) << p.text;
    // Normalized whitespace: every unit before the needle is a word and one space.
    const auto before = static_cast<double>(std::count(context.begin(), context.begin() + at, ' '));
    EXPECT_LE(std::abs(before - depth * static_cast<double>(p.haystack_units)), 0.5) << depth;
    if (depth == 0) {
      EXPECT_EQ(at, 0u);
    }
    if (depth == 1) {
      EXPECT_EQ(context.find('.', at + kNiahNeedle.size()) + 1, context.size()) << context;
    }
    EXPECT_GT(p.haystack_units, 20);
    ExpectLargestFit(spec, p, Tok512());
  }
}

TEST(TaskPrompt, SentenceInsertionFollowsASentenceEnd) {
  KVLAB_REQUIRE_ASSETS();
  const TaskSpec spec = Builtin("niah_single_2");
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const TaskPrompt p = BuildTaskPrompt(spec, 500, 0.5, seed, Tok512());
    const std::string context = Between(p.text, "afterwards.\n", "\nWhat is the special magic");
    const size_t at = context.find(kNiahNeedle);
    ASSERT_NE(at, std::string::npos);
    ASSERT_GE(at, 2u);                 // not at 0 for a depth in the middle of hundreds of words
    const char end = context[at - 2];  // "... end. NEEDLE"
    EXPECT_TRUE(end == '.' || end == '!' || end == '?') << context.substr(0, at);
    EXPECT_EQ(context[at - 1], ' ');
  }
}

TEST(TaskPrompt, NoiseNeedleIsALineAtItsDepth) {
  KVLAB_REQUIRE_ASSETS();
  const TaskSpec spec = Builtin("niah_single_1");
  for (double depth : {0.0, 0.4, 1.0}) {
    const TaskPrompt p = BuildTaskPrompt(spec, 700, depth, 3, Tok512());
    const std::vector<std::string> lines =
        Split(Between(p.text, "afterwards.\n", "\nWhat is the special"), '\n');
    ASSERT_EQ(static_cast<int64_t>(lines.size()), p.haystack_units + 1);
    size_t needle_line = lines.size();
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].rfind(kNiahNeedle, 0) == 0) {
        needle_line = i;
      } else {
        EXPECT_EQ(lines[i], spec.noise_text);
      }
    }
    EXPECT_LE(std::abs(static_cast<double>(needle_line) - depth * static_cast<double>(p.haystack_units)),
              0.5);
    ExpectLargestFit(spec, p, Tok512());
  }
}

// Every task: spans of the asked-for needles hold the answers, distractor spans hold none, and spans are
// tight (their inner tokens are inside the piece's text).
TEST(TaskPrompt, SpansCarryTheNeedlesAndTheQuestion) {
  KVLAB_REQUIRE_ASSETS();
  for (const char* name :
       {"niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1", "niah_multikey_2",
        "niah_multikey_3", "niah_multivalue", "niah_multiquery", "passkey", "vt"}) {
    SCOPED_TRACE(name);
    TaskSpec spec = Builtin(name);
    const TaskPrompt p = BuildTaskPrompt(spec, 900, 0.35, 5, Tok512());
    const bool vt = spec.kind == TaskKind::kVariableTracking;
    const std::regex piece(vt ? R"(VAR [A-Z]{5} = (VAR [A-Z]{5}|\d{5}))"
                           : spec.name == "passkey"
                               ? R"(The pass key is \d+\. Remember it\. \d+ is the pass key\.)"
                               : R"(One of the special magic \w+ for \S+ is: \S+\.)");
    ASSERT_EQ(p.needles.size(), static_cast<size_t>(vt ? spec.hops + 1 : spec.queries * spec.values_per_key));
    ASSERT_EQ(p.distractors.size(),
              static_cast<size_t>(vt ? 0 : (spec.keys - spec.queries) * spec.values_per_key));
    std::multiset<std::string> found;
    for (size_t i = 0; i < p.needles.size(); ++i) {
      const TokenSpan s = p.needles[i];
      ASSERT_LT(s.begin, s.end);
      ASSERT_LE(s.end, p.question_start);
      const std::string text = Decode(Tok512(), p.ids, s.begin, s.end);
      if (vt) {
        EXPECT_NE(text.find("VAR " + p.answers[i] + " = "), std::string::npos)
            << text;  // the chain, in order
      } else {
        for (const std::string& a : p.answers) {
          if (text.find(a) != std::string::npos) found.insert(a);
        }
      }
      // The span covers the whole needle, and all but its first and last tokens lie inside it.
      std::smatch m;
      ASSERT_TRUE(std::regex_search(text, m, piece)) << text;
      const std::string inner = Decode(Tok512(), p.ids, s.begin + 1, s.end - 1);
      EXPECT_NE(m.str().find(inner), std::string::npos) << "'" << inner << "' outside '" << m.str() << "'";
    }
    if (!vt) {
      EXPECT_EQ(found, std::multiset<std::string>(p.answers.begin(), p.answers.end()));
    }
    for (const TokenSpan& s : p.distractors) {
      const std::string text = Decode(Tok512(), p.ids, s.begin, s.end);
      EXPECT_NE(text.find("special magic"), std::string::npos) << text;
      for (const std::string& a : p.answers) EXPECT_EQ(text.find(a), std::string::npos) << text;
    }
    // The final question starts at question_start (its first character is '\n', a byte token here).
    const std::string question =
        Decode(Tok512(), p.ids, p.question_start, static_cast<int32_t>(p.ids.size()));
    EXPECT_EQ(question.rfind(vt ? "\nQuestion: Find all" : "\nWhat ", 0), 0u) << question;
    EXPECT_EQ(Decode(Tok512(), p.ids, 0, p.question_start).find(vt ? "Question:" : "\nWhat "),
              std::string::npos);
    ExpectLargestFit(spec, p, Tok512());
  }
}

TEST(TaskPrompt, DistractorKeysAndValuesNeverCollide) {
  KVLAB_REQUIRE_ASSETS();
  const std::regex needle(R"(One of the special magic numbers for (\S+) is: (\d+)\.)");
  // A tiny item space (26 letter keys, 9 one-digit values) runs the needles haystack out of fresh items, so
  // a repeat would show at once.
  TaskSpec tiny = Builtin("niah_multikey_2");
  tiny.name = "tiny";
  tiny.key_kind = ItemKind::kLetters;
  tiny.key_digits = 1;
  tiny.value_digits = 1;
  tiny.keys = 2;
  for (const TaskSpec& spec : {Builtin("niah_multikey_2"), Builtin("niah_multikey_1"), tiny}) {
    const std::string& name = spec.name;
    for (uint64_t seed = 0; seed < 12; ++seed) {
      const TaskPrompt p = BuildTaskPrompt(spec, 700, 0.5, seed, Tok512());
      std::set<std::string> keys, values;
      int needles = 0;
      std::string asked_value;
      std::smatch q;
      ASSERT_TRUE(std::regex_search(p.text, q,
                                    std::regex(R"(What is the special magic number for (\S+) mentioned)")));
      const std::string query = q[1];
      for (auto it = std::sregex_iterator(p.text.begin(), p.text.end(), needle); it != std::sregex_iterator();
           ++it) {
        ++needles;
        keys.insert((*it)[1]);
        values.insert((*it)[2]);
        if ((*it)[1] == query) asked_value = (*it)[2];
      }
      EXPECT_GE(needles, spec.keys) << name;
      if (name == "tiny") {
        EXPECT_EQ(needles, 9) << "the needle lines end when the 9 values are used";
      }
      EXPECT_EQ(keys.size(), static_cast<size_t>(needles)) << name << " seed " << seed;
      EXPECT_EQ(values.size(), static_cast<size_t>(needles)) << name << " seed " << seed;
      EXPECT_EQ(p.answers, std::vector<std::string>{asked_value}) << name << " seed " << seed;
    }
  }
}

TEST(TaskPrompt, MultiQueryAndMultiValueAnswersAreTheAskedKeysValues) {
  KVLAB_REQUIRE_ASSETS();
  const std::regex needle(R"(One of the special magic numbers for (\S+) is: (\d+)\.)");
  for (const char* name : {"niah_multiquery", "niah_multivalue"}) {
    const TaskPrompt p = BuildTaskPrompt(Builtin(name), 800, 0.2, 9, Tok512());
    std::multimap<std::string, std::string> by_key;
    for (auto it = std::sregex_iterator(p.text.begin(), p.text.end(), needle); it != std::sregex_iterator();
         ++it) {
      by_key.emplace((*it)[1], (*it)[2]);
    }
    // "What are all the special magic numbers for a, b, c, and d mentioned ..."
    std::smatch q;
    ASSERT_TRUE(std::regex_search(p.text, q,
                                  std::regex("What are all the special magic numbers for (.+?) mentioned")));
    const std::string query = q[1];
    std::vector<std::string> expected;
    for (std::string key : Split(std::regex_replace(query, std::regex(",? and |, "), "|"), '|')) {
      for (auto [it, end] = by_key.equal_range(key); it != end; ++it) expected.push_back(it->second);
    }
    std::vector<std::string> answers = p.answers;
    std::sort(answers.begin(), answers.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(answers, expected) << name << ": " << query;
    EXPECT_EQ(answers.size(), 4u);
    EXPECT_NE(p.text.find("Some special magic numbers are hidden"), std::string::npos);
  }
  // One answer: RULER's singular rewrite, but the needle keeps the plural noun.
  const TaskPrompt single = BuildTaskPrompt(Builtin("niah_single_3"), 500, 0.5, 1, Tok512());
  EXPECT_EQ(single.text.rfind("A special magic uuid is hidden within the following text.", 0), 0u)
      << single.text;
  EXPECT_NE(single.text.find("One of the special magic uuids for "), std::string::npos);
  EXPECT_NE(single.text.find("mentioned in the provided text is"), std::string::npos);
  EXPECT_TRUE(
      std::regex_match(single.answers.at(0),
                       std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << single.answers[0];
}

TEST(TaskPrompt, VariableTrackingAnswersFollowTheChainInTheText) {
  KVLAB_REQUIRE_ASSETS();
  TaskSpec spec = Builtin("vt");
  spec.chains = 3;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const TaskPrompt p = BuildTaskPrompt(spec, 800, 0.25, seed, Tok512());
    ASSERT_EQ(p.distractors.size(), 10u);
    const std::string value = Between(p.text, "assigned the value ", " in the text above.");
    // Follow the assignments from the value: VAR X = value, then VAR Y = VAR X, ...
    std::map<std::string, std::string> rhs_to_name;
    const std::regex assign(R"(VAR ([A-Z]{5}) = (VAR [A-Z]{5}|\d{5}))");
    int statements = 0;
    for (auto it = std::sregex_iterator(p.text.begin(), p.text.end(), assign); it != std::sregex_iterator();
         ++it) {
      ++statements;
      EXPECT_TRUE(rhs_to_name.emplace((*it)[2], (*it)[1]).second) << "two assignments of " << (*it)[2];
    }
    EXPECT_EQ(statements, 15);
    std::vector<std::string> chain;
    for (std::string rhs = value; rhs_to_name.count(rhs); rhs = "VAR " + chain.back())
      chain.push_back(rhs_to_name[rhs]);
    EXPECT_EQ(p.answers, chain) << "seed " << seed;
    EXPECT_EQ(chain.size(), 5u);
    EXPECT_NE(p.text.find(", 5 variables are assigned the value " + value + ", they are: "),
              std::string::npos);
    ExpectLargestFit(spec, p, Tok512());
  }
}

TEST(TaskPrompt, CommonWordsAnswersAreTheMostRepeatedListWords) {
  KVLAB_REQUIRE_ASSETS();
  const TaskSpec spec = Builtin("cwe");
  const TaskPrompt p = BuildTaskPrompt(spec, 1200, 0.7, 2, Tok512());
  const std::string list = Between(p.text, "most often.\n", "\nQuestion: What are the 10 most common");
  std::map<std::string, int> counts;
  const std::vector<std::string> items = Split(list, ' ');
  ASSERT_EQ(items.size() % 2, 0u);
  for (size_t i = 0; i < items.size(); i += 2) {
    EXPECT_EQ(items[i], std::to_string(i / 2 + 1) + ".");
    ++counts[items[i + 1]];
  }
  ASSERT_EQ(p.answers.size(), 10u);
  for (const std::string& a : p.answers) EXPECT_EQ(counts[a], 6) << a;  // below 4096 tokens: RULER's 6 and 1
  int uncommon = 0;
  for (const auto& [word, count] : counts) {
    if (std::find(p.answers.begin(), p.answers.end(), word) == p.answers.end()) {
      EXPECT_EQ(count, 1) << word;
      ++uncommon;
    }
  }
  EXPECT_EQ(uncommon, p.haystack_units);
  EXPECT_TRUE(p.needles.empty());
  EXPECT_EQ(p.depth, 0);  // no depth axis
  ExpectLargestFit(spec, p, Tok512());
}

TEST(TaskPrompt, FrequentWordsAnswersAreTheThreeMostFrequentAfterTheDots) {
  KVLAB_REQUIRE_ASSETS();
  const TaskSpec spec = Builtin("fwe");
  const TaskPrompt p = BuildTaskPrompt(spec, 2048, 0, 4, Tok512());
  const std::string text = Between(p.text, "coded words. ", "\nQuestion: Do not provide");
  std::map<std::string, int> counts;
  for (const std::string& w : Split(text, ' ')) ++counts[w];
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [w, c] : counts) ranked.emplace_back(c, w);
  std::sort(ranked.rbegin(), ranked.rend());
  ASSERT_GE(ranked.size(), 5u);
  EXPECT_EQ(ranked[0].second, "...");
  EXPECT_EQ(p.answers, (std::vector<std::string>{ranked[1].second, ranked[2].second, ranked[3].second}));
  EXPECT_GT(ranked[3].first, ranked[4].first);
  for (size_t i = 1; i < ranked.size(); ++i)
    EXPECT_TRUE(std::regex_match(ranked[i].second, std::regex("[a-z]{6}")));
  ExpectLargestFit(spec, p, Tok512());
}

TEST(TaskPrompt, SameSeedSamePromptOtherSeedOtherPrompt) {
  KVLAB_REQUIRE_ASSETS();
  for (const char* name : {"niah_multikey_1", "vt", "cwe"}) {
    const TaskSpec spec = Builtin(name);
    const TaskPrompt a = BuildTaskPrompt(spec, 1000, 0.5, 77, Tok512());
    const TaskPrompt b = BuildTaskPrompt(spec, 1000, 0.5, 77, Tok512());
    const TaskPrompt c = BuildTaskPrompt(spec, 1000, 0.5, 78, Tok512());
    EXPECT_EQ(a.text, b.text) << name;
    EXPECT_EQ(a.ids, b.ids) << name;
    EXPECT_EQ(a.answers, b.answers) << name;
    EXPECT_NE(a.text, c.text) << name;
    EXPECT_NE(a.answers, c.answers) << name;
  }
}

TEST(TaskPrompt, SampleSeedsDifferInEveryField) {
  const uint64_t s = TaskSampleSeed(1, "niah_single_1", 4096, 0.5, 0);
  EXPECT_EQ(s, TaskSampleSeed(1, "niah_single_1", 4096, 0.5, 0));
  std::set<uint64_t> seeds = {s,
                              TaskSampleSeed(2, "niah_single_1", 4096, 0.5, 0),
                              TaskSampleSeed(1, "niah_single_2", 4096, 0.5, 0),
                              TaskSampleSeed(1, "niah_single_1", 4097, 0.5, 0),
                              TaskSampleSeed(1, "niah_single_1", 4096, 0.25, 0),
                              TaskSampleSeed(1, "niah_single_1", 4096, 0.5, 1)};
  EXPECT_EQ(seeds.size(), 6u);
}

TEST(TaskPrompt, QueryAwarePutsTheQuestionBeforeTheContext) {
  KVLAB_REQUIRE_ASSETS();
  TaskSpec spec = Builtin("passkey");
  const TaskPrompt plain = BuildTaskPrompt(spec, 400, 0.5, 1, Tok512());
  const TaskPrompt aware = BuildTaskPrompt(spec, 400, 0.5, 1, Tok512(), PromptFormat{true, nullptr});
  const std::string instruction = "I will quiz you about the important information there.\n";
  EXPECT_EQ(plain.text.find("What is the pass key?"), plain.text.rfind("What is the pass key?"));
  const size_t before = aware.text.find(instruction + "What is the pass key?\nThe grass is green.");
  EXPECT_NE(before, std::string::npos) << aware.text.substr(0, 300);
  EXPECT_LT(before, aware.text.find("The pass key is "));
  EXPECT_EQ(aware.answers, plain.answers);
  EXPECT_LE(aware.haystack_units, plain.haystack_units);
  ExpectLargestFit(spec, aware, Tok512(), PromptFormat{true, nullptr});

  spec.question_before = "Look for the pass key.\n";
  const TaskPrompt custom = BuildTaskPrompt(spec, 400, 0.5, 1, Tok512(), PromptFormat{true, nullptr});
  EXPECT_NE(custom.text.find(instruction + "Look for the pass key.\nThe grass"), std::string::npos);
}

TEST(TaskPrompt, ChatFormatRendersTheUserMessageAndAppendsTheAnswerPrefix) {
  KVLAB_REQUIRE_ASSETS();
  const ChatTemplate chat(
      "{% for m in messages %}<|user|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
      "{% if add_generation_prompt %}<|assistant|>\n{% endif %}",
      std::nullopt, std::nullopt, "test template");
  const TaskSpec spec = Builtin("passkey");
  const TaskPrompt p = BuildTaskPrompt(spec, 400, 0.3, 2, Tok512(), PromptFormat{false, &chat});
  EXPECT_EQ(p.text.rfind("<|user|>\nThere is an important info", 0), 0u);
  const std::string tail = "What is the pass key?<|end|>\n<|assistant|>\n The pass key is";
  EXPECT_EQ(p.text.substr(p.text.size() - tail.size()), tail);
  EXPECT_EQ(p.ids, Tok512().Encode(p.text, EncodeOptions{false, true}));
  ASSERT_EQ(p.needles.size(), 1u);
  EXPECT_NE(Decode(Tok512(), p.ids, p.needles[0].begin, p.needles[0].end).find(p.answers[0]),
            std::string::npos);
  EXPECT_EQ(Decode(Tok512(), p.ids, p.question_start, p.question_start + 6).rfind("\nWhat", 0), 0u);
  ExpectLargestFit(spec, p, Tok512(), PromptFormat{false, &chat});

  const ChatTemplate upper("{% for m in messages %}{{ m['content'] | upper }}{% endfor %}", std::nullopt,
                           std::nullopt, "upper template");
  try {
    BuildTaskPrompt(spec, 400, 0.3, 2, Tok512(), PromptFormat{false, &upper});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("task passkey: chat template (upper template) does not keep"),
              std::string::npos)
        << e.what();
  }
}

TEST(TaskPrompt, ErrorsNameTheTask) {
  KVLAB_REQUIRE_ASSETS();
  const auto message = [](const TaskSpec& spec, int64_t length, double depth) -> std::string {
    try {
      BuildTaskPrompt(spec, length, depth, 1, Tok512());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  const std::string small = message(Builtin("niah_single_2"), 150, 0.5);
  EXPECT_NE(small.find("task niah_single_2: length 150 cannot hold the prompt without a haystack ("),
            std::string::npos)
      << small;
  EXPECT_NE(small.find(" + 128 to generate)"), std::string::npos) << small;
  EXPECT_NE(message(Builtin("passkey"), 400, 1.5).find("task passkey: depth 1.5"), std::string::npos);
  TaskSpec missing = Builtin("niah_single_2");
  missing.haystack_file = "no-such-file.txt";
  EXPECT_NE(message(missing, 400, 0.5).find("task niah_single_2: haystack file 'no-such-file.txt'"),
            std::string::npos);
  TaskSpec invalid = Builtin("niah_single_2");
  invalid.queries = 2;
  EXPECT_NE(message(invalid, 400, 0.5).find("task niah_single_2 queries:"), std::string::npos);
}

// recall-char: the shipped task file with the model's tokenizer gives prompts in its training format.
TEST(TaskPrompt, RecallCharPromptsMatchTheModelsFormat) {
  KVLAB_REQUIRE_ASSETS();
  const std::vector<TaskSpec> tasks =
      LoadTaskFile(std::filesystem::path(KVLAB_SOURCE_DIR) / "configs/tasks/recall-char.toml");
  const Tokenizer& tok = CharTokenizer();
  const std::regex needle(R"( ([A-Z])(\d{4})\.)");
  bool kept_newline = false;
  for (const TaskSpec& spec : tasks) {
    SCOPED_TRACE(spec.name);
    for (uint64_t seed = 0; seed < 8; ++seed) {
      const double depth = static_cast<double>(seed % 5) / 4;
      const TaskPrompt p = BuildTaskPrompt(spec, 128, depth, seed, tok);
      ASSERT_LE(p.ids.size(), 124u);
      ExpectLargestFit(spec, p, tok);
      EXPECT_EQ(p.ids[0], tok.bos_id());
      // BOS, llama2.c's dummy-prefix space, then one token per character.
      ASSERT_EQ(p.ids.size(), p.text.size() + 2);
      for (size_t i = 2; i < p.ids.size(); ++i)
        EXPECT_EQ(tok.DecodeToken(p.ids[i - 1], p.ids[i]), p.text.substr(i - 2, 1));
      // The prompt ends with " K": a space and the key of the asked-for needle.
      ASSERT_GE(p.text.size(), 2u);
      const std::string key = p.text.substr(p.text.size() - 1);
      EXPECT_TRUE(std::regex_match(p.text.substr(p.text.size() - 2), std::regex(" [A-Z]"))) << p.text;
      EXPECT_EQ(Decode(tok, p.ids, p.question_start, static_cast<int32_t>(p.ids.size())), " " + key);
      int needles = 0;
      std::set<std::string> keys;
      std::string asked_value;
      std::string rest = p.text;
      for (auto it = std::sregex_iterator(p.text.begin(), p.text.end(), needle); it != std::sregex_iterator();
           ++it) {
        ++needles;
        keys.insert((*it)[1]);
        if ((*it)[1] == key) asked_value = (*it)[2];
      }
      EXPECT_EQ(needles, spec.keys) << p.text;
      EXPECT_EQ(keys.size(), static_cast<size_t>(spec.keys));
      EXPECT_EQ(p.answers, std::vector<std::string>{asked_value});
      ASSERT_EQ(p.needles.size(), 1u);
      EXPECT_EQ(Decode(tok, p.ids, p.needles[0].begin, p.needles[0].end), " " + key + asked_value + ".");
      EXPECT_EQ(p.distractors.size(), static_cast<size_t>(spec.keys - 1));
      // Lower-cased story text around the needles (upper case only in keys), about the reference's 119
      // characters, and the haystack unit before the question keeps its whitespace (" ... word  K") unless
      // the needle is there (depth 1).
      const std::string story = std::regex_replace(p.text.substr(0, p.text.size() - 2), needle, "");
      EXPECT_TRUE(std::none_of(story.begin(), story.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
          << story;
      EXPECT_GE(p.text.size(), 100u);
      if (depth < 1) {
        EXPECT_TRUE(std::isspace(static_cast<unsigned char>(p.text[p.text.size() - 3]))) << p.text;
      }
      kept_newline |= p.text.find('\n') != std::string::npos;
    }
  }
  EXPECT_TRUE(kept_newline) << "no prompt kept a newline of the stories";
}

}  // namespace
}  // namespace kvlab
