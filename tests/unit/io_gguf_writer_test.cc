// GgufWriter round trip through kvlab's GgufFile reader: every value type the writer emits, tensor infos and
// data, alignment of every tensor, and the atomic write (no file left behind when filling fails).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "io_test_writers.h"
#include "kvlab/io/ggml_row_encode.h"
#include "kvlab/io/gguf.h"
#include "kvlab/io/gguf_writer.h"
#include "kvlab/tensor/dtype.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

GgufWriter::Fill FillF32(std::vector<float> v) {
  return [v = std::move(v)](std::span<uint8_t> out) { std::memcpy(out.data(), v.data(), v.size() * 4); };
}

TEST(GgufWriter, EveryValueTypeRoundTrips) {
  const auto path = TempDir("gguf-writer") / "kv.gguf";
  GgufWriter w;
  w.SetU32("u32", 4000000000u);
  w.SetI32("i32", -7);
  w.SetU64("u64", uint64_t{1} << 40);
  w.SetF32("f32", 0.125f);
  w.SetF64("f64", 1e-300);
  w.SetBool("yes", true);
  w.SetBool("no", false);
  w.SetString("s", "gemma3 \xe2\x96\x81");
  w.SetString("empty", "");
  w.SetI32Array("ia", {1, -2, 3});
  w.SetF32Array("fa", {0.5f, -1.5f});
  w.SetBoolArray("ba", {true, false, true});
  w.SetStringArray("sa", {"a", "", "ccc"});
  w.Write(path);

  const GgufFile g = GgufFile::Open(path);
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.metadata().size(), 13u);
  EXPECT_EQ(g.GetInt("u32"), 4000000000);
  EXPECT_EQ(g.GetInt("i32"), -7);
  EXPECT_EQ(g.GetInt("u64"), int64_t{1} << 40);
  EXPECT_EQ(g.GetFloat("f32"), 0.125);
  EXPECT_EQ(g.GetFloat("f64"), 1e-300);
  EXPECT_EQ(std::get<bool>(g.metadata().at("yes")), true);
  EXPECT_EQ(std::get<bool>(g.metadata().at("no")), false);
  EXPECT_EQ(g.GetString("s"), "gemma3 \xe2\x96\x81");
  EXPECT_EQ(g.GetString("empty"), "");
  EXPECT_EQ(g.GetIntArray("ia"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(g.GetFloatArray("fa"), (std::vector<double>{0.5, -1.5}));
  EXPECT_EQ(g.GetIntArray("ba"), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(g.GetStringArray("sa"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_TRUE(g.tensors().empty());
}

TEST(GgufWriter, TensorsRoundTripAlignedAtEveryAlignment) {
  for (uint32_t alignment : {32u, 64u, 8u}) {
    SCOPED_TRACE(alignment);
    const auto path = TempDir("gguf-writer") / "t.gguf";
    GgufWriter w;
    if (alignment != 32) w.SetAlignment(alignment);
    w.SetString("general.architecture", "llama");
    // Sizes chosen so that no tensor ends on an alignment boundary: the padding is exercised.
    const std::vector<float> a = TestValues(1, 3 * 5);  // [5][3]
    const std::vector<float> b = TestValues(2, 7);
    w.AddTensor("a", GgmlType::kF32, {3, 5}, FillF32(a));
    w.AddTensor("b", GgmlType::kF32, {7}, FillF32(b));
    const std::vector<float> q = TestValues(3, 64);
    w.AddTensor("q", GgmlType::kQ8_0, {32, 2}, [&q](std::span<uint8_t> out) {
      EncodeGgmlRow(GgmlType::kQ8_0, q.data(), q.size(), out.data());
    });
    w.AddTensor("h", GgmlType::kF16, {3}, [](std::span<uint8_t> out) {
      const float v[3] = {1.0f, -2.0f, 0.5f};
      EncodeGgmlRow(GgmlType::kF16, v, 3, out.data());
    });
    w.AddTensor("bf", GgmlType::kBF16, {2}, [](std::span<uint8_t> out) {
      const float v[2] = {3.0f, -0.25f};
      EncodeGgmlRow(GgmlType::kBF16, v, 2, out.data());
    });
    w.Write(path);

    const GgufFile g = GgufFile::Open(path);
    EXPECT_EQ(g.alignment(), alignment);
    ASSERT_EQ(g.tensors().size(), 5u);
    const uint8_t* base = g.file()->data();
    for (const GgufTensorInfo& t : g.tensors()) {
      EXPECT_EQ(static_cast<size_t>(t.data - base) % alignment, 0u) << t.name;
    }
    const GgufTensorInfo* ta = g.FindTensor("a");
    EXPECT_EQ(ta->shape, (std::vector<int64_t>{3, 5}));
    EXPECT_EQ(std::memcmp(ta->data, a.data(), a.size() * 4), 0);
    EXPECT_EQ(std::memcmp(g.FindTensor("b")->data, b.data(), b.size() * 4), 0);
    const GgufTensorInfo* tq = g.FindTensor("q");
    EXPECT_EQ(tq->ggml_type, 8u);
    EXPECT_EQ(tq->nbytes, 2u * 34u);
    std::vector<float> back(64);
    ConvertToF32(DType::kQ8_0, tq->data, 64, back.data());
    for (size_t i = 0; i < 64; ++i) EXPECT_NEAR(back[i], q[i], 0.7f / 127.0f) << i;  // |q| <= 11/16
    float h[3];
    ConvertToF32(DType::kF16, g.FindTensor("h")->data, 3, h);
    EXPECT_EQ(h[0], 1.0f);
    EXPECT_EQ(h[1], -2.0f);
    EXPECT_EQ(h[2], 0.5f);
    float bf[2];
    ConvertToF32(DType::kBF16, g.FindTensor("bf")->data, 2, bf);
    EXPECT_EQ(bf[0], 3.0f);
    EXPECT_EQ(bf[1], -0.25f);
    // The file ends with the last tensor's padding, as gguf-py writes it.
    EXPECT_EQ(g.file()->size() % alignment, 0u);
  }
}

TEST(GgufWriter, Q8_0EncodingFollowsGgufPy) {
  // d = max|x| / 127; q = round half away from zero of x / d; an all-zero block has d = 0 and q = 0.
  std::vector<float> x(64, 0.0f);
  for (size_t i = 0; i < 32; ++i) x[i] = static_cast<float>(i) - 12.7f;
  uint8_t out[68];
  EncodeGgmlRow(GgmlType::kQ8_0, x.data(), 64, out);
  uint16_t d16;
  std::memcpy(&d16, out, 2);
  const float d = std::fabs(x[31]) / 127.0f;  // x[31] = 18.3 is the largest magnitude
  EXPECT_EQ(d16, F32ToF16(d));
  const auto* q = reinterpret_cast<const int8_t*>(out + 2);
  for (size_t i = 0; i < 32; ++i) EXPECT_EQ(q[i], static_cast<int8_t>(std::round(x[i] / d))) << i;
  EXPECT_EQ(q[31], 127);
  std::memcpy(&d16, out + 34, 2);
  EXPECT_EQ(d16, 0);
  for (size_t i = 0; i < 32; ++i) EXPECT_EQ(out[36 + i], 0) << i;
}

TEST(GgufWriter, FailedFillLeavesNoFileAndKeepsTheOldOne) {
  const auto dir = TempDir("gguf-writer");
  const auto path = dir / "m.gguf";
  WriteFile(path, std::string("previous contents"));
  GgufWriter w;
  w.AddTensor("t", GgmlType::kF32, {4}, [](std::span<uint8_t>) { throw Error("t", "source tensor unreadable"); });
  ExpectError([&] { w.Write(path); }, {"source tensor unreadable"});
  const std::string previous = "previous contents";
  EXPECT_EQ(ReadFileBytes(path), Bytes(previous.begin(), previous.end()));
  EXPECT_FALSE(std::filesystem::exists(dir / "m.gguf.tmp"));
}

TEST(GgufWriter, RejectsDuplicatesAndBadShapes) {
  GgufWriter w;
  w.SetU32("k", 1);
  ExpectError([&] { w.SetString("k", "again"); }, {"metadata key k added twice"});
  w.AddTensor("t", GgmlType::kF32, {2}, FillF32({1, 2}));
  ExpectError([&] { w.AddTensor("t", GgmlType::kF32, {2}, FillF32({1, 2})); }, {"tensor t added twice"});
  ExpectError([&] { w.AddTensor("q", GgmlType::kQ8_0, {48, 2}, FillF32({})); }, {"tensor q", "multiple of 32"});
  ExpectError([&] { w.AddTensor("e", GgmlType::kF32, {}, FillF32({})); }, {"tensor e", "dimensions"});
  ExpectError([&] { w.SetAlignment(24); }, {"power of two"});
}

}  // namespace
}  // namespace kvlab::test
