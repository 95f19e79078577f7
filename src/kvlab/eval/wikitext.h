// WikiText files (Merity et al., "Pointer Sentinel Mixture Models", 2016): one Wikipedia article after
// another, each starting at a top-level heading line " = Title = " (its sections are " = = Section = = ",
// " = = = Subsection = = = "). An evaluation can take one article by its index, as in "wikitext-2:3".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kvlab {

struct WikiArticle {
  std::string title;
  // Bytes of the file the article spans: from the start of its heading line to the start of the next
  // article's heading line (or the end of the file).
  size_t begin = 0;
  size_t end = 0;
};

// The articles of a WikiText file, in file order (none if it has no top-level heading). Text before the
// first heading belongs to no article.
std::vector<WikiArticle> WikiTextArticles(std::string_view text);

}  // namespace kvlab
