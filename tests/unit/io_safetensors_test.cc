// Safetensors reader/writer: round trip, every dtype, sharded checkpoints and corrupt headers.
#include <gtest/gtest.h>

#include "io_test_writers.h"
#include "kvlab/io/safetensors.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

namespace fs = std::filesystem;

// A file with the given raw header JSON and `data_bytes` zero bytes of data.
fs::path RawSafetensors(const std::string& tag, const std::string& header, size_t data_bytes) {
  Bytes b;
  Put(b, static_cast<uint64_t>(header.size()));
  PutBytes(b, header.data(), header.size());
  b.resize(b.size() + data_bytes, 0);
  auto path = TempDir(tag) / "model.safetensors";
  WriteFile(path, b);
  return path;
}

TEST(SafetensorsTest, WriteThenReadEveryDType) {
  const auto path = TempDir("st-rt") / "t.safetensors";
  const std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -1.0f};
  std::vector<uint16_t> f16, bf16;
  for (float v : f32) {
    f16.push_back(F32ToF16(v));
    bf16.push_back(F32ToBf16(v));
  }
  WriteSafetensors(path,
                   {SafetensorsBytes("a.f32", DType::kF32, {2, 3}, f32.data()),
                    SafetensorsBytes("b.f16", DType::kF16, {6}, f16.data()),
                    SafetensorsBytes("c.bf16", DType::kBF16, {3, 2}, bf16.data())},
                   {{"format", "pt"}});
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  const SafetensorsFile f = SafetensorsFile::Open(path);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.tensors().size(), 3u);
  const SafetensorsTensor* a = f.Find("a.f32");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->nbytes, 24u);
  for (const char* name : {"a.f32", "b.f16", "c.bf16"}) {
    const SafetensorsTensor* t = f.Find(name);
    std::vector<float> back(6);
    ConvertToF32(t->dtype, t->data, 6, back.data());
    EXPECT_EQ(back, f32) << name;
  }
  EXPECT_EQ(f.Find("b.f16")->dtype, DType::kF16);
  EXPECT_EQ(f.Find("c.bf16")->dtype, DType::kBF16);
  EXPECT_EQ(f.Find("nope"), nullptr);
  // The data section starts 8-byte aligned (header padded), so f32 tensors can be viewed in place.
  EXPECT_EQ((a->data - f.file()->data()) % 8, 0);
}

TEST(SafetensorsTest, FailedWriteLeavesNothing) {
  const auto dir = TempDir("st-fail");
  const auto path = dir / "t.safetensors";
  auto spec = SafetensorsBytes("x", DType::kF32, {1}, nullptr);
  spec.fill = [](std::span<uint8_t>) { throw Error("fill", "boom"); };
  ExpectError([&] { WriteSafetensors(path, {spec}); }, {"boom"});
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  ExpectError([&] { WriteSafetensors(dir / "no/such/dir/t.safetensors", {}); }, {"cannot create"});
}

TEST(SafetensorsTest, RejectsTinyFilesAndBadHeaderLengths) {
  const auto dir = TempDir("st-len");
  WriteFile(dir / "tiny.safetensors", Bytes{1, 2, 3});
  ExpectError([&] { SafetensorsFile::Open(dir / "tiny.safetensors"); }, {"tiny.safetensors", "too small"});
  Bytes b;
  Put(b, uint64_t{1000});
  PutBytes(b, "{}", 2);
  WriteFile(dir / "long.safetensors", b);
  ExpectError([&] { SafetensorsFile::Open(dir / "long.safetensors"); },
              {"long.safetensors", "header length 1000 exceeds the file size"});
  Bytes huge;
  Put(huge, ~uint64_t{0});
  WriteFile(dir / "huge.safetensors", huge);
  ExpectError([&] { SafetensorsFile::Open(dir / "huge.safetensors"); },
              {"huge.safetensors", "header length"});
}

