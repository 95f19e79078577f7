// `kvlab analyze`: the analysis modes over one model and one text. Each mode lives in its own file
// (mode_<name>.cc) and returns an AnalysisOutput (output.h); docs/ANALYSIS.md describes every number.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "kvlab/analysis/head_types.h"
#include "kvlab/analysis/output.h"
#include "kvlab/model/model.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab::analysis {

struct AnalysisOptions {
  std::vector<float> thresholds{0.001f, 0.01f, 0.1f};  // attention sparsity thresholds
  HeadTypeOptions head_types;
  std::array<size_t, 3> tucker_ranks{0, 0, 0};  // tokens, kv heads, head_dim; 0 = half the mode
  int hooi_iterations = 2;
  std::vector<double> rank_sweep{0.125, 0.25, 0.5, 0.75, 1.0};  // fraction of every mode's size
  std::string prune_layers, prune_heads;                        // "0,1" and "2:3,..." (prune mode)
  size_t keep_dims = 0;        // compress-dims: dims kept per head; 0 = head_dim/2
  int32_t prompt_tokens = 32;  // generation: prompt length taken from the text
};

struct AnalysisContext {
  const Model* model = nullptr;
  std::filesystem::path model_path;      // prune reloads the weights from here
  const Tokenizer* tokenizer = nullptr;  // optional: token texts in `tokens`
  std::vector<int32_t> ids;              // the text, already cut to --max-tokens
  AnalysisOptions options;
};

using ModeFunction = AnalysisOutput (*)(const AnalysisContext&);
struct ModeInfo {
  const char* name;
  const char* summary;
  ModeFunction run;
};
const std::vector<ModeInfo>& AnalysisModes();
// Throws kvlab::Error("--mode", ...) naming the known modes for an unknown one.
const ModeInfo& FindAnalysisMode(const std::string& name);
// Throws kvlab::Error("--mode", ...) for an unknown mode.
AnalysisOutput RunAnalysis(const std::string& mode, const AnalysisContext& context);

// The modes (one file each).
AnalysisOutput AnalyzeLayers(const AnalysisContext& c);
AnalysisOutput AnalyzeHeads(const AnalysisContext& c);
AnalysisOutput AnalyzeTokens(const AnalysisContext& c);
AnalysisOutput AnalyzeEmbeddings(const AnalysisContext& c);
AnalysisOutput AnalyzeGeneration(const AnalysisContext& c);
AnalysisOutput AnalyzeSimilarity(const AnalysisContext& c);
AnalysisOutput AnalyzeTucker(const AnalysisContext& c);
AnalysisOutput AnalyzePrune(const AnalysisContext& c);
AnalysisOutput AnalyzeCompressDims(const AnalysisContext& c);

}  // namespace kvlab::analysis
