#include "kvlab/util/atomic_file.h"

#include <cerrno>
#include <cstring>

#include "kvlab/util/error.h"

namespace kvlab {

void WriteBytes(std::FILE* f, const std::string& where, const void* p, size_t n) {
  if (n != 0 && std::fwrite(p, 1, n, f) != n) {
    throw Error(where, std::string("write failed: ") + std::strerror(errno));
  }
}

void WriteFileAtomically(const std::filesystem::path& path,
                         const std::function<void(std::FILE* f, const std::string& where)>& write) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  const std::string where = tmp.string();
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw Error(where, std::string("cannot create: ") + std::strerror(errno));
  try {
    write(f, where);
    const int closed = std::fclose(f);
    f = nullptr;
    if (closed != 0) throw Error(where, "write failed on close (disk full?)");
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw Error(path.string(), "cannot rename " + tmp.filename().string() + " into place: " + ec.message());
  } catch (...) {
    if (f != nullptr) std::fclose(f);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

}  // namespace kvlab
