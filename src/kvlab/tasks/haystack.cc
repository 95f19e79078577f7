#include "kvlab/tasks/haystack.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>

#include "kvlab/tasks/task_random.h"
#include "kvlab/util/assets.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// A path, or a name under $KVLAB_ASSETS/text (util/assets.h), named as the task's in errors.
std::filesystem::path ResolveEssayPath(const TaskSpec& spec) {
  try {
    return ResolveTextPath(spec.haystack_file);
  } catch (const Error& e) {
    throw Error("task " + spec.name, "haystack file '" + spec.haystack_file + "': " + e.what());
  }
}

std::string ReadFile(const std::filesystem::path& path, const TaskSpec& spec) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("task " + spec.name, "cannot read haystack file " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One cache for both kinds of essay data: the files are megabytes and every prompt of a run reads them.
std::mutex cache_mutex;

}  // namespace

size_t EssayFile::UnitAtOrAfter(size_t offset) const {
  return static_cast<size_t>(std::lower_bound(starts.begin(), starts.end() - 1, offset) - starts.begin());
}

std::shared_ptr<const EssayFile> LoadEssay(const TaskSpec& spec) {
  const std::filesystem::path path = ResolveEssayPath(spec);
  const std::string key = path.string() + (spec.lowercase ? "\n1" : "\n0");
  static std::map<std::string, std::shared_ptr<const EssayFile>> cache;
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto essay = std::make_shared<EssayFile>();
  essay->path = path.string();
  essay->text = ReadFile(path, spec);
  if (spec.lowercase) {
    for (char& c : essay->text) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  const std::string& t = essay->text;
  // A unit starts at every non-space after a space (and at the first non-space: leading whitespace of the
  // file belongs to no unit).
  for (size_t i = 0; i < t.size(); ++i) {
    if (!IsSpace(t[i]) && (i == 0 || IsSpace(t[i - 1]))) essay->starts.push_back(i);
  }
  if (essay->starts.empty())
    throw Error("task " + spec.name, "haystack file " + essay->path + " has no words");
  essay->starts.push_back(t.size());
  essay->ends_sentence.resize(essay->units());
  for (size_t u = 0; u < essay->units(); ++u) {
    size_t end = essay->starts[u + 1];
    while (end > essay->starts[u] && IsSpace(t[end - 1])) --end;
    const char last = t[end - 1];
    essay->ends_sentence[u] = last == '.' || last == '!' || last == '?';
  }
  std::lock_guard<std::mutex> lock(cache_mutex);
  return cache.emplace(key, std::move(essay)).first->second;
}

std::shared_ptr<const std::vector<std::string>> LoadEssayWords(const TaskSpec& spec) {
  const std::filesystem::path path = ResolveEssayPath(spec);
  static std::map<std::string, std::shared_ptr<const std::vector<std::string>>> cache;
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (auto it = cache.find(path.string()); it != cache.end()) return it->second;
  }
  const std::string text = ReadFile(path, spec);
  std::set<std::string> words;
  const auto is_letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  for (size_t i = 0; i < text.size();) {
    if (!is_letter(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    bool lower = true;
    while (j < text.size() && is_letter(text[j])) lower &= text[j++] >= 'a';
    if (lower && j - i >= 3) words.insert(text.substr(i, j - i));
    i = j;
  }
  auto list = std::make_shared<const std::vector<std::string>>(words.begin(), words.end());
  std::lock_guard<std::mutex> lock(cache_mutex);
  return cache.emplace(path.string(), std::move(list)).first->second;
}

int64_t NearestInsertionPoint(double depth, int64_t n, const std::function<bool(int64_t)>& allowed) {
  const double x = std::clamp(depth, 0.0, 1.0) * static_cast<double>(n);
  // Candidates outward from floor(x): below at lo, above at hi; the nearer allowed one wins.
  int64_t lo = std::min<int64_t>(static_cast<int64_t>(std::floor(x)), n), hi = lo + 1;
  while (lo > 0 && !allowed(lo)) --lo;
  while (hi < n && !allowed(hi)) ++hi;
  if (hi > n) return lo;
  return x - static_cast<double>(lo) <= static_cast<double>(hi) - x ? lo : hi;
}

namespace {

// The pieces in the order they appear: by insertion point, then by their order in the list.
std::vector<size_t> PlacementOrder(const std::vector<int64_t>& points) {
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return points[a] < points[b]; });
  return order;
}

void AddRange(Context& c, const HaystackPiece& p, size_t begin) {
  (p.asked ? c.needles : c.distractors).push_back(CharRange{begin, begin + p.text.size()});
}

}  // namespace

