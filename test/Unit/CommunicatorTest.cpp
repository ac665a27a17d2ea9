//===- CommunicatorTest.cpp - the in-process communicator -----------------===//
#include "runtime/Communicator.h"
#include "runtime/RankThreads.h"

#include <gtest/gtest.h>

#include <vector>

using namespace rose;

namespace {

/// Rank r's input element i: r * 100 + i (every value tells where it came
/// from).
std::vector<float> inputOf(int r, size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(r * 100 + i);
  return v;
}

TEST(LocalCommunicator, AllToAllSendsChunkJToRankJ) {
  for (int ranks : {1, 2, 3}) {
    const size_t n = 4; // elements per chunk
    LocalGroup group(ranks);
    std::vector<std::vector<float>> out(ranks,
                                        std::vector<float>(n * ranks, -1));
    std::vector<int> all;
    for (int r = 0; r < ranks; ++r)
      all.push_back(r);
    Status status = runRankThreads(all, [&](int r) {
      auto comm = group.communicator(r);
      std::vector<float> in = inputOf(r, n * ranks);
      return comm->allToAll(in.data(), n, out[r].data());
    });
    ASSERT_TRUE(status.ok()) << status.message();
    // Rank r's slot k holds rank k's chunk r: k * 100 + r * n + i.
    for (int r = 0; r < ranks; ++r)
      for (int k = 0; k < ranks; ++k)
        for (size_t i = 0; i < n; ++i)
          EXPECT_EQ(out[r][k * n + i], static_cast<float>(k * 100 + r * n + i))
              << "ranks " << ranks << " rank " << r << " slot " << k;
  }
}

TEST(LocalCommunicator, GatherAndReduceScatter) {
  const int ranks = 3;
  const size_t n = 2;
  LocalGroup group(ranks);
  std::vector<std::vector<float>> gathered(ranks), scattered(ranks);
  std::vector<int> all = {0, 1, 2};
  Status status = runRankThreads(all, [&](int r) {
    auto comm = group.communicator(r);
    std::vector<float> in = inputOf(r, n * ranks);
    gathered[r].assign(n * ranks * ranks, -1);
    scattered[r].assign(n, -1);
    if (Status s = comm->allGather(in.data(), n * ranks, gathered[r].data());
        !s.ok())
      return s;
    return comm->reduceScatterSum(in.data(), n, scattered[r].data());
  });
  ASSERT_TRUE(status.ok()) << status.message();
  for (int r = 0; r < ranks; ++r) {
    for (int k = 0; k < ranks; ++k)
      for (size_t i = 0; i < n * ranks; ++i)
        EXPECT_EQ(gathered[r][k * n * ranks + i],
                  static_cast<float>(k * 100 + i));
    // Sum over k of k * 100 + r * n + i = 300 + 3 (r * n + i).
    for (size_t i = 0; i < n; ++i)
      EXPECT_EQ(scattered[r][i], static_cast<float>(300 + 3 * (r * n + i)));
  }
}

TEST(LocalCommunicator, AbortedGroupFailsInsteadOfHanging) {
  LocalGroup group(2);
  group.abort("rank 1 failed");
  auto comm = group.communicator(0);
  std::vector<float> in(4), out(4);
  Status status = comm->allToAll(in.data(), 2, out.data());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("rank 1 failed"), std::string::npos);
}

} // namespace
