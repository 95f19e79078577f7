// BuildTaskPrompt: assembling the prompt text around a drawn sample, the search for the largest haystack that
// fits the length (as RULER's generators search their haystack size), and the token spans of the pieces.
#include "kvlab/tasks/task_prompt.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "kvlab/sketch/hashing.h"
#include "kvlab/tasks/task_content.h"
#include "kvlab/tasks/task_prompt_detail.h"
#include "kvlab/tasks/task_template.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {

// The prompt text and where its pieces are (character offsets into `text`).
struct PromptText {
  std::string text;
  size_t question_start = 0;
  std::vector<CharRange> needles, distractors;
};

// Plain text gets what the vocabulary adds (BOS) and no special-token parsing (the haystack is data); a
// rendered chat already holds its special tokens as text, so they are parsed and nothing is added.
EncodeOptions PromptEncodeOptions(const PromptFormat& format) {
  return format.chat != nullptr ? EncodeOptions{false, true} : EncodeOptions{true, false};
}

std::string Trim(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) + 1 - b);
}

PromptText Assemble(const TaskSpec& spec, const PromptFormat& format, const TaskContent& content,
                    const Context& context) {
  const TemplateValues& v = content.values;
  std::string user = ExpandTemplate(spec.instruction, v);
  if (format.question_before) {
    user += spec.question_before.empty() ? Trim(ExpandTemplate(spec.question, v)) + "\n"
                                         : ExpandTemplate(spec.question_before, v);
  }
  const size_t context_at = user.size();
  user += context.text;
  const size_t question_at = user.size();
  user += ExpandTemplate(spec.question, v);
  const std::string answer_prefix = ExpandTemplate(spec.answer_prefix, v);

  PromptText p;
  size_t user_at = 0;  // where the user text starts in the prompt
  if (format.chat != nullptr) {
    std::string rendered;
    try {
      rendered = format.chat->Render(ChatTemplate::ToJson({ChatMessage{"user", user}}), true);
    } catch (const Error& e) {
      throw Error("task " + spec.name, e.what());
    }
    user_at = rendered.find(user);
    if (user_at == std::string::npos) {
      throw Error("task " + spec.name,
                  "chat template (" + format.chat->origin() + ") does not keep the user message as it is",
                  "token spans need the message verbatim in the rendered text");
    }
    p.text = rendered + answer_prefix;
  } else {
    p.text = user + answer_prefix;
  }
  p.question_start = user_at + question_at;
  const auto shifted = [&](const std::vector<CharRange>& ranges) {
    std::vector<CharRange> out;
    for (const CharRange& r : ranges)
      out.push_back({user_at + context_at + r.begin, user_at + context_at + r.end});
    return out;
  };
  p.needles = shifted(context.needles);
  p.distractors = shifted(context.distractors);
  return p;
}

// The prompt of a drawn sample with n haystack units, with its token spans.
TaskPrompt Finish(const TaskSpec& spec, int64_t length, double depth, uint64_t seed,
                  const Tokenizer& tokenizer, const PromptFormat& format, TaskContent& content, int64_t n) {
  const PromptText p = Assemble(spec, format, content, content.Render(n));
  const EncodeOptions options = PromptEncodeOptions(format);
  TaskPrompt out;
  out.task = spec.name;
  out.length = length;
  out.depth = spec.HasDepth() ? depth : 0;
  out.seed = seed;
  out.text = p.text;
  out.ids = tokenizer.Encode(p.text, options);
  out.answers = content.answers;
  out.haystack_units = n;
  out.max_new_tokens = spec.max_new_tokens;
  out.score = spec.score;

  const int32_t size = static_cast<int32_t>(out.ids.size());
  // The longest common prefix of the prompt's ids with the ids of the text cut at `c`, and whether those
  // ids are all of the cut text's (no token of the prompt straddles the cut).
  const auto cut = [&](size_t c) {
    const std::vector<int32_t> prefix = tokenizer.Encode(std::string_view(p.text).substr(0, c), options);
    size_t l = 0;
    while (l < prefix.size() && l < out.ids.size() && prefix[l] == out.ids[l]) ++l;
    return std::pair<int32_t, bool>(static_cast<int32_t>(l), l == prefix.size());
  };
  out.question_start = cut(p.question_start).first;
  const auto spans = [&](const std::vector<CharRange>& ranges) {
    std::vector<TokenSpan> result;
    for (const CharRange& r : ranges) {
      TokenSpan s;
      s.begin = cut(r.begin).first;
      const auto [end, whole] = cut(r.end);
      s.end = std::clamp(end + (whole ? 0 : 1), s.begin, size);
      result.push_back(s);
    }
    return result;
  };
  out.needles = spans(p.needles);
  out.distractors = spans(p.distractors);
  return out;
}

