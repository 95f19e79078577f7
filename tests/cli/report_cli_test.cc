// kvlab report: plots + index.html from a synthetic sweep-results fixture and a real analysis directory;
// the page is opened in headless Chromium, which must load every image and sort the results table by a
// click on its header; the same for retrieval-task rows (needle heatmaps, accuracy vs budget and KV bytes).
// The "Quality against KV bytes" section comes first, and its Pareto frontier is checked on rows where it
// is known. Plus the failure paths: bad JSONL, no python, no section module — one line, and no report
// directory left behind.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using test::AssetsDir;
using test::RunKvlab;

using test::Quote;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t Count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t i = s.find(needle); i != std::string::npos; i = s.find(needle, i + 1)) ++n;
  return n;
}

// Opens index.html in headless Chromium: a screenshot, then the DOM after load, where the page's own script
// has marked every <img> data-loaded="yes"/"no" and counted them on <body>.
void ExpectImagesLoadInChromium(const fs::path& dir, const fs::path& index, size_t images) {
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "/usr/bin/chromium not installed";
  const fs::path profile = dir / "chromium-profile", shot = dir / "shot.png", dom = dir / "dom.html";
  const std::string chromium =
      "/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
      "--no-first-run --user-data-dir=" +
      Quote(profile) + " ";
  const std::string url = "file://" + index.string();
  ASSERT_EQ(std::system((chromium + "--window-size=1280,4000 --screenshot=" + Quote(shot) + " '" + url +
                         "' >/dev/null 2>&1")
                            .c_str()),
            0);
  EXPECT_GT(fs::file_size(shot), 10000u);
  ASSERT_EQ(std::system((chromium + "--virtual-time-budget=5000 --dump-dom '" + url + "' >" + Quote(dom) +
                         " 2>/dev/null")
                            .c_str()),
            0);
  const std::string loaded = Slurp(dom);
  EXPECT_NE(
      loaded.find("data-images-loaded=\"" + std::to_string(images) + "/" + std::to_string(images) + "\""),
      std::string::npos)
      << loaded.substr(0, 400);
  EXPECT_EQ(Count(loaded, "data-loaded=\"yes\""), images);
  EXPECT_EQ(Count(loaded, "data-loaded=\"no\""), 0u);
}

// Loads a copy of index.html with a test script added: it clicks the results table's kl_mean header twice
// and its policy header once, and writes on <body> whether the rows came out ascending, then descending,
// then in text order (they must not be in kl_mean order before), and whether the table sits in a box that
// scrolls under a sticky header.
void ExpectTableSortsInChromium(const fs::path& dir, const fs::path& index) {
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "/usr/bin/chromium not installed";
  const std::string check = R"(<script>window.addEventListener('load',function(){setTimeout(function(){
var t=document.querySelector('div.scroll > table.sortable'),r=[];
if(!t){document.body.setAttribute('data-sort-test','no sortable table in a scroll box');return;}
var ths=t.tHead.rows[0].cells,kl=-1,pol=-1;
for(var i=0;i<ths.length;i++){if(ths[i].textContent==='kl_mean')kl=i;if(ths[i].textContent==='policy')pol=i;}
function col(c,num){return Array.prototype.map.call(t.tBodies[0].rows,function(tr){
  return num?Number(tr.cells[c].getAttribute('data-v')):tr.cells[c].textContent;});}
function ordered(v,dir,cmp){for(var i=1;i<v.length;i++)if(dir*cmp(v[i-1],v[i])>0)return false;
  return v.length>2;}
function byNum(a,b){return a-b;}
function byText(a,b){return a.localeCompare(b,undefined,{numeric:true});}
function mark(th){return th.getAttribute('aria-sort');}
r.push(ordered(col(kl,true),1,byNum)?'presorted':'unsorted');
ths[kl].click();r.push(ordered(col(kl,true),1,byNum)&&mark(ths[kl])==='ascending'?'asc':'bad');
ths[kl].click();r.push(ordered(col(kl,true),-1,byNum)&&mark(ths[kl])==='descending'?'desc':'bad');
ths[pol].click();r.push(ordered(col(pol,false),1,byText)&&mark(ths[kl])===null?'text':'bad');
var box=getComputedStyle(t.parentNode),head=getComputedStyle(ths[0]);
r.push(box.overflowY==='auto'&&box.maxHeight!=='none'&&head.position==='sticky'?'scroll':'bad');
document.body.setAttribute('data-sort-test',r.join(' '));},0);});</script>)";
  std::string page = Slurp(index);
  const size_t end = page.rfind("</body>");
  ASSERT_NE(end, std::string::npos);
  page.insert(end, check);
  const fs::path test_page = dir / "sort_test.html", dom = dir / "sort_dom.html";
  { std::ofstream(test_page) << page; }
  ASSERT_EQ(
      std::system(("/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                   "--no-first-run --user-data-dir=" +
                   Quote(dir / "chromium-profile-sort") + " --virtual-time-budget=5000 --dump-dom 'file://" +
                   test_page.string() + "' >" + Quote(dom) + " 2>/dev/null")
                      .c_str()),
      0);
  const std::string loaded = Slurp(dom);
  const std::string attr = "data-sort-test=\"";
  const size_t at = loaded.find(attr);
  ASSERT_NE(at, std::string::npos) << "the test script did not run";
  const size_t from = at + attr.size();
  EXPECT_EQ(loaded.substr(from, loaded.find('"', from) - from), "unsorted asc desc text scroll");
}

