#include "kvlab/eval/wikitext.h"

namespace kvlab {

namespace {

// " = Title = " (optionally with a trailing '\r'): the title, or empty when the line is not a top-level
// heading. Sections repeat the '=' (" = = Section = = "), so a title never starts or ends with '='.
std::string_view TopLevelTitle(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  constexpr std::string_view kOpen = " = ", kClose = " = ";
  if (line.size() <= kOpen.size() + kClose.size() || line.substr(0, kOpen.size()) != kOpen ||
      line.substr(line.size() - kClose.size()) != kClose) {
    return {};
  }
  const std::string_view title = line.substr(kOpen.size(), line.size() - kOpen.size() - kClose.size());
  if (title.empty() || title.front() == '=' || title.back() == '=' || title.front() == ' ' ||
      title.back() == ' ') {
    return {};
  }
  return title;
}

}  // namespace

std::vector<WikiArticle> WikiTextArticles(std::string_view text) {
  std::vector<WikiArticle> articles;
  size_t line_begin = 0;
  while (line_begin < text.size()) {
    size_t line_end = text.find('\n', line_begin);
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view title = TopLevelTitle(text.substr(line_begin, line_end - line_begin));
    if (!title.empty()) {
      if (!articles.empty()) articles.back().end = line_begin;
      articles.push_back({std::string(title), line_begin, text.size()});
    }
    line_begin = line_end + 1;
  }
  return articles;
}

}  // namespace kvlab
