// The word-counting tasks, which have no needles and no depth:
//   cwe (RULER common_words_extraction.py): a numbered list "1. w 2. w ..." where num_common words appear
//       freq_common times and the others freq_uncommon times; n = how many uncommon words;
//   fwe (RULER freq_words_extraction.py): coded words with Zipf counts floor(n k^-alpha / zeta(alpha)),
//       the most frequent being "..." (noise); n = the Zipf total the counts are taken of.
#include <cmath>

#include "kvlab/tasks/task_content.h"
#include "kvlab/tasks/task_items.h"
#include "kvlab/tasks/task_spec_check.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {

// The list's words in an order drawn once per sample; only the number of words changes with n.
std::string ShuffledJoin(std::vector<const std::string*> words, uint64_t shuffle_seed, bool numbered) {
  TaskRng rng(shuffle_seed);
  rng.Shuffle(words);
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += ' ';
    if (numbered) out += std::to_string(i + 1) + ". ";
    out += *words[i];
  }
  return out;
}

class CommonWords final : public TaskContent {
 public:
  CommonWords(const TaskSpec& spec, int64_t length, uint64_t seed) {
    TaskRng rng(seed);
    words_ = *LoadEssayWords(spec);
    if (words_.size() < static_cast<size_t>(spec.num_common)) {
      throw Error("task " + spec.name, "haystack file '" + spec.haystack_file + "' has " +
                                           std::to_string(words_.size()) +
                                           " distinct lower-case words, fewer "
                                           "than num_common (" +
                                           std::to_string(spec.num_common) + ")");
    }
    rng.Shuffle(words_);  // the first num_common are the common words, the rest uncommon in the order used
    num_common_ = static_cast<size_t>(spec.num_common);
    // RULER: 30 and 3 repeats from 4096 tokens, 6 and 1 below.
    freq_common_ = spec.freq_common > 0 ? spec.freq_common : (length >= 4096 ? 30 : 6);
    freq_uncommon_ = spec.freq_uncommon > 0 ? spec.freq_uncommon : (length >= 4096 ? 3 : 1);
    shuffle_seed_ = rng.Next();
    answers.assign(words_.begin(), words_.begin() + spec.num_common);
    values = AnswerCountValues(spec, spec.num_common);
  }

  Context Render(int64_t n) override {
    std::vector<const std::string*> list;
    for (size_t w = 0; w < num_common_ + static_cast<size_t>(n); ++w) {
      for (int r = 0; r < (w < num_common_ ? freq_common_ : freq_uncommon_); ++r) list.push_back(&words_[w]);
    }
    return Context{ShuffledJoin(std::move(list), shuffle_seed_, /*numbered=*/true), {}, {}};
  }
  int64_t Cap(int64_t want) override {
    return std::min<int64_t>(want, static_cast<int64_t>(words_.size() - num_common_));
  }

 private:
  std::vector<std::string> words_;
  size_t num_common_ = 0;
  int freq_common_ = 0, freq_uncommon_ = 0;
  uint64_t shuffle_seed_ = 0;
};

// zeta(alpha) = sum k^-alpha, alpha > 1: 1000 terms plus the Euler-Maclaurin tail (error far below a count).
double Zeta(double alpha) {
  constexpr int kTerms = 1000;
  double sum = 0;
  for (int k = kTerms - 1; k >= 1; --k) sum += std::pow(static_cast<double>(k), -alpha);
  const double n = kTerms;
  return sum + std::pow(n, 1 - alpha) / (alpha - 1) + 0.5 * std::pow(n, -alpha) +
         alpha / 12 * std::pow(n, -alpha - 1);
}

class FrequentWords final : public TaskContent {
 public:
  FrequentWords(const TaskSpec& spec, int64_t length, uint64_t seed)
      : alpha_(spec.alpha), zeta_(Zeta(spec.alpha)) {
    TaskRng rng(seed);
    // RULER: vocabulary size (max_seq_length - tokens_to_generate) // 50, here at least 10.
    const int64_t size = std::max<int64_t>(10, (length - spec.max_new_tokens) / 50);
    DistinctItems items;
    static const std::vector<std::string> kNoWords;
    for (int64_t i = 0; i < size; ++i) {
      std::optional<std::string> w = items.Draw(ItemKind::kLetters, spec.coded_length, kNoWords, rng);
      if (!w) {
        throw Error("task " + spec.name,
                    "cannot draw " + std::to_string(size) + " distinct coded words of " +
                        std::to_string(spec.coded_length) + " letters",
                    "raise coded_length");
      }
      for (char& c : *w) c = static_cast<char>(c - 'A' + 'a');
      vocab_.push_back(*w);
    }
    vocab_[0] = "...";  // RULER: the most frequent word is noise
    shuffle_seed_ = rng.Next();
    answers.assign(vocab_.begin() + 1, vocab_.begin() + 4);
    values = AnswerCountValues(spec, 3);
  }

  Context Render(int64_t n) override {
    std::vector<const std::string*> words;
    for (size_t k = 1; k <= vocab_.size(); ++k) {
      const double count =
          std::floor(static_cast<double>(n) * std::pow(static_cast<double>(k), -alpha_) / zeta_);
      for (int64_t c = 0; c < static_cast<int64_t>(count); ++c) words.push_back(&vocab_[k - 1]);
    }
    return Context{ShuffledJoin(std::move(words), shuffle_seed_, /*numbered=*/false), {}, {}};
  }

 private:
  double alpha_, zeta_;
  std::vector<std::string> vocab_;
  uint64_t shuffle_seed_ = 0;
};

}  // namespace

std::unique_ptr<TaskContent> DrawCommonWordsContent(const TaskSpec& spec, int64_t length, uint64_t seed) {
  return std::make_unique<CommonWords>(spec, length, seed);
}

std::unique_ptr<TaskContent> DrawFrequentWordsContent(const TaskSpec& spec, int64_t length, uint64_t seed) {
  return std::make_unique<FrequentWords>(spec, length, seed);
}

}  // namespace kvlab
