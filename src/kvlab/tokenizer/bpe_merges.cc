#include "kvlab/tokenizer/bpe_merges.h"

#include <queue>

namespace kvlab {

bool SplitMergeLine(std::string_view line, std::pair<std::string, std::string>* out) {
  if (line.size() < 3) return false;
  const size_t space = line.find(' ', 1);
  if (space == std::string_view::npos || space + 1 >= line.size()) return false;
  out->first = std::string(line.substr(0, space));
  out->second = std::string(line.substr(space + 1));
  return true;
}

void BpeMergeTable::Add(int32_t left, int32_t right, int32_t result, int32_t rank) {
  merges_.insert_or_assign(Key(left, right), Merge{rank, result});
}

const BpeMergeTable::Merge* BpeMergeTable::Find(int32_t left, int32_t right) const {
  auto it = merges_.find(Key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

namespace {

// A candidate merge of the symbol at `pos` with its current right neighbour.
struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t result;
  // std::priority_queue pops the largest, so "larger" means lower rank, then further left.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

void BpeMergeTable::Apply(std::vector<int32_t>* symbols) const {
  std::vector<int32_t>& ids = *symbols;
  const auto n = static_cast<int32_t>(ids.size());
  if (n < 2 || merges_.empty()) return;

  // Doubly linked list over positions; a merged-away symbol gets alive[pos] = false.
  std::vector<int32_t> prev(n), next(n);
  std::vector<uint8_t> alive(n, 1);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  std::vector<Candidate> heap_storage;
  heap_storage.reserve(n);
  std::priority_queue<Candidate> heap(std::less<Candidate>(), std::move(heap_storage));
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const Merge* m = Find(ids[i], ids[i + 1])) heap.push({m->rank, i, m->result});
  }

  while (!heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    const int32_t pos = top.pos;
    if (!alive[pos] || next[pos] < 0) continue;
    const int32_t right = next[pos];
    // Skip entries made stale by an earlier merge on either side.
    const Merge* current = Find(ids[pos], ids[right]);
    if (current == nullptr || current->result != top.result) continue;

    ids[pos] = top.result;
    alive[right] = 0;
    next[pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = pos;

    if (prev[pos] >= 0) {
      if (const Merge* m = Find(ids[prev[pos]], ids[pos])) heap.push({m->rank, prev[pos], m->result});
    }
    if (next[pos] >= 0) {
      if (const Merge* m = Find(ids[pos], ids[next[pos]])) heap.push({m->rank, pos, m->result});
    }
  }

  int32_t out = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (alive[i]) ids[out++] = ids[i];
  }
  ids.resize(out);
}

}  // namespace kvlab