TEST(SafetensorsTest, RejectsMalformedHeaders) {
  struct Case {
    std::string header;
    size_t data;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"{\"a\": ", 0, "malformed safetensors header JSON"},
      {"[1, 2]", 0, "header is not a JSON object"},
      {R"({"w": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}})", 16,
       "tensor w has unsupported dtype F64"},
      {R"({"w": {"dtype": "I8", "shape": [2], "data_offsets": [0, 2]}})", 2,
       "tensor w has unsupported dtype I8"},
      {R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8,
       "lie outside the 8-byte data section"},
      {R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 4]}})", 16, "lie outside"},
      {R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}})", 16,
       "16 bytes of data, but dtype F32 and its shape need 12"},
      {R"({"w": {"dtype": "F32", "shape": [-3], "data_offsets": [0, 12]}})", 16,
       "shape entry -3 is not a valid dimension"},
      {R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 12]}})",
       16, "too large"},
      {R"({"w": {"dtype": "F32", "shape": [4]}})", 16, "needs dtype, shape and data_offsets"},
      {R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0]}})", 16,
       "data_offsets must be [begin, end]"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
       16, "tensors a and b overlap"},
      {R"({"__metadata__": {"k": 1}})", 0, "__metadata__ value of k is not a string"},
  };
  for (const Case& c : cases) {
    const auto path = RawSafetensors("st-bad", c.header, c.data);
    ExpectError([&] { SafetensorsFile::Open(path); }, {path.string(), c.expected});
  }
}

void WriteShard(const fs::path& path, const std::string& name, float value) {
  const std::vector<float> v = {value, value};
  WriteSafetensors(path, {SafetensorsBytes(name, DType::kF32, {2}, v.data())});
}

TEST(SafetensorsTest, ShardedCheckpoint) {
  const auto dir = TempDir("st-shard");
  WriteShard(dir / "model-00001-of-00002.safetensors", "a", 1.0f);
  WriteShard(dir / "model-00002-of-00002.safetensors", "b", 2.0f);
  WriteFile(dir / "model.safetensors.index.json",
            std::string(R"({"metadata": {"total_size": 16}, "weight_map": {
              "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})"));
  const SafetensorsCheckpoint c = SafetensorsCheckpoint::OpenDirectory(dir);
  EXPECT_EQ(c.shards().size(), 2u);
  EXPECT_EQ(static_cast<const float*>(static_cast<const void*>(c.Find("b")->data))[0], 2.0f);
  EXPECT_NE(c.Find("b")->file.find("00002"), std::string::npos);
  EXPECT_EQ(c.Find("c"), nullptr);
  EXPECT_EQ(c.MappedFiles().size(), 2u);
}

TEST(SafetensorsTest, ShardedCheckpointErrors) {
  const auto dir = TempDir("st-shard-bad");
  WriteShard(dir / "s1.safetensors", "a", 1.0f);
  const auto index = dir / "model.safetensors.index.json";
  WriteFile(index, std::string(R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})"));
  ExpectError([&] { SafetensorsCheckpoint::OpenDirectory(dir); }, {"s2.safetensors", "cannot open"});
  WriteFile(index, std::string(R"({"weight_map": {"a": "s1.safetensors", "z": "s1.safetensors"}})"));
  ExpectError([&] { SafetensorsCheckpoint::OpenDirectory(dir); },
              {"s1.safetensors", "tensor z listed in", "is missing"});
  WriteFile(index, std::string(R"({"weight_map": {"a": "../s1.safetensors"}})"));
  ExpectError([&] { SafetensorsCheckpoint::OpenDirectory(dir); }, {index.string(), "invalid shard file"});
  WriteFile(index, std::string(R"({"weight_map": )"));
  ExpectError([&] { SafetensorsCheckpoint::OpenDirectory(dir); }, {index.string(), "malformed JSON"});
  WriteFile(index, std::string(R"({"metadata": {}})"));
  ExpectError([&] { SafetensorsCheckpoint::OpenDirectory(dir); }, {index.string(), "missing weight_map"});
  const auto empty = TempDir("st-empty");
  ExpectError([&] { SafetensorsCheckpoint::OpenDirectory(empty); }, {empty.string(), "no model.safetensors"});
}

TEST(SafetensorsTest, MetadataAliasResolvesTiedTensor) {
  const auto dir = TempDir("st-alias");
  const std::vector<float> v = {3.0f};
  WriteSafetensors(dir / "model.safetensors",
                   {SafetensorsBytes("lm_head.weight", DType::kF32, {1}, v.data())},
                   {{"format", "pt"}, {"model.embed_tokens.weight", "lm_head.weight"}});
  const SafetensorsCheckpoint c = SafetensorsCheckpoint::OpenDirectory(dir);
  ASSERT_NE(c.Find("model.embed_tokens.weight"), nullptr);
  EXPECT_EQ(c.Find("model.embed_tokens.weight"), c.Find("lm_head.weight"));
  EXPECT_EQ(c.Find("format"), nullptr);  // metadata values that are not tensor names resolve to nothing
}

}  // namespace
}  // namespace kvlab::test
