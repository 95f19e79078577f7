// GGUF reader: every metadata type in every version, alignment, and every kind of corrupt header.
#include <gtest/gtest.h>

#include <cmath>

#include "io_test_writers.h"
#include "kvlab/io/gguf.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

using B = GgufBuilder;

GgufBuilder AllTypes(uint32_t version) {
  GgufBuilder g(version);
  Put(g.Key("u8", B::kU8), uint8_t{200});
  Put(g.Key("i8", B::kI8), int8_t{-100});
  Put(g.Key("u16", B::kU16), uint16_t{60000});
  Put(g.Key("i16", B::kI16), int16_t{-30000});
  g.U32("u32", 4000000000u);
  g.I32("i32", -2000000000);
  g.F32("f32", 0.5f);
  Put(g.Key("bool", B::kBool), uint8_t{1});
  g.String("str", "hello");
  Put(g.Key("u64", B::kU64), uint64_t{1} << 40);
  Put(g.Key("i64", B::kI64), int64_t{-(int64_t{1} << 40)});
  Put(g.Key("f64", B::kF64), 0.25);
  g.StringArray("strs", {"a", "", "ccc"});
  g.I32Array("ints", {1, -2, 3});
  g.F32Array("floats", {1.5f, -2.5f});
  // An array of two arrays of u8.
  Bytes& b = g.Key("nested", B::kArray);
  Put(b, uint32_t{B::kArray});
  g.Len(b, 2);
  for (int i = 0; i < 2; ++i) {
    Put(b, uint32_t{B::kU8});
    g.Len(b, 3);
    for (uint8_t v = 0; v < 3; ++v) Put(b, static_cast<uint8_t>(v + 10 * i));
  }
  return g;
}

std::filesystem::path WriteGguf(const std::string& tag, const GgufBuilder& g) {
  auto path = TempDir(tag) / "model.gguf";
  WriteFile(path, g.Build());
  return path;
}

class GgufVersionTest : public testing::TestWithParam<uint32_t> {};

