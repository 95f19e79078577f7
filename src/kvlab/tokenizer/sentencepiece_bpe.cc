#include "kvlab/tokenizer/sentencepiece_bpe.h"

#include <queue>

#include "kvlab/tokenizer/utf8.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

// "<0x0A>" -> 0x0A; -1 if the piece is not a byte token.
int ParseBytePiece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(piece[3]), lo = hex(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0;;) {
    const size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) {
      out.append(text.substr(pos));
      return out;
    }
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
}

}  // namespace

SentencePieceBpe::SentencePieceBpe(SpmVocab vocab) : vocab_(std::move(vocab)) {
  const size_t n = vocab_.pieces.size();
  if (n == 0) throw Error(vocab_.source, "the vocabulary is empty");
  if (vocab_.scores.size() != n || vocab_.types.size() != n) {
    throw Error(vocab_.source, "vocabulary arrays disagree: " + std::to_string(n) + " pieces, " +
                                   std::to_string(vocab_.scores.size()) + " scores, " +
                                   std::to_string(vocab_.types.size()) + " token types");
  }
  if (vocab_.space.empty()) throw Error(vocab_.source, "empty space marker");
  for (int32_t* id : {&vocab_.bos_id, &vocab_.eos_id, &vocab_.unk_id}) {
    if (*id >= static_cast<int32_t>(n)) {
      throw Error(vocab_.source, "special token id " + std::to_string(*id) + " is outside the " +
                                     std::to_string(n) + "-token vocabulary");
    }
  }
  std::vector<AddedToken> added;
  for (size_t id = 0; id < n; ++id) {
    const SpmTokenType type = vocab_.types[id];
    if (vocab_.pieces[id].empty()) continue;
    if (type == SpmTokenType::kControl || type == SpmTokenType::kUnknown || type == SpmTokenType::kUserDefined) {
      added.push_back({vocab_.pieces[id], static_cast<int32_t>(id), type != SpmTokenType::kUserDefined});
    }
  }
  added_ = AddedTokenSplitter(std::move(added));
  // Like llama.cpp, a duplicated piece resolves to its last id.
  for (size_t id = 0; id < n; ++id) piece_to_id_[vocab_.pieces[id]] = static_cast<int32_t>(id);

  byte_ids_.fill(vocab_.unk_id >= 0 ? vocab_.unk_id : 0);
  decoded_.resize(n);
  for (size_t id = 0; id < n; ++id) {
    const std::string& piece = vocab_.pieces[id];
    switch (vocab_.types[id]) {
      case SpmTokenType::kByte: {
        const int byte = ParseBytePiece(piece);
        if (byte < 0)
          throw Error(vocab_.source, "byte token " + std::to_string(id) + " is not <0xXX>: " + piece);
        byte_ids_[byte] = static_cast<int32_t>(id);
        decoded_[id] = std::string(1, static_cast<char>(byte));
        break;
      }
      case SpmTokenType::kNormal:
        decoded_[id] = ReplaceAll(piece, vocab_.space, " ");
        break;
      case SpmTokenType::kUserDefined:
        decoded_[id] = piece;
        break;
      default:  // unknown, control and unused tokens print nothing
        break;
    }
  }
  // A vocabulary without byte tokens may still spell a byte as a one-character piece (llama.cpp's fallback).
  for (int b = 0; b < 128; ++b) {
    if (vocab_.unk_id >= 0 && byte_ids_[b] != vocab_.unk_id) continue;
    if (int32_t id = Lookup(std::string(1, static_cast<char>(b))); id >= 0) byte_ids_[b] = id;
  }
}

int32_t SentencePieceBpe::Lookup(std::string_view piece) const {
  auto it = piece_to_id_.find(piece);
  return it == piece_to_id_.end() ? -1 : it->second;
}

std::string_view SentencePieceBpe::Piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return vocab_.pieces[id];
}

bool SentencePieceBpe::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() &&
         (vocab_.types[id] == SpmTokenType::kControl || vocab_.types[id] == SpmTokenType::kUnknown);
}

std::vector<int32_t> SentencePieceBpe::EncodeText(std::string_view text, const EncodeOptions& options) const {
  std::vector<int32_t> out;
  if (options.add_special && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  // As llama.cpp: each text fragment that starts the input or follows an added token gets the space prefix.
  bool after_token = true;
  for (const auto& segment : added_.Split(text, /*normalized=*/false, options.parse_special)) {
    if (segment.token >= 0) {
      out.push_back(segment.token);
      after_token = true;
      continue;
    }
    std::string escaped = vocab_.add_space_prefix && after_token ? " " : "";
    escaped.append(segment.text);
    if (vocab_.space != " ") escaped = ReplaceAll(escaped, " ", vocab_.space);
    EncodeEscaped(escaped, &out);
    after_token = false;
  }
  if (options.add_special && vocab_.add_eos && vocab_.eos_id >= 0) out.push_back(vocab_.eos_id);
  return out;
}

void SentencePieceBpe::AppendBytes(std::string_view text, std::vector<int32_t>* out) const {
  for (char c : text) out->push_back(byte_ids_[static_cast<uint8_t>(c)]);
}

void SentencePieceBpe::EncodeEscaped(std::string_view text, std::vector<int32_t>* out) const {
  // One symbol per UTF-8 character, linked so merges can unlink the right-hand symbol.
  struct Symbol {
    size_t offset;
    size_t size;  // 0 once merged into its left neighbour
    int32_t prev;
    int32_t next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = Utf8SeqLen(text, pos);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({pos, len, index - 1, -1});
    if (index > 0) symbols[index - 1].next = index;
    pos += len;
  }

  struct Bigram {
    float score;
    int32_t left;
    size_t size;  // bytes of the merged text, to recognise entries made stale by other merges
    // Highest score first; on a tie, the leftmost pair (llama.cpp's llm_bigram_spm::comparator).
    bool operator<(const Bigram& o) const { return score != o.score ? score < o.score : left > o.left; }
  };
  std::priority_queue<Bigram> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const size_t size = symbols[left].size + symbols[right].size;
    const int32_t id = Lookup(text.substr(symbols[left].offset, size));
    if (id >= 0) queue.push({vocab_.scores[id], left, size});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int32_t>(i) - 1, static_cast<int32_t>(i));

  while (!queue.empty()) {
    const Bigram top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.left];
    if (left.size == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    if (right.size == 0 || left.size + right.size != top.size) continue;
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.left;
    try_add(left.prev, top.left);
    try_add(top.left, left.next);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].offset, symbols[i].size);
    // Merged symbols are pieces by construction; only single characters can be missing.
    if (const int32_t id = Lookup(piece); id >= 0) {
      out->push_back(id);
    } else {
      AppendBytes(piece, out);
    }
  }
}

std::string SentencePieceBpe::DecodeToken(int32_t prev, int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  const std::string& text = decoded_[id];
  // SentencePiece's decoder drops the space that encoding prefixed (llama2.c: "following BOS").
  const bool first = prev < 0 || prev == vocab_.bos_id;
  if (first && vocab_.add_space_prefix && vocab_.types[id] == SpmTokenType::kNormal && !text.empty() &&
      text[0] == ' ') {
    return text.substr(1);
  }
  return text;
}

}  // namespace kvlab