Context RenderEssay(const EssayFile& essay, size_t start, size_t wrap, int64_t n,
                    const std::vector<HaystackPiece>& pieces, const TaskSpec& spec) {
  const size_t units = essay.units();
  const auto unit_index = [&](int64_t i) -> size_t {
    const size_t first_pass = units - start;
    if (static_cast<size_t>(i) < first_pass) return start + static_cast<size_t>(i);
    return wrap + (static_cast<size_t>(i) - first_pass) % (units - wrap);
  };
  const auto allowed = [&](int64_t i) {
    return spec.insert_at == InsertAt::kWord || i == 0 || i == n || essay.ends_sentence[unit_index(i - 1)];
  };
  std::vector<int64_t> points;
  for (const HaystackPiece& p : pieces) points.push_back(NearestInsertionPoint(p.depth, n, allowed));
  const std::vector<size_t> order = PlacementOrder(points);

  Context c;
  size_t next = 0;
  for (int64_t i = 0; i <= n; ++i) {
    for (; next < order.size() && points[order[next]] == i; ++next) {
      const HaystackPiece& p = pieces[order[next]];
      AddRange(c, p, c.text.size());
      c.text += p.text;
      c.text += spec.needle_separator;
    }
    if (i == n) break;
    std::string_view unit = essay.Unit(unit_index(i));
    size_t word_end = unit.size();
    while (word_end > 0 && IsSpace(unit[word_end - 1])) --word_end;
    if (spec.normalize_whitespace) {
      c.text.append(unit.substr(0, word_end));
      c.text += ' ';  // RULER joins its words with one space
    } else {
      c.text.append(unit);
      if (word_end == unit.size()) c.text += '\n';  // the file's last unit, when the essay wraps after it
    }
  }
  if (spec.normalize_whitespace) {
    while (!c.text.empty() && IsSpace(c.text.back())) c.text.pop_back();
    for (auto* ranges : {&c.needles, &c.distractors}) {
      for (CharRange& r : *ranges) r.end = std::min(r.end, c.text.size());
    }
  }
  return c;
}

Context RenderLines(const std::function<std::string(int64_t)>& line, int64_t n,
                    const std::vector<HaystackPiece>& pieces) {
  std::vector<int64_t> points;
  for (const HaystackPiece& p : pieces) {
    points.push_back(NearestInsertionPoint(p.depth, n, [](int64_t) { return true; }));
  }
  const std::vector<size_t> order = PlacementOrder(points);
  Context c;
  size_t next = 0;
  bool first = true;
  const auto add_line = [&](const std::string& text) {
    if (!first) c.text += '\n';
    first = false;
    c.text += text;
  };
  for (int64_t i = 0; i <= n; ++i) {
    for (; next < order.size() && points[order[next]] == i; ++next) {
      const HaystackPiece& p = pieces[order[next]];
      add_line("");
      AddRange(c, p, c.text.size());
      c.text += p.text;
    }
    if (i < n) add_line(line(i));
  }
  return c;
}

EssayStart DrawEssayStart(const EssayFile& essay, const TaskSpec& spec, TaskRng& rng) {
  const double size = static_cast<double>(essay.text.size());
  const size_t lo = static_cast<size_t>(std::floor(spec.haystack_begin * size));
  const size_t hi = std::max(lo + 1, static_cast<size_t>(std::floor(spec.haystack_end * size)));
  EssayStart s;
  s.wrap = essay.UnitAtOrAfter(lo);
  if (s.wrap >= essay.units()) {
    throw Error("task " + spec.name, "haystack file " + essay.path + " has no words after haystack_begin " +
                                         std::to_string(spec.haystack_begin));
  }
  s.start = essay.UnitAtOrAfter(lo + rng.Below(hi - lo));
  if (s.start >= essay.units()) s.start = s.wrap;
  return s;
}

}  // namespace kvlab
