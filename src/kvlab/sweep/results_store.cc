#include "kvlab/sweep/results_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "kvlab/util/error.h"

namespace kvlab {

namespace fs = std::filesystem;

namespace {
void WriteAll(int fd, const std::string& data, const fs::path& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(path.string(), std::string("write failed: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

void CreateParentDirectory(const fs::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  if (ec) throw Error(path.parent_path().string(), "cannot create the directory: " + ec.message());
}
}  // namespace

LoadedResults LoadResults(const fs::path& path, bool repair) {
  LoadedResults r;
  std::error_code ec;
  if (!fs::exists(path, ec)) return r;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string(), "cannot read the results file");
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  size_t start = 0;
  size_t line_no = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      r.partial_bytes = text.size() - start;  // an append cut short by a kill
      break;
    }
    ++line_no;
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!row.is_object()) {
      throw Error(path.string() + ":" + std::to_string(line_no), "not a JSON object (not a results file?)",
                  "pass --force to overwrite it");
    }
    r.rows.push_back(std::move(row));
  }
  if (repair && r.partial_bytes > 0) {
    fs::resize_file(path, text.size() - r.partial_bytes, ec);
    if (ec) throw Error(path.string(), "cannot truncate the partial last line: " + ec.message());
  }
  return r;
}

ResultsAppender::ResultsAppender(const fs::path& path) : path_(path) {
  CreateParentDirectory(path);
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path.string(), std::string("cannot open for appending: ") + std::strerror(errno));
}

ResultsAppender::~ResultsAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void ResultsAppender::Append(const nlohmann::json& row) {
  WriteAll(fd_, row.dump() + "\n", path_);
  if (::fsync(fd_) != 0) throw Error(path_.string(), std::string("fsync failed: ") + std::strerror(errno));
}

void WriteFileAtomically(const fs::path& path, const std::string& text) {
  CreateParentDirectory(path);
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(tmp.string(), std::string("cannot create: ") + std::strerror(errno));
  try {
    WriteAll(fd, text, tmp);
    if (::fsync(fd) != 0) throw Error(tmp.string(), std::string("fsync failed: ") + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(path.string(), "cannot rename the finished file into place: " + why);
  }
}

std::string ToJsonLines(const std::vector<nlohmann::json>& rows) {
  std::string out;
  for (const nlohmann::json& row : rows) out += row.dump() + "\n";
  return out;
}

}  // namespace kvlab
