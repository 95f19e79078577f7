#include "kvlab/sweep/progress.h"

#include <algorithm>
#include <cmath>

namespace kvlab {

std::string FormatDuration(double s) {
  const long total = std::lround(std::max(0.0, s));
  char buf[32];
  if (total >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", total / 3600, (total % 3600) / 60);
  } else if (total >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", total / 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", total);
  }
  return buf;
}

SweepProgress::SweepProgress(size_t total, size_t done, bool tty, std::FILE* out)
    : total_(total), done_(done), tty_(tty), out_(out) {}

std::string SweepProgress::Eta() const {
  if (ran_ == 0) return "?";
  return FormatDuration(seconds_ / static_cast<double>(ran_) * static_cast<double>(total_ - done_));
}

void SweepProgress::Started(const GridPoint& p) {
  if (!tty_ || out_ == nullptr) return;
  constexpr int kWidth = 24;
  const int filled = total_ == 0 ? kWidth : static_cast<int>(kWidth * done_ / total_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::string what = p.model + " " + p.spec;
  if (what.size() > 70) what = what.substr(0, 67) + "...";
  // \x1b[2K clears the line the bar was drawn on.
  std::fprintf(out_, "\r\x1b[2K[%s] %zu/%zu eta %s  %s", bar.c_str(), done_, total_, Eta().c_str(),
               what.c_str());
  std::fflush(out_);
}

void SweepProgress::Finished(const GridPoint& p, const nlohmann::json& row, double seconds) {
  ++done_;
  ++ran_;
  seconds_ += seconds;
  if (out_ == nullptr || tty_) return;
  std::string metrics;
  for (const char* key : {"ppl", "kl_mean", "retained_mass", "gen_bleu", "decode_tok_s"}) {
    auto it = row.find(key);
    if (it == row.end() || !it->is_number()) continue;
    char buf[48];
    std::snprintf(buf, sizeof buf, " %s=%.4g", key, it->get<double>());
    metrics += buf;
  }
  std::fprintf(out_, "[%zu/%zu] %s %s%s %.1fs eta %s\n", done_, total_, p.model.c_str(), p.spec.c_str(),
               metrics.c_str(), seconds, Eta().c_str());
  std::fflush(out_);
}

void SweepProgress::Close() {
  if (tty_ && out_ != nullptr) {
    std::fprintf(out_, "\r\x1b[2K[%zu/%zu] points finished\n", done_, total_);
    std::fflush(out_);
  }
}

}  // namespace kvlab
