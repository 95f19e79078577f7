// llama2.c's tokenizer.bin reader (the format written by llama2.c's tokenizer.py export).
#include <cctype>
#include <cstring>

#include "kvlab/tokenizer/sentencepiece_bpe.h"
#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {
namespace {

bool LooksLikeBytePiece(const std::string& p) {
  return p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' &&
         std::isxdigit(static_cast<unsigned char>(p[3])) && std::isxdigit(static_cast<unsigned char>(p[4]));
}

}  // namespace

std::unique_ptr<Tokenizer> LoadLlama2cTokenizer(const std::filesystem::path& path) {
  const auto file = MappedFile::Open(path);
  const std::string name = path.string();
  const uint8_t* data = file->data();
  const size_t size = file->size();
  if (size < 4)
    throw Error(name, "too short for a llama2.c tokenizer.bin (" + std::to_string(size) + " bytes)");
  int32_t max_len;
  std::memcpy(&max_len, data, 4);
  if (max_len <= 0 || max_len > (1 << 20)) {
    throw Error(name, "implausible max_token_length " + std::to_string(max_len),
                "expected a llama2.c tokenizer.bin (int32 max length, then score/length/bytes per token)");
  }

  SpmVocab vocab;
  vocab.source = name;
  vocab.space = " ";
  for (size_t pos = 4; pos < size;) {
    const size_t index = vocab.pieces.size();
    if (size - pos < 8) {
      throw Error(name, "truncated at byte " + std::to_string(pos) + ": token " + std::to_string(index) +
                            " needs a score and a length");
    }
    float score;
    int32_t len;
    std::memcpy(&score, data + pos, 4);
    std::memcpy(&len, data + pos + 4, 4);
    pos += 8;
    if (len < 0 || static_cast<size_t>(len) > size - pos) {
      throw Error(name, "token " + std::to_string(index) + " at byte " + std::to_string(pos - 4) +
                            " has length " + std::to_string(len) + " but only " + std::to_string(size - pos) +
                            " bytes remain (truncated or not a tokenizer.bin)");
    }
    vocab.pieces.emplace_back(reinterpret_cast<const char*>(data + pos), static_cast<size_t>(len));
    vocab.scores.push_back(score);
    pos += static_cast<size_t>(len);
  }
  if (vocab.pieces.size() < 3) {
    throw Error(name, "holds " + std::to_string(vocab.pieces.size()) +
                          " tokens; a llama2.c vocabulary has at "
                          "least <unk>, <s> and </s>");
  }
  // The file has no token types: llama2.c hardcodes 0/1/2 and spells raw bytes as <0xXX>.
  vocab.types.resize(vocab.pieces.size(), SpmTokenType::kNormal);
  vocab.types[0] = SpmTokenType::kUnknown;
  vocab.types[1] = vocab.types[2] = SpmTokenType::kControl;
  for (size_t id = 3; id < vocab.pieces.size(); ++id) {
    if (LooksLikeBytePiece(vocab.pieces[id])) vocab.types[id] = SpmTokenType::kByte;
  }
  vocab.unk_id = 0;
  vocab.bos_id = 1;
  vocab.eos_id = 2;
  return std::make_unique<SentencePieceBpe>(std::move(vocab));
}

}  // namespace kvlab
