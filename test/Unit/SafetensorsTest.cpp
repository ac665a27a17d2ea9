//===- SafetensorsTest.cpp - safetensors reader/writer tests
//---------------===//
#include "runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace rose;

namespace {

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "rose_st_" + std::to_string(::getpid()) + "_" +
         name;
}

/// Writes a file with the given header text and `dataBytes` zero bytes.
std::string writeRaw(const std::string &name, const std::string &header,
                     size_t dataBytes, uint64_t lengthField = UINT64_MAX) {
  std::string path = tempPath(name);
  std::ofstream out(path, std::ios::binary);
  uint64_t n = lengthField == UINT64_MAX ? header.size() : lengthField;
  for (int i = 0; i < 8; ++i)
    out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << std::string(dataBytes, '\0');
  return path;
}

std::string openError(const std::string &path) {
  auto file = SafetensorsFile::open(path);
  EXPECT_FALSE(file.ok());
  return file.ok() ? "" : file.status().message();
}

TEST(Safetensors, RoundTrip) {
  std::vector<float> a = {1.5f, -2.0f, 3.25f, 4.0f, 5.0f, 6.0f};
  std::vector<int64_t> b = {7, 8, 9};
  std::string path = tempPath("roundtrip.safetensors");
  ASSERT_TRUE(writeSafetensors(path, {{"a", DType::F32, {2, 3}, a.data()},
                                      {"b.ids", DType::I64, {3}, b.data()}})
                  .ok());
  auto file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const TensorEntry *ea = (*file)->find("a");
  ASSERT_NE(ea, nullptr);
  EXPECT_EQ(ea->dtype, DType::F32);
  EXPECT_EQ(ea->shape, (std::vector<int64_t>{2, 3}));
  const float *pa = reinterpret_cast<const float *>((*file)->data(*ea));
  EXPECT_EQ(std::vector<float>(pa, pa + 6), a);
  const TensorEntry *eb = (*file)->find("b.ids");
  ASSERT_NE(eb, nullptr);
  const int64_t *pb = reinterpret_cast<const int64_t *>((*file)->data(*eb));
  EXPECT_EQ(std::vector<int64_t>(pb, pb + 3), b);
  EXPECT_EQ((*file)->find("c"), nullptr);
  std::remove(path.c_str());
}

TEST(Safetensors, MissingFile) {
  EXPECT_NE(openError(tempPath("nope")).find("cannot open"), std::string::npos);
}

TEST(Safetensors, Truncated) {
  std::string path = tempPath("trunc");
  std::ofstream(path) << "abc";
  EXPECT_NE(openError(path).find("truncated safetensors file (3 bytes"),
            std::string::npos);
}

TEST(Safetensors, HeaderLengthBeyondFile) {
  std::string path = writeRaw("len", "{}", 0, 1000);
  EXPECT_NE(openError(path).find("header length 1000 exceeds the file size 10"),
            std::string::npos);
}

TEST(Safetensors, HeaderNotJson) {
  std::string path = writeRaw("json", "{not json", 0);
  EXPECT_NE(openError(path).find("header is not a JSON object"),
            std::string::npos);
}

TEST(Safetensors, OffsetsOutOfBounds) {
  std::string path = writeRaw(
      "oob", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  EXPECT_NE(openError(path).find(
                "tensor 'w': data_offsets [0, 16) out of bounds of the 8-byte"),
            std::string::npos);
}

TEST(Safetensors, ShapeDisagreesWithBytes) {
  std::string path = writeRaw(
      "shape", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})",
      16);
  EXPECT_NE(openError(path).find("shape holds 3 F32 elements but data_offsets "
                                 "span 16 bytes"),
            std::string::npos);
}

TEST(Safetensors, Overlap) {
  std::string path =
      writeRaw("overlap",
               R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
               12);
  EXPECT_NE(openError(path).find("tensors 'a' and 'b' overlap"),
            std::string::npos);
}

TEST(Safetensors, BadDType) {
  std::string path = writeRaw(
      "dtype", R"({"w":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2);
  EXPECT_NE(openError(path).find("unsupported dtype 'F8'"), std::string::npos);
}

TEST(Safetensors, WrongFieldTypes) {
  std::string path = writeRaw(
      "types", R"({"w":{"dtype":"F32","shape":"x","data_offsets":[0,4]}})", 4);
  EXPECT_NE(openError(path).find("missing or non-array 'shape'"),
            std::string::npos);
}

TEST(Safetensors, UnwritableOutputLeavesNothing) {
  std::vector<float> a = {1.0f};
  Status status = writeSafetensors("/nonexistent-dir/x.safetensors",
                                   {{"a", DType::F32, {1}, a.data()}});
  EXPECT_FALSE(status.ok());
  EXPECT_NE(
      status.message().find("/nonexistent-dir/x.safetensors: cannot write"),
      std::string::npos);
}

} // namespace