// Sweep rows shaped like `kvlab sweep` writes them: several policies x budgets, a quantized codec, and
// sketch widths x depths; latency by context and per-layer fidelity on some rows.
void WriteFixture(const fs::path& path) {
  std::ofstream out(path);
  const double full_bytes = 256 * 1280.0;
  int id = 0;
  auto row = [&](const std::string& name, const std::string& spec, nlohmann::json budget,
                 nlohmann::json codec, double ppl_ratio, double kl, double bytes, double tok_s) {
    nlohmann::json r = {{"schema", 1},
                        {"id", "r" + std::to_string(id++)},
                        {"model", "stories260K"},
                        {"text", "tinystories_val.txt"},
                        {"tokens", 256},
                        {"ctx", 512},
                        {"policy", spec},
                        {"policy_name", name},
                        {"budget", budget},
                        {"codec", codec},
                        {"seed", 1},
                        {"ppl", 9.0 * ppl_ratio},
                        {"ppl_full", 9.0},
                        {"ppl_ratio", ppl_ratio},
                        {"kl_mean", kl},
                        {"kv_bytes", bytes},
                        {"kv_bytes_full", full_bytes},
                        {"kv_ratio", bytes / full_bytes},
                        {"policy_bytes", 0},
                        {"decode_tok_s", tok_s},
                        {"decode_ms_per_token", 1000.0 / tok_s},
                        {"attn_kl", kl * 2},
                        {"attn_cosine", 1.0 - kl}};
    nlohmann::json layers = nlohmann::json::array();
    for (int l = 0; l < 5; ++l)
      layers.push_back({{"layer", l}, {"attn_kl", kl * (l + 1)}, {"attn_cosine", 1 - kl * l}});
    r["fidelity_layers"] = layers;
    r["ms_per_token_by_ctx"] = {{"128", 1000.0 / tok_s}, {"256", 1100.0 / tok_s}, {"512", 1300.0 / tok_s}};
    return r;
  };
  out << row("full", "full", nullptr, nullptr, 1.0, 0.0, full_bytes, 5000).dump() << "\n";
  for (int b : {32, 64, 128}) {
    const double share = b / 256.0;
    out << row("window", "window:budget=" + std::to_string(b), b, nullptr, 1 + 0.4 / b * 10, 0.3 / b * 10,
               full_bytes * share, 5200)
               .dump()
        << "\n";
    out << row("h2o", "h2o:budget=" + std::to_string(b), b, nullptr, 1 + 0.2 / b * 10, 0.15 / b * 10,
               full_bytes * share, 4800)
               .dump()
        << "\n";
    out << row("h2o", "h2o:budget=" + std::to_string(b) + "+quant:k=int8,v=int8", b, "int8",
               1 + 0.25 / b * 10, 0.18 / b * 10, full_bytes * share * 0.3, 4500)
               .dump()
        << "\n";
  }
  for (int w : {64, 256, 1024}) {
    for (int d : {1, 2, 4}) {
      nlohmann::json r = row("sketch", "sketch:budget=64,width=" + std::to_string(w), 64, nullptr,
                             1 + 1.0 / (w * d) * 40, 0.5 / (w * d) * 40, full_bytes * 0.25 + w * d * 4, 4000);
      r["sketch_type"] = "count-min";
      r["sketch_width"] = w;
      r["sketch_depth"] = d;
      r["sketch_strategy"] = "topk";
      out << r.dump() << "\n";
    }
  }
  out << "\n";  // blank lines are allowed
}

