// Progress of a sweep on stderr: a redrawn bar with ETA when stderr is a terminal, else one line per
// finished point ("[3/48] stories260K h2o:budget=64 ppl=4.12 kl=0.031 1.2s eta 1m20s").
#pragma once

#include <cstddef>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "kvlab/sweep/grid.h"

namespace kvlab {

// "1h02m", "3m05s", "12s".
std::string FormatDuration(double seconds);

class SweepProgress {
 public:
  // total: points in the grid; done: points already in the results file (resume).
  SweepProgress(size_t total, size_t done, bool tty, std::FILE* out);
  void Started(const GridPoint& point);
  void Finished(const GridPoint& point, const nlohmann::json& row, double seconds);
  // Ends the bar's line (tty).
  void Close();

 private:
  std::string Eta() const;
  size_t total_, done_;
  size_t ran_ = 0;
  double seconds_ = 0;  // spent on the points run by this process
  bool tty_;
  std::FILE* out_;
};

}  // namespace kvlab