TEST_P(GgufVersionTest, ReadsEveryMetadataType) {
  const GgufFile f = GgufFile::Open(WriteGguf("gguf-types", AllTypes(GetParam())));
  EXPECT_EQ(f.version(), GetParam());
  EXPECT_EQ(f.GetInt("u8"), 200);
  EXPECT_EQ(f.GetInt("i8"), -100);
  EXPECT_EQ(f.GetInt("u16"), 60000);
  EXPECT_EQ(f.GetInt("i16"), -30000);
  EXPECT_EQ(f.GetInt("u32"), 4000000000ll);
  EXPECT_EQ(f.GetInt("i32"), -2000000000);
  EXPECT_EQ(f.GetFloat("f32"), 0.5);
  EXPECT_EQ(std::get<bool>(f.metadata().at("bool")), true);
  EXPECT_EQ(f.GetString("str"), "hello");
  EXPECT_EQ(f.GetInt("u64"), int64_t{1} << 40);
  EXPECT_EQ(f.GetInt("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(f.GetFloat("f64"), 0.25);
  EXPECT_EQ(f.GetFloat("i32"), -2e9);  // ints read as floats too
  EXPECT_EQ(f.GetStringArray("strs"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(f.GetIntArray("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f.GetFloatArray("floats"), (std::vector<double>{1.5, -2.5}));
  const auto& nested = std::get<GgufArrayList>(f.metadata().at("nested"));
  ASSERT_EQ(nested.items.size(), 2u);
  EXPECT_EQ(std::get<std::vector<int64_t>>(nested.items[1]), (std::vector<int64_t>{10, 11, 12}));
  EXPECT_FALSE(f.FindInt("absent").has_value());
  EXPECT_EQ(f.FindString("str").value(), "hello");
  EXPECT_TRUE(f.tensors().empty());
}

TEST_P(GgufVersionTest, EveryTruncationIsAnErrorNotACrash) {
  GgufBuilder g = AllTypes(GetParam());
  g.TensorF32("t", {4, 2}, TestValues(1, 8));
  const Bytes full = g.Build();
  const auto dir = TempDir("gguf-trunc");
  for (size_t n = 0; n < full.size(); ++n) {
    const auto path = dir / ("cut" + std::to_string(n) + ".gguf");
    WriteFile(path, Bytes(full.begin(), full.begin() + n));
    ExpectError([&] { GgufFile::Open(path); }, {path.string()});
    std::filesystem::remove(path);
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, GgufVersionTest, testing::Values(1u, 2u, 3u));

TEST(GgufTest, TensorDataIsAlignedAndViewed) {
  for (uint64_t alignment : {32u, 64u}) {
    GgufBuilder g;
    if (alignment != 32) g.U32("general.alignment", static_cast<uint32_t>(alignment));
    g.alignment = alignment;
    g.String("pad", "x");  // makes the header length odd, so padding matters
    g.TensorF32("a", {3}, {1, 2, 3});
    g.TensorF32("b", {2, 2}, {4, 5, 6, 7});
    const GgufFile f = GgufFile::Open(WriteGguf("gguf-align", g));
    const GgufTensorInfo* b = f.FindTensor("b");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ((b->data - f.file()->data()) % alignment, 0u);
    EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(b->nbytes, 16u);
    EXPECT_EQ(reinterpret_cast<const float*>(b->data)[3], 7.0f);
    EXPECT_EQ(f.FindTensor("missing"), nullptr);
  }
}

TEST(GgufTest, UnsupportedTensorTypeIsListedButNotReadable) {
  GgufBuilder g;
  g.Tensor("iq2", {256, 1}, 16, Bytes(66, 0));  // IQ2_XXS: known geometry, no dequantizer in kvlab
  g.Tensor("q8", {32, 1}, 8, Bytes(34, 0));
  const auto path = WriteGguf("gguf-iq2", g);
  const GgufFile f = GgufFile::Open(path);
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].ggml_type, 16u);
  EXPECT_EQ(f.FindTensor("q8")->dtype, DType::kQ8_0);
  ExpectError([&] { f.FindTensor("iq2"); },
              {path.string(), "tensor iq2", "unsupported tensor type 16", "IQ2_XXS"});
}

// Every block-quantized type kvlab reads: the file's ggml type id maps to the DType whose byte count
// agrees with GGUF's block geometry (two rows of 512 elements each).
TEST(GgufTest, ReadsEveryQuantizedTypeWithItsGeometry) {
  struct Case {
    uint32_t id;
    const char* name;
    DType dtype;
    size_t bytes;  // of 1024 elements
  };
  const Case cases[] = {{2, "Q4_0", DType::kQ4_0, 32 * 18},  {3, "Q4_1", DType::kQ4_1, 32 * 20},
                        {6, "Q5_0", DType::kQ5_0, 32 * 22},  {7, "Q5_1", DType::kQ5_1, 32 * 24},
                        {8, "Q8_0", DType::kQ8_0, 32 * 34},  {10, "Q2_K", DType::kQ2_K, 4 * 84},
                        {11, "Q3_K", DType::kQ3_K, 4 * 110}, {12, "Q4_K", DType::kQ4_K, 4 * 144},
                        {13, "Q5_K", DType::kQ5_K, 4 * 176}, {14, "Q6_K", DType::kQ6_K, 4 * 210}};
  GgufBuilder g;
  for (const Case& c : cases) g.Tensor(c.name, {512, 2}, c.id, Bytes(c.bytes, 0));
  const GgufFile f = GgufFile::Open(WriteGguf("gguf-quants", g));
  for (const Case& c : cases) {
    const GgufTensorInfo* t = f.FindTensor(c.name);
    ASSERT_NE(t, nullptr) << c.name;
    EXPECT_EQ(t->dtype, c.dtype) << c.name;
    EXPECT_EQ(t->nbytes, c.bytes) << c.name;
    EXPECT_EQ(DTypeBytes(t->dtype, 1024), c.bytes) << c.name;
    EXPECT_STREQ(GgmlTypeName(t->ggml_type), c.name);
  }
}

// A K-type row must be whole 256-element blocks; a tensor cut short is refused before anything reads it.
TEST(GgufTest, QuantizedRowsMustBeWholeBlocksAndPresent) {
  GgufBuilder odd;
  odd.Tensor("blk.0.ffn_down.weight", {128, 2}, 12, Bytes(144, 0));
  const auto p1 = WriteGguf("gguf-odd", odd);
  ExpectError([&] { GgufFile::Open(p1); },
              {p1.string(), "tensor blk.0.ffn_down.weight row length 128", "Q4_K block size 256"});

  GgufBuilder small;
  small.Tensor("w", {48, 1}, 2, Bytes(18 * 2, 0));  // Q4_0 blocks are 32
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-odd32", small)); }, {"tensor w row length 48", "Q4_0"});

  GgufBuilder cut;
  cut.Tensor("output.weight", {256, 4}, 14, Bytes(210 * 3, 0));  // 4 Q6_K blocks claimed, 3 present
  const auto p2 = WriteGguf("gguf-cut", cut);
  ExpectError([&] { GgufFile::Open(p2); }, {p2.string(), "tensor output.weight (840 bytes", "extends past the end"});
}

TEST(GgufTest, RejectsBadMagicAndVersion) {
  const auto dir = TempDir("gguf-magic");
  Bytes b = GgufBuilder().Build();
  b[0] = 'X';
  WriteFile(dir / "m.gguf", b);
  ExpectError([&] { GgufFile::Open(dir / "m.gguf"); }, {"m.gguf", "bad magic"});
  b = GgufBuilder(4).Build();
  WriteFile(dir / "v.gguf", b);
  ExpectError([&] { GgufFile::Open(dir / "v.gguf"); }, {"v.gguf", "unsupported GGUF version 4"});
  ExpectError([&] { GgufFile::Open(dir / "absent.gguf"); }, {"absent.gguf", "cannot open"});
}

TEST(GgufTest, HugeCountsAreRejectedBeforeAllocating) {
  GgufBuilder kv;
  kv.n_kv_override = uint64_t{1} << 60;
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-n", kv)); }, {"metadata count", "cannot fit"});
  GgufBuilder tensors;
  tensors.n_tensors_override = uint64_t{1} << 60;
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-t", tensors)); }, {"tensor count", "cannot fit"});
  GgufBuilder arr;
  Bytes& b = arr.Key("big", B::kArray);
  Put(b, uint32_t{B::kU64});
  arr.Len(b, uint64_t{1} << 58);
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-a", arr)); }, {"array big length", "cannot fit"});
  GgufBuilder str;
  str.Len(str.Key("s", B::kString), uint64_t{1} << 62);
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-s", str)); }, {"value of s length", "cannot fit"});
}

TEST(GgufTest, RejectsBadValueTypesAndDuplicates) {
  GgufBuilder t;
  Put(t.Key("k", 99), uint32_t{0});
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-vt", t)); }, {"metadata k has unknown value type 99"});
  GgufBuilder d;
  d.U32("k", 1);
  d.U32("k", 2);
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-dup", d)); }, {"duplicate metadata key k"});
  GgufBuilder dt;
  dt.TensorF32("w", {1}, {1});
  dt.TensorF32("w", {1}, {2});
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-dupt", dt)); }, {"duplicate tensor name w"});
  GgufBuilder a;
  a.U32("general.alignment", 48);
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-al", a)); }, {"general.alignment must be a power of two"});
}

TEST(GgufTest, RejectsTensorDataOutsideTheFile) {
  GgufBuilder past;
  past.TensorF32("w", {4}, {1, 2, 3, 4});
  past.offset_override = [](size_t, uint64_t) { return uint64_t{1} << 40; };
  const auto p1 = WriteGguf("gguf-off", past);
  ExpectError([&] { GgufFile::Open(p1); }, {p1.string(), "tensor w data offset", "past the end"});

  GgufBuilder unaligned;
  unaligned.TensorF32("w", {4}, {1, 2, 3, 4});
  unaligned.offset_override = [](size_t, uint64_t) { return uint64_t{4}; };
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-ua", unaligned)); },
              {"tensor w data offset 4 is not aligned"});

  GgufBuilder big;
  big.Tensor("w", {1000, 1000}, 0, Bytes(16, 0));  // claims 4 MB, file holds 16 bytes
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-big", big)); }, {"tensor w", "extends past the end"});

  GgufBuilder dims;
  dims.Tensor("w", {0}, 0, Bytes());
  ExpectError([&] { GgufFile::Open(WriteGguf("gguf-dim", dims)); }, {"tensor w has an invalid dimension 0"});
}

TEST(GgufTest, TypedGettersNameKeyAndType) {
  const auto path = WriteGguf("gguf-get", AllTypes(3));
  const GgufFile f = GgufFile::Open(path);
  ExpectError([&] { f.GetString("u8"); },
              {path.string(), "metadata u8 has type unsigned int, expected string"});
  ExpectError([&] { f.GetInt("str"); }, {"metadata str has type string, expected an integer"});
  ExpectError([&] { f.GetInt("nope"); }, {"metadata nope missing"});
  ExpectError([&] { f.GetIntArray("strs"); }, {"metadata strs has type string array"});
}

TEST(GgufTest, ReadsRealFilesOfVersionOneAndThree) {
  KVLAB_REQUIRE_ASSETS();
  const GgufFile v1 = GgufFile::Open(AssetsDir() / "models/stories260K/stories260K-v1.gguf");
  EXPECT_EQ(v1.version(), 1u);
  EXPECT_EQ(v1.GetString("general.architecture"), "llama");
  EXPECT_EQ(v1.GetStringArray("tokenizer.ggml.tokens").size(), 512u);
  EXPECT_EQ(v1.GetFloatArray("tokenizer.ggml.scores").size(), 512u);
  EXPECT_EQ(v1.tensors().size(), 48u);
  const GgufFile v3 = GgufFile::Open(AssetsDir() / "tokenizers/gguf-vocab/ggml-vocab-gpt-2.gguf");
  EXPECT_EQ(v3.version(), 3u);
  EXPECT_EQ(v3.GetStringArray("tokenizer.ggml.tokens").size(), 50257u);
  EXPECT_EQ(v3.GetStringArray("tokenizer.ggml.merges").size(), 50000u);
  const GgufFile spm = GgufFile::Open(AssetsDir() / "tokenizers/gguf-vocab/ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(spm.GetStringArray("tokenizer.ggml.tokens").size(), 32000u);
  EXPECT_EQ(spm.GetIntArray("tokenizer.ggml.token_type").size(), 32000u);
}

}  // namespace
}  // namespace kvlab::test