// Rows of a sweep with a [tasks] section: full, window and h2o at budgets 16/32/64, each with task_cells
// over lengths {64, 128} x needle depths {0, 0.5, 1} of niah_single_2 and a depth-less cwe cell per length.
// Accuracy and retention fall as the budget shrinks (window faster than h2o), with length and with depth.
void WriteTaskFixture(const fs::path& path) {
  std::ofstream out(path);
  const double bytes_per_token = 1280;
  int id = 0;
  auto row = [&](const std::string& name, nlohmann::json budget, double loss) {
    nlohmann::json cells = nlohmann::json::array();
    double acc = 0, ret = 0, att = 0, bytes = 0, full = 0;
    auto cell = [&](const std::string& task, int length, nlohmann::json depth, double a, double kept) {
      const double held = budget.is_null() ? length : std::min<double>(length, budget.get<int>());
      const double kv = held * bytes_per_token + (budget.is_null() ? 0 : 64 * 4.0);
      cells.push_back({{"task", task},
                       {"length", length},
                       {"depth", depth},
                       {"samples", 4},
                       {"accuracy", a},
                       {"retention", kept},
                       {"merged", 0.0},
                       {"needle_attention", 0.2 * kept},
                       {"kv_bytes", kv},
                       {"kv_bytes_full", length * bytes_per_token},
                       {"prompt_tokens", length},
                       {"retention_by_layer", {kept, kept * 0.9, kept, kept * 0.8, kept}}});
      acc += a;
      ret += kept;
      att += 0.2 * kept;
      bytes += kv;
      full += length * bytes_per_token;
    };
    for (int length : {64, 128}) {
      for (double depth : {0.0, 0.5, 1.0}) {
        const double kept = std::max(0.0, 1 - loss * length / 128.0 * (0.4 + depth));
        cell("niah_single_2", length, depth, std::round(kept * 4) / 4, kept);  // 4 samples: quarters
      }
      const double kept = std::max(0.0, 1 - loss * length / 128.0 * 0.7);
      cell("cwe", length, nullptr, std::round(kept * 4) / 4, kept);
    }
    const double n = static_cast<double>(cells.size());
    const std::string spec = budget.is_null() ? name : name + ":budget=" + std::to_string(budget.get<int>());
    nlohmann::json r = {
        {"schema", 1},
        {"id", "t" + std::to_string(id++)},
        {"model", "stories260K"},
        {"seed", 1},
        {"policy", spec},
        {"policy_name", name},
        {"budget", budget},
        {"budget_fraction", budget.is_null() ? nlohmann::json() : nlohmann::json(budget.get<int>() / 128.0)},
        {"codec", nullptr},
        {"task_accuracy", acc / n},
        {"task_retention", ret / n},
        {"task_merged", 0.0},
        {"task_needle_attention", att / n},
        {"task_kv_bytes", bytes / n},
        {"task_kv_bytes_full", full / n},
        {"task_cells", cells}};
    return r;
  };
  out << row("full", nullptr, 0).dump() << "\n";
  for (int b : {16, 32, 64}) {
    out << row("window", b, 4.0 / b).dump() << "\n";
    out << row("h2o", b, 2.0 / b).dump() << "\n";
  }
}

