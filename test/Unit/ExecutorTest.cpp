//===- ExecutorTest.cpp - entry points and persistent buffers -------------===//
//
// The programs of TestPrograms.h run by the executor on the CPU backend:
// two entries sharing a param and a persistent buffer, the per-call errors,
// and the validator's buffer rules.
//
//===----------------------------------------------------------------------===//
#include "TestPrograms.h"
#include "runtime/cpu/CpuBackend.h"

#include <gtest/gtest.h>

using namespace rose;
using namespace rose::test;

namespace {

TEST(Executor, BufferOutlivesCallsAndIsSharedByEntries) {
  Builder b;
  std::vector<uint8_t> bytes = b.finish();
  ASSERT_TRUE(Program::validate(bytes.data(), bytes.size(), "t").ok());
  cpu::CpuBackend backend;
  Rig rig(bytes, backend);
  std::vector<int64_t> prompt = {1, 2}, next = {3};
  Status s =
      rig.writer->run(prompt.data(), 1, 2, nullptr, nullptr, {{"past", 0}});
  ASSERT_TRUE(s.ok()) << s.message();
  s = rig.writer->run(next.data(), 1, 1, nullptr, nullptr, {{"past", 2}});
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<float> out = runRead(rig);
  ASSERT_EQ(out.size(), size_t(kCacheRows * kWidth));
  for (int64_t r = 0; r < kCacheRows; ++r)
    for (int64_t j = 0; j < kWidth; ++j)
      EXPECT_EQ(out[r * kWidth + j], expectedCache(r, j)) << "row " << r;
  EXPECT_EQ(rig.buffers.bytes(), size_t(kCacheRows * kWidth * 4));
  // Overwriting a row in place, then a reset, which starts from zeros.
  s = rig.writer->run(next.data(), 1, 1, nullptr, nullptr, {{"past", 0}});
  ASSERT_TRUE(s.ok()) << s.message();
  out = runRead(rig);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0], 30.0f);
  rig.buffers.reset();
  out = runRead(rig);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0], 0.0f);
}

TEST(Executor, CallErrors) {
  Builder b;
  cpu::CpuBackend backend;
  Rig rig(b.finish(), backend);
  std::vector<int64_t> ids = {1, 2};
  Status s = rig.writer->run(ids.data(), 1, 2, nullptr, nullptr, {{"past", 7}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "CacheWrite: writing rows [7, 9) of a cache of 8 rows");
  s = rig.writer->run(ids.data(), 1, 2);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("uses a symbol this call does not bind"),
            std::string::npos)
      << s.message();
  s = rig.writer->run(ids.data(), 1, 2, nullptr, nullptr, {{"nope", 1}});
  EXPECT_EQ(s.message(), "the program has no symbol 'nope'");
  s = rig.writer->run(ids.data(), 1, 2, nullptr, nullptr, {{"seq", 1}});
  EXPECT_EQ(s.message(), "symbol 'seq' is bound by the token ids' shape");
  // The cache was made for batch 1; batch 2 needs another.
  s = rig.writer->run(ids.data(), 1, 2, nullptr, nullptr, {{"past", 0}});
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<int64_t> two = {1, 2};
  s = rig.writer->run(two.data(), 2, 1, nullptr, nullptr, {{"past", 0}});
  EXPECT_EQ(s.message(), "buffer 'cache' holds [1, 8, 4] but this call needs "
                         "[2, 8, 4] (reset the buffers first)");
}

Status validate(Builder &b) {
  std::vector<uint8_t> bytes = b.finish();
  return Program::validate(bytes.data(), bytes.size(), "t.rose");
}

TEST(Executor, ValidatorBufferRules) {
  Builder overwritten;
  overwritten.readOverwritten = true;
  EXPECT_EQ(validate(overwritten).message(),
            "t.rose: read function: op #5 (Reshape): reads an overwritten "
            "version of a persistent buffer");
  Builder other;
  other.otherOpWritesBuffer = true;
  EXPECT_EQ(validate(other).message(),
            "t.rose: read function: op #3 (Reshape): only a cache_write writes "
            "a persistent buffer");
  Builder shape;
  shape.wrongBufferShape = true;
  EXPECT_EQ(validate(shape).message(),
            "t.rose: write function: value 'cache.in' disagrees with the type "
            "or shape of buffer 'cache'");
  Builder old;
  old.version = 2;
  EXPECT_TRUE(validate(old).ok());
  Builder future;
  future.version = kProgramVersion + 1;
  EXPECT_EQ(validate(future).message(),
            "t.rose: program format version 4, this runtime reads versions 2 "
            "to 3 (recompile the model with this rose-compile)");
}

} // namespace
