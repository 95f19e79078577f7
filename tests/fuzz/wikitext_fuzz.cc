// libFuzzer target: splitting a WikiText file into articles (eval/wikitext.cc) must, for any bytes, give
// articles that tile the text from the first heading to the end, in order, each starting at a heading
// line that carries its non-empty title; never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kvlab/eval/wikitext.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto articles = kvlab::WikiTextArticles(text);
  for (size_t i = 0; i < articles.size(); ++i) {
    const kvlab::WikiArticle& a = articles[i];
    const bool tiles = a.begin < a.end && a.end <= size &&
                       (i + 1 == articles.size() ? a.end == size : a.end == articles[i + 1].begin);
    const bool at_line_start = a.begin == 0 || text[a.begin - 1] == '\n';
    const bool titled = !a.title.empty() && text.substr(a.begin).find(a.title) == 3;
    if (!tiles || !at_line_start || !titled) std::abort();
  }
  return 0;
}