TEST(ReportCli, PlotsAndIndexHtmlOpenInHeadlessChromium) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path dir = test::TempDir("report_cli");
  const fs::path results = dir / "results.jsonl", analysis = dir / "analysis", out = dir / "report";
  WriteFixture(results);
  auto a =
      RunKvlab("analyze -m stories260K --text " + Quote(AssetsDir() / "text" / "tinystories_val.txt") +
               " --mode heads --mode layers --mode tucker --max-tokens 32 -t 1 --out " + Quote(analysis));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto r = RunKvlab("report " + Quote(results) + " --analysis " + Quote(analysis) + " --out " + Quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir / "report.tmp"));
  for (const char* plot :
       {"pareto_stories260K", "kv_memory_vs_budget", "decode_ms_vs_context", "throughput_per_policy",
        "memory_scaling", "tradeoff_bubble", "quality_vs_budget", "attention_fidelity", "sketch_width_depth",
        "a0_heads", "a0_layers", "a0_tucker_sweep", "a0_tucker_components", "a0_tucker_sensitivity"}) {
    EXPECT_GT(fs::file_size(out / (std::string(plot) + ".png")), 1000u) << plot;
    EXPECT_TRUE(fs::is_regular_file(out / (std::string(plot) + ".svg"))) << plot;
  }
  EXPECT_TRUE(fs::is_regular_file(out / "pareto_stories260K.csv"));
  const std::string html = Slurp(out / "index.html");
  const size_t images = Count(html, "<img ");
  EXPECT_EQ(images, 14u);
  EXPECT_EQ(Count(html, "src='data:image/png;base64,"), images);  // self-contained
  // Quality against bytes is the first section, its figure the page's first image; then the sweep's, whose
  // table of all 19 rows scrolls in its own box.
  EXPECT_EQ(html.find("<h2>"), html.find("<h2>Quality against KV bytes</h2>"));
  EXPECT_LT(html.find("<h2>Quality against KV bytes</h2>"), html.find("<h2>Sweep results (19 runs)</h2>"));
  const size_t first_image = html.find("<img "),
               pareto = html.find("alt='Quality against KV bytes: stories260K");
  EXPECT_LT(first_image, pareto);
  EXPECT_LT(pareto, html.find("<img ", first_image + 1));
  const size_t sweep = html.find("<h2>Sweep results (19 runs)</h2>");
  const std::string table = html.substr(sweep, html.find("</table>", sweep) - sweep);
  EXPECT_NE(table.find("<div class=scroll><table class=sortable><thead>"), std::string::npos);
  EXPECT_EQ(Count(table, "<tr>"), 1u + 19u);
  // Modes that were not run are skipped with a note, not an error.
  EXPECT_NE(html.find("no prune.json"), std::string::npos);

  // Rows without task fields draw no task section (and leave the task module unimported).
  EXPECT_EQ(html.find("Retrieval tasks"), std::string::npos);
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_EQ(e.path().filename().string().find("tasks_"), std::string::npos) << e.path();

  ExpectImagesLoadInChromium(dir, out / "index.html", images);
  EXPECT_NE(Slurp(dir / "dom.html")
                .find("alt=\"Quality against KV bytes: stories260K (19 runs)\" data-loaded=\"yes\""),
            std::string::npos);
  ExpectTableSortsInChromium(dir, out / "index.html");
}

TEST(ReportCli, TaskRowsDrawRetrievalSectionThatOpensInHeadlessChromium) {
  const fs::path dir = test::TempDir("report_tasks");
  const fs::path results = dir / "results.jsonl", out = dir / "report";
  WriteTaskFixture(results);
  auto r = RunKvlab("report " + Quote(results) + " --out " + Quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* plot :
       {"tasks_heatmap_accuracy_niah_single_2", "tasks_heatmap_retention_niah_single_2", "tasks_vs_budget",
        "tasks_vs_kv_bytes", "tasks_by_length", "tasks_retention_by_layer"}) {
    EXPECT_GT(fs::file_size(out / (std::string(plot) + ".png")), 1000u) << plot;
    EXPECT_TRUE(fs::is_regular_file(out / (std::string(plot) + ".svg"))) << plot;
  }
  // One task with a depth axis: no combined all-tasks heatmap.
  EXPECT_FALSE(fs::exists(out / "tasks_heatmap_accuracy_all_tasks.png"));
  const std::string html = Slurp(out / "index.html");
  EXPECT_NE(html.find("<h2>Retrieval tasks (7 runs)</h2>"), std::string::npos);
  EXPECT_NE(html.find("<th>task_needle_attention</th>"), std::string::npos);
  EXPECT_EQ(Count(html, "Needle in a haystack, "), 2u * 2u);  // alt text + caption of each heatmap figure
  // The rows have no perplexity, speed or fidelity: the sweep section only notes its skipped plots.
  const size_t images = Count(html, "<img ");
  EXPECT_EQ(images, 6u);
  EXPECT_EQ(Count(html, "src='data:image/png;base64,"), images);

  // The sections' modules must sit next to the script: without them, task rows (and rows with bytes and
  // quality) are a one-line error, and rows that need neither still report.
  const fs::path lone = dir / "lone";
  fs::create_directories(lone);
  fs::copy_file(fs::path(KVLAB_REPORT_SCRIPT_DIR) / "kvlab_report.py", lone / "kvlab_report.py");
  setenv("KVLAB_REPORT_SCRIPT", (lone / "kvlab_report.py").c_str(), 1);
  auto missing = RunKvlab("report " + Quote(results) + " --out " + Quote(dir / "report2"));
  const fs::path plain = dir / "plain.jsonl";
  {
    std::ofstream f(plain);
    f << "{\"policy\": \"full\", \"ppl\": 3}\n";
  }
  auto untouched = RunKvlab("report " + Quote(plain) + " --out " + Quote(dir / "report3"));
  const fs::path with_bytes = dir / "bytes.jsonl";
  {
    std::ofstream f(with_bytes);
    f << "{\"policy\": \"full\", \"ppl\": 3, \"kv_bytes\": 1000}\n";
  }
  auto no_pareto = RunKvlab("report " + Quote(with_bytes) + " --out " + Quote(dir / "report4"));
  unsetenv("KVLAB_REPORT_SCRIPT");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("kvlab_report_tasks.py is missing"), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  EXPECT_FALSE(fs::exists(dir / "report2"));
  EXPECT_EQ(untouched.exit_code, 0) << untouched.err;
  EXPECT_EQ(no_pareto.exit_code, 1);
  EXPECT_NE(no_pareto.err.find("kvlab_report_pareto.py is missing"), std::string::npos) << no_pareto.err;
  EXPECT_EQ(std::count(no_pareto.err.begin(), no_pareto.err.end(), '\n'), 1) << no_pareto.err;
  EXPECT_FALSE(fs::exists(dir / "report4"));

  ExpectImagesLoadInChromium(dir, out / "index.html", images);
}

