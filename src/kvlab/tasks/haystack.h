// Haystacks: the text a prompt's needles hide in, and how needles are placed into it.
//
// An essay is a text file split into units, each a run of non-whitespace plus the whitespace after it, so
// the units concatenated give the file back. A prompt's essay is n units read from a start unit on, wrapping
// to the first unit of the allowed region when the file runs out. Line haystacks (noise, distractor needles)
// have one line per unit and are joined with "\n".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kvlab/tasks/task_random.h"
#include "kvlab/tasks/task_spec.h"

namespace kvlab {

struct EssayFile {
  std::string path;
  std::string text;                 // lower-cased when asked (ASCII letters only)
  std::vector<size_t> starts;       // unit i is text[starts[i], starts[i + 1]); starts.back() == text.size()
  std::vector<bool> ends_sentence;  // unit i's non-whitespace part ends with . ! or ?

  size_t units() const { return starts.size() - 1; }
  std::string_view Unit(size_t i) const {
    return std::string_view(text).substr(starts[i], starts[i + 1] - starts[i]);
  }
  // The first unit that starts at or after byte `offset` (units() if none).
  size_t UnitAtOrAfter(size_t offset) const;
};

// The essay file of a spec (haystack_file: a path, else a name under $KVLAB_ASSETS/text), loaded once per
// process and lower-casing. Throws kvlab::Error "task NAME: ..." when it is missing or has no words.
std::shared_ptr<const EssayFile> LoadEssay(const TaskSpec& spec);

// The file's distinct words that are all lower-case ASCII letters and at least 3 long, sorted: the vocabulary
// of word keys (ItemKind::kWords) and of the common-words list.
std::shared_ptr<const std::vector<std::string>> LoadEssayWords(const TaskSpec& spec);

// A needle (or variable assignment) to place: at the insertion point nearest to `depth` of the way through
// the haystack. Pieces at one point keep their order in the list.
struct HaystackPiece {
  double depth = 0;
  std::string text;
  bool asked = false;  // a needle of the answer (else a distractor)
};

struct CharRange {
  size_t begin = 0, end = 0;
};

// A rendered context and where its pieces are.
struct Context {
  std::string text;
  std::vector<CharRange> needles, distractors;  // each in text order
};

// The insertion point nearest to depth × n among those `allowed` (0 and n always are), ties to the lower.
int64_t NearestInsertionPoint(double depth, int64_t n, const std::function<bool(int64_t)>& allowed);

// n units of `essay` from unit `start` on, wrapping to unit `wrap` at the end of the file, with the pieces
// inserted before units (a piece + spec.needle_separator), per spec.insert_at / normalize_whitespace.
Context RenderEssay(const EssayFile& essay, size_t start, size_t wrap, int64_t n,
                    const std::vector<HaystackPiece>& pieces, const TaskSpec& spec);

// n lines (line(i) for i < n) with the pieces as lines of their own, joined with "\n".
Context RenderLines(const std::function<std::string(int64_t)>& line, int64_t n,
                    const std::vector<HaystackPiece>& pieces);

// Where a sample's essay starts: a byte drawn uniformly in [haystack_begin, haystack_end) of the file, moved
// to the next unit; `wrap` is the first unit at or after haystack_begin, where the essay goes on when the
// file runs out (so the part of the file before haystack_begin is never used).
struct EssayStart {
  size_t start = 0, wrap = 0;
};
EssayStart DrawEssayStart(const EssayFile& essay, const TaskSpec& spec, TaskRng& rng);

}  // namespace kvlab
