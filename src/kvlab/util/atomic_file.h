// Writing a file so that readers see either the old file or the whole new one, never a half-written one:
// the contents go to PATH.tmp, which is renamed over PATH only once everything is written and closed.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

namespace kvlab {

// Opens PATH.tmp, calls write(f, where) (`where` names the temporary file for error messages), closes it
// and renames it to `path`. On any failure, the write's own kvlab::Error included, PATH.tmp is removed, PATH
// is left as it was, and the error propagates.
void WriteFileAtomically(const std::filesystem::path& path,
                         const std::function<void(std::FILE* f, const std::string& where)>& write);

// Writes n bytes or throws kvlab::Error naming `where` (disk full, I/O error).
void WriteBytes(std::FILE* f, const std::string& where, const void* p, size_t n);

}  // namespace kvlab