// Rows where the frontier is known. Bytes are kv_bytes + policy_bytes: c holds fewer cache bytes than b
// but more in all, so b dominates it on KL; g has no kl_mean (perplexity only); 64 window rows are dominated
// on both; one row has no kv_bytes. A second model's two rows get their own figure.
//   KL frontier:  d (60) a (100) b (200) f (500) full (1000, KL 0)
//   ppl frontier: d (60) a (100) b (200) c (250) g (300) f (500) full (1000)
TEST(ReportCli, QualityAgainstBytesComesFirstWithTheParetoFrontierOfEveryModel) {
  const fs::path dir = test::TempDir("report_pareto");
  const fs::path results = dir / "results.jsonl", out = dir / "report";
  {
    std::ofstream f(results);
    auto row = [&](const std::string& model, const std::string& spec, double kv, double policy_bytes,
                   nlohmann::json kl, double ppl) {
      nlohmann::json r = {{"model", model}, {"text", "t.txt"},      {"policy", spec},
                          {"kv_bytes", kv}, {"ppl", ppl},           {"policy_bytes", policy_bytes},
                          {"ppl_full", 10}, {"kv_bytes_full", 1000}};
      if (!kl.is_null()) r["kl_mean"] = kl;
      f << r.dump() << "\n";
    };
    row("tiny", "full", 1000, 0, 0.0, 10);
    row("tiny", "window:budget=4", 100, 0, 0.5, 14);                   // a
    row("tiny", "sinks:budget=8", 200, 0, 0.2, 12);                    // b
    row("tiny", "snapkv:budget=6", 150, 100, 0.3, 11);                 // c
    row("tiny", "h2o:budget=2+quant:k=int4,v=int4", 50, 10, 0.9, 20);  // d
    row("tiny", "tova:budget=16", 400, 0, 0.25, 11.5);                 // e: dominated
    row("tiny", "cluster:budget=32", 500, 0, 0.01, 10.5);              // f
    row("tiny", "knorm:budget=12", 300, 0, nullptr, 10.8);             // g
    for (int i = 0; i < 64; ++i) row("tiny", "window:budget=" + std::to_string(100 + i), 600 + i, 0, 0.6, 15);
    f << R"({"model": "tiny", "policy": "random:budget=8", "kl_mean": 0.0001, "ppl": 9})"
      << "\n";
    row("other/model", "full", 2000, 0, 0.0, 5);
    row("other/model", "window:budget=4", 300, 0, 0.4, 6);
  }
  auto r = RunKvlab("report " + Quote(results) + " --out " + Quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"pareto_tiny", "pareto_other_model"}) {
    EXPECT_GT(fs::file_size(out / (std::string(name) + ".png")), 1000u) << name;
    EXPECT_TRUE(fs::is_regular_file(out / (std::string(name) + ".svg"))) << name;
  }
  std::ifstream csv(out / "pareto_tiny.csv");
  std::string line, got;
  std::getline(csv, line);
  EXPECT_EQ(line, "model,text,metric,label,policy,bytes,kv_bytes,policy_bytes,value");
  while (std::getline(csv, line)) {  // metric, label, bytes and value of each frontier point
    std::vector<std::string> f;
    std::string cell;
    bool quoted = false;
    for (char c : line + ",") {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        f.push_back(cell);
        cell.clear();
      } else {
        cell += c;
      }
    }
    ASSERT_EQ(f.size(), 9u) << line;
    got += f[2] + " " + f[3] + " " + f[5] + " " + f[8] + "\n";
  }
  EXPECT_EQ(got,
            "kl_mean h2o b=2+int4 60 0.9\n"
            "kl_mean window b=4 100 0.5\n"
            "kl_mean sinks b=8 200 0.2\n"
            "kl_mean cluster b=32 500 0.01\n"
            "kl_mean full 1000 0\n"
            "ppl h2o b=2+int4 60 20\n"
            "ppl window b=4 100 14\n"
            "ppl sinks b=8 200 12\n"
            "ppl snapkv b=6 250 11\n"
            "ppl knorm b=12 300 10.8\n"
            "ppl cluster b=32 500 10.5\n"
            "ppl full 1000 10\n");
  const std::string html = Slurp(out / "index.html");
  // The section comes first, one figure per model; the frontier files are linked.
  EXPECT_EQ(html.find("<h2>"), html.find("<h2>Quality against KV bytes</h2>"));
  const size_t tiny = html.find("alt='Quality against KV bytes: tiny (72 runs)'");
  const size_t other = html.find("alt='Quality against KV bytes: other/model (2 runs)'");
  EXPECT_LT(tiny, other);
  EXPECT_LT(other, html.find("<h2>Sweep results: tiny (73 runs)</h2>"));
  EXPECT_NE(html.find("<a href='pareto_tiny.csv'>"), std::string::npos);
  // Every row is in the results table (no cut at 60 rows).
  const size_t sweep = html.find("<h2>Sweep results: tiny (73 runs)</h2>");
  EXPECT_EQ(Count(html.substr(sweep, html.find("</table>", sweep) - sweep), "<tr>"), 1u + 73u);
}