double CheckedDepth(const TaskSpec& spec, double depth) {
  if (!spec.HasDepth()) return 0;
  if (!(depth >= 0 && depth <= 1)) {
    throw Error("task " + spec.name, "depth " + std::to_string(depth) + " is outside [0, 1]");
  }
  return depth;
}

}  // namespace

TaskPrompt BuildTaskPrompt(const TaskSpec& spec, int64_t length, double depth, uint64_t seed,
                           const Tokenizer& tokenizer, const PromptFormat& format) {
  ValidateTaskSpec(spec, "task " + spec.name);
  depth = CheckedDepth(spec, depth);
  const std::unique_ptr<TaskContent> content = DrawTaskContent(spec, length, depth, seed);
  const EncodeOptions options = PromptEncodeOptions(format);

  std::map<int64_t, int64_t> tokens;  // n -> prompt tokens
  const auto count = [&](int64_t n) {
    auto it = tokens.find(n);
    if (it == tokens.end()) {
      const PromptText p = Assemble(spec, format, *content, content->Render(n));
      it = tokens.emplace(n, static_cast<int64_t>(tokenizer.Encode(p.text, options).size())).first;
    }
    return it->second;
  };
  const int64_t budget = length - spec.max_new_tokens;  // prompt tokens allowed
  if (count(0) > budget) {
    throw Error("task " + spec.name, "length " + std::to_string(length) +
                                         " cannot hold the prompt without a haystack (" +
                                         std::to_string(count(0)) + " prompt tokens + " +
                                         std::to_string(spec.max_new_tokens) + " to generate)");
  }

  // Invariant: n = lo fits, n = hi does not. Every unit adds at least a character, which a tokenizer cannot
  // fold into nothing, so more than 4 × length units never fits (the hard cap keeps a pathological
  // tokenizer from searching forever).
  const int64_t hard_cap = 4 * length + 64;
  int64_t lo = 0, hi = hard_cap + 1;
  const auto test = [&](int64_t n) {
    const bool fits = n <= hard_cap && content->Cap(n) == n && count(n) <= budget;
    (fits ? lo : hi) = n;
    return fits;
  };
  // Estimate the tokens per unit from a small haystack, test the estimate, then gallop away from it (the
  // step doubling) until the answer is bracketed, and bisect.
  const int64_t probe = std::min<int64_t>(64, hard_cap);
  if (test(probe) && hi - lo > 1) {
    const double per_unit =
        std::max(1e-3, static_cast<double>(count(probe) - count(0)) / static_cast<double>(probe));
    const double room = static_cast<double>(budget - count(probe)) / per_unit;
    int64_t n = std::clamp<int64_t>(probe + static_cast<int64_t>(room), lo + 1, hi - 1);
    int64_t step = std::max<int64_t>(1, n / 64);
    if (test(n)) {
      while (hi - lo > 1 && test(std::min(lo + step, hi - 1))) step *= 2;
    } else {
      while (hi - lo > 1 && !test(std::max(hi - step, lo + 1))) step *= 2;
    }
  }
  while (hi - lo > 1) test(lo + (hi - lo) / 2);
  return Finish(spec, length, depth, seed, tokenizer, format, *content, lo);
}

uint64_t TaskSampleSeed(uint64_t run_seed, const std::string& task, int64_t length, double depth,
                        int sample) {
  // FNV-1a over the fields' bytes (little-endian, the name with its length so fields cannot run into each
  // other), then the splitmix64 finalizer to spread FNV's weak low bits.
  uint64_t h = 0xcbf29ce484222325ULL;
  const auto add = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ULL;
    }
  };
  uint64_t depth_bits = 0;
  std::memcpy(&depth_bits, &depth, sizeof depth_bits);
  add(run_seed);
  add(task.size());
  for (unsigned char c : task) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  add(static_cast<uint64_t>(length));
  add(depth_bits);
  add(static_cast<uint64_t>(static_cast<int64_t>(sample)));
  return Mix64(h);
}

namespace detail {

TaskPrompt BuildTaskPromptWithUnits(const TaskSpec& spec, int64_t length, double depth, uint64_t seed,
                                    const Tokenizer& tokenizer, const PromptFormat& format, int64_t units) {
  ValidateTaskSpec(spec, "task " + spec.name);
  depth = CheckedDepth(spec, depth);
  const std::unique_ptr<TaskContent> content = DrawTaskContent(spec, length, depth, seed);
  return Finish(spec, length, depth, seed, tokenizer, format, *content,
                content->Cap(std::max<int64_t>(units, 0)));
}

}  // namespace detail

}  // namespace kvlab
