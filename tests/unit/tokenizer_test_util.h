// Helpers shared by the tokenizer unit tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "kvlab/tokenizer/tokenizer.h"
#include "kvlab/util/error.h"

namespace kvlab::tokenizer_test {

inline void WriteFile(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Expects `fn` to throw kvlab::Error whose one-line message contains every string in `parts`.
template <typename Fn>
void ExpectError(Fn&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no kvlab::Error thrown";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "\"" << p << "\" not in: " << msg;
  }
}

// The vocabulary strings of `ids`, for readable expectations.
inline std::vector<std::string> Pieces(const Tokenizer& t, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.emplace_back(t.Piece(id));
  return out;
}

}  // namespace kvlab::tokenizer_test