TEST(ReportCli, BadInputIsOneLineAndLeavesNoReport) {
  const fs::path dir = test::TempDir("report_bad");
  const fs::path bad = dir / "bad.jsonl", out = dir / "report";
  {
    std::ofstream f(bad);
    f << "{\"policy\": \"full\", \"ppl\": 3}\n{not json\n";
  }
  auto r = RunKvlab("report " + Quote(bad) + " --out " + Quote(out));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("kvlab: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("bad.jsonl:2"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(dir / "report.tmp"));

  auto none = RunKvlab("report --out " + Quote(out));
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("nothing to report"), std::string::npos) << none.err;

  auto missing = RunKvlab("report --analysis " + Quote(dir / "nope") + " --out " + Quote(out));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("--analysis"), std::string::npos) << missing.err;

  // No usable python: one line naming the interpreter.
  const fs::path good = dir / "good.jsonl";
  {
    std::ofstream f(good);
    f << "{\"policy\": \"full\", \"ppl\": 3}\n";
  }
  auto py = RunKvlab("report " + Quote(good) + " --out " + Quote(out));
  ASSERT_EQ(py.exit_code, 0) << py.err;  // sanity: the same input works with the real interpreter
  setenv("KVLAB_PYTHON", "/nonexistent/python3", 1);
  auto nopy = RunKvlab("report " + Quote(good) + " --out " + Quote(dir / "report2"));
  unsetenv("KVLAB_PYTHON");
  EXPECT_EQ(nopy.exit_code, 1);
  EXPECT_NE(nopy.err.find("/nonexistent/python3"), std::string::npos) << nopy.err;
  EXPECT_EQ(std::count(nopy.err.begin(), nopy.err.end(), '\n'), 1) << nopy.err;
  EXPECT_FALSE(fs::exists(dir / "report2"));
}

}  // namespace
}  // namespace kvlab
