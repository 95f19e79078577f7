#include "kvlab/sweep/summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

namespace kvlab {

namespace {

using nlohmann::json;

// Columns of the Markdown table: what a reader compares at a glance.
const std::vector<std::pair<std::string, std::string>> kMarkdownColumns = {{"policy", "policy"},
                                                                           {"budget", "budget"},
                                                                           {"budget_fraction", "of ctx"},
                                                                           {"ppl", "ppl"},
                                                                           {"ppl_ratio", "ppl ratio"},
                                                                           {"kl_mean", "KL mean"},
                                                                           {"top1", "top-1"},
                                                                           {"retained_mass", "retained mass"},
                                                                           {"kv_bytes", "KV bytes"},
                                                                           {"kv_ratio", "KV ratio"},
                                                                           {"decode_tok_s", "decode tok/s"}};

std::string Number(const json& v) {
  if (v.is_null()) return "";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) {
    const double x = v.get<double>();
    if (!std::isfinite(x)) return std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", x);
    return buf;
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string Field(const json& row, const std::string& key) {
  auto it = row.find(key);
  return it == row.end() ? "" : Number(*it);
}

std::string CsvQuote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string MarkdownCell(const std::string& s, bool code) {
  if (s.empty()) return "—";
  std::string out;
  for (char c : s) {
    if (c == '|') out.push_back('\\');
    out.push_back(c);
  }
  return code ? "`" + out + "`" : out;
}

double Num(const json& row, const char* key, double fallback) {
  auto it = row.find(key);
  return it != row.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string FractionLabel(double f) {
  for (int d : {2, 4, 8, 16, 32, 64}) {
    for (int n = 1; n < d; ++n) {
      if (std::fabs(f - static_cast<double>(n) / d) < 1e-9)
        return std::to_string(n) + "/" + std::to_string(d);
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", f);
  return buf;
}

}  // namespace

std::vector<Winner> FindWinners(const std::vector<json>& rows) {
  // (model, text, fraction) in first-seen order of (model, text), fractions ascending.
  std::map<std::tuple<std::string, std::string, double>, Winner> best;
  std::vector<std::pair<std::string, std::string>> order;
  for (const json& row : rows) {
    auto frac = row.find("budget_fraction");
    if (frac == row.end() || !frac->is_number()) continue;
    const bool has_kl = row.contains("kl_mean") && row["kl_mean"].is_number();
    if (!has_kl && !(row.contains("ppl") && row["ppl"].is_number())) continue;
    const std::string model = row.value("model", ""), text = row.value("text", "");
    const double kl = has_kl ? row["kl_mean"].get<double>() : 0.0;
    const double ppl = Num(row, "ppl", INFINITY);
    const auto key = std::make_tuple(model, text, frac->get<double>());
    auto [it, fresh] = best.try_emplace(key);
    Winner& w = it->second;
    if (fresh) {
      bool seen = false;
      for (const auto& mt : order) seen |= mt.first == model && mt.second == text;
      if (!seen) order.emplace_back(model, text);
    }
    ++w.candidates;
    if (w.candidates == 1 || std::make_pair(kl, ppl) < std::make_pair(w.kl_mean, w.ppl)) {
      w.model = model;
      w.text = text;
      w.budget_fraction = frac->get<double>();
      w.policy = row.value("policy", "");
      w.kl_mean = kl;
      w.ppl = ppl;
    }
  }
  std::vector<Winner> out;
  for (const auto& [model, text] : order) {
    for (const auto& [key, w] : best) {
      if (std::get<0>(key) == model && std::get<1>(key) == text) out.push_back(w);
    }
  }
  return out;
}

const std::vector<std::string>& SummaryColumns() {
  static const std::vector<std::string> kColumns = {"id",
                                                    "model",
                                                    "text",
                                                    "tokens",
                                                    "ctx",
                                                    "policy",
                                                    "policy_name",
                                                    "budget",
                                                    "budget_fraction",
                                                    "codec",
                                                    "sketch_type",
                                                    "sketch_width",
                                                    "sketch_depth",
                                                    "sketch_strategy",
                                                    "sketch_topk",
                                                    "seed",
                                                    "ppl",
                                                    "nll_mean",
                                                    "ppl_full",
                                                    "ppl_ratio",
                                                    "kl_mean",
                                                    "kl_median",
                                                    "kl_p99",
                                                    "kl_max",
                                                    "top1",
                                                    "rms_dp",
                                                    "retained_mass",
                                                    "attn_kl",
                                                    "attn_cosine",
                                                    "attn_l1",
                                                    "attn_l2",
                                                    "argmax_agreement",
                                                    "output_rel_error",
                                                    "kv_bytes",
                                                    "kv_bytes_full",
                                                    "policy_bytes",
                                                    "kv_ratio",
                                                    "decode_tok_s",
                                                    "prefill_tok_s",
                                                    "task_accuracy",
                                                    "task_retention",
                                                    "task_merged",
                                                    "task_needle_attention",
                                                    "task_kv_bytes",
                                                    "task_kv_bytes_full",
                                                    "gen_agreement_tokens",
                                                    "gen_bleu",
                                                    "gen_rouge_l",
                                                    "decode_ms_per_token",
                                                    "peak_rss_bytes",
                                                    "wall_s",
                                                    "git_rev",
                                                    "machine",
                                                    "timestamp",
                                                    "kvlab_version"};
  return kColumns;
}

std::string SummaryCsv(const std::vector<json>& rows) {
  std::string out;
  for (const std::string& c : SummaryColumns()) out += (out.empty() ? "" : ",") + c;
  out += "\n";
  for (const json& row : rows) {
    std::string line;
    bool first = true;
    for (const std::string& c : SummaryColumns()) {
      if (!first) line += ',';
      line += CsvQuote(Field(row, c));
      first = false;
    }
    out += line + "\n";
  }
  return out;
}

std::string SummaryMarkdown(const std::vector<json>& rows) {
  std::string out;
  // Task and generation columns only when the sweep measured them, so other tables stay as narrow as before.
  std::vector<std::pair<std::string, std::string>> columns = kMarkdownColumns;
  if (std::any_of(rows.begin(), rows.end(), [](const json& r) { return r.contains("task_accuracy"); })) {
    columns.insert(columns.end() - 1,
                   {{"task_accuracy", "task accuracy"}, {"task_retention", "needle retention"}});
  }
  if (std::any_of(rows.begin(), rows.end(), [](const json& r) { return r.contains("gen_bleu"); })) {
    columns.insert(columns.end() - 1, {{"gen_agreement_tokens", "gen agreement"}, {"gen_bleu", "gen BLEU"}});
  }
  // One table per (model, text), rows in results order.
  std::vector<std::pair<std::string, std::string>> groups;
  for (const json& row : rows) {
    const auto g = std::make_pair(row.value("model", ""), row.value("text", ""));
    bool seen = false;
    for (const auto& x : groups) seen |= x == g;
    if (!seen) groups.push_back(g);
  }
  for (const auto& [model, text] : groups) {
    std::string tokens;
    for (const json& row : rows) {
      if (row.value("model", "") == model && row.value("text", "") == text) tokens = Field(row, "tokens");
    }
    out += "### " + model + " on " + text + " (" + tokens + " tokens)\n\n|";
    for (const auto& col : columns) out += " " + col.second + " |";
    out += "\n|";
    for (const auto& col : columns) out += col.first == "policy" ? "---|" : "---:|";
    out += "\n";
    for (const json& row : rows) {
      if (row.value("model", "") != model || row.value("text", "") != text) continue;
      out += "|";
      for (const auto& col : columns) {
        std::string cell = Field(row, col.first);
        if (col.first == "budget_fraction" && !cell.empty())
          cell = FractionLabel(row[col.first].get<double>());
        out += ' ';
        out += MarkdownCell(cell, col.first == "policy");
        out += " |";
      }
      out += "\n";
    }
    out += "\n";
  }
  const std::vector<Winner> winners = FindWinners(rows);
  if (!winners.empty()) {
    out += "### Winners (lowest mean KL vs the full cache; ties: lower ppl)\n\n";
    out +=
        "| model | text | budget | winner | KL mean | ppl | candidates "
        "|\n|---|---|---:|---|---:|---:|---:|\n";
    for (const Winner& w : winners) {
      out += "| " + w.model + " | " + w.text + " | " + FractionLabel(w.budget_fraction) + " | " +
             MarkdownCell(w.policy, true) + " | " + Number(json(w.kl_mean)) + " | " + Number(json(w.ppl)) +
             " | " + std::to_string(w.candidates) + " |\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace kvlab
