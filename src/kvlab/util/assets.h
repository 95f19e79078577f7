// Where the shared models, tokenizers and texts live, and how short model names resolve to paths.
#pragma once

#include <filesystem>
#include <string>

namespace kvlab {

// KVLAB_ASSETS if set; else ../shared from the working directory; else ../shared or ../../shared next to
// the running executable (so build/kvlab finds the assets beside the repository). Empty if none exists.
std::filesystem::path AssetsDir();

// A model argument is either a path (file or directory) or a short name of a directory under
// <assets>/models, e.g. "stories260K" or "tinystories-656k". Inside such a directory the model file is:
// config.json (Hugging Face directory) > a llama2.c .bin checkpoint > a .gguf file.
// Throws kvlab::Error listing the names available when nothing matches.
std::filesystem::path ResolveModelPath(const std::string& name_or_path);

// A text argument: an existing path, else a file under $KVLAB_ASSETS/text. Throws kvlab::Error naming it.
std::filesystem::path ResolveTextPath(const std::string& name_or_path);

}  // namespace kvlab
