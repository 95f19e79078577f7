// Which text an evaluation reads: a file, given as a path or as a name under $KVLAB_ASSETS/text, or one
// article of a WikiText file ("wikitext-2:3", or "PATH:3"). Every command that takes a text (ppl,
// fidelity, analyze, sweep's data.texts, the Python package) resolves it here, so "wikitext-2:3" means the
// same bytes everywhere; `kvlab texts` lists what there is.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kvlab {

struct TextSource {
  std::filesystem::path path;     // the file read
  std::optional<size_t> article;  // WikiText article index in it (eval/wikitext.h), or the whole file

  // "PATH" or "PATH:N": names the text in messages and keys the caches of its tokens.
  std::string Name() const {
    std::string name = path.string();
    if (article) {
      name += ':';
      name += std::to_string(*article);
    }
    return name;
  }
};

// Resolves, in order: a file (a path, or a name under $KVLAB_ASSETS/text); a directory (a path, or a name
// under $KVLAB_ASSETS/text) holding a WikiText split, which means its test split (wiki.test.raw, else
// test.tokens.txt); either of those followed by ":N", article N (from 0) of it. Throws kvlab::Error naming
// `flag` (the argument that gave it) with the texts there are when nothing matches. The article index
// is checked against the file when the text is read.
TextSource ResolveTextSource(const std::string& argument, const std::string& flag);

// The text: the whole file, or the article's bytes (its heading line included). Throws kvlab::Error
// naming `flag` when the file cannot be read, the article index is past the last article (saying how
// many there are), or the text is empty.
std::string ReadTextSource(const TextSource& source, const std::string& flag);

// The file a text directory stands for (its WikiText test split), or an empty path if it holds none.
std::filesystem::path TextDirectorySplit(const std::filesystem::path& dir);

// What $KVLAB_ASSETS/text holds: its files and text directories (sorted by name), for listings and
// error messages.
std::vector<std::string> KnownTexts();

}  // namespace kvlab
