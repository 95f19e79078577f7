// `--weights`: converting weights at load from the command line (issue 6), and rejecting unknown formats.
#include <gtest/gtest.h>

#include <string>

#include "test_assets.h"

namespace kvlab {
namespace {

TEST(WeightsCli, EveryFormatGeneratesAndBenchReportsIt) {
  KVLAB_REQUIRE_ASSETS();
  for (const char* w : {"bf16", "f16", "q8"}) {
    const auto g = test::RunKvlab(std::string("generate -m stories260K -n 8 --temp 0 --weights ") + w);
    EXPECT_EQ(g.exit_code, 0) << w << ": " << g.err;
    EXPECT_FALSE(g.out.empty()) << w;
  }
  for (const char* w : {"q8", "auto"}) {
    const auto b = test::RunKvlab(std::string("bench -m stories260K -p 4 -n 2 -r 1 --no-membw --json --weights ") + w);
    ASSERT_EQ(b.exit_code, 0) << w << ": " << b.err;
    const std::string want = std::string(w) == "auto" ? "f32" : w;  // stories260K.bin is f32
    EXPECT_NE(b.out.find("\"weights\":\"" + want + "\""), std::string::npos) << b.out;
  }
}

TEST(WeightsCli, UnknownFormatIsAOneLineError) {
  const auto r = test::RunKvlab("bench -m stories260K -p 0 -n 1 --no-membw --weights q9");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--weights"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("q9"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

}  // namespace
}  // namespace kvlab
