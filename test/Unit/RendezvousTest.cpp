//===- RendezvousTest.cpp - multi-process launch env and id exchange ------===//
#include "runtime/Rendezvous.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>
#include <unistd.h>

using namespace rose;

namespace {

/// A fake environment for processGroupFromEnv.
struct Env {
  std::map<std::string, std::string> vars;
  std::function<const char *(const char *)> fn() {
    return [this](const char *name) -> const char * {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

StatusOr<std::optional<ProcessGroupEnv>> parse(Env env) {
  return processGroupFromEnv(env.fn());
}

// A port per test process so parallel ctest runs do not collide.
int testPort(int offset) { return 20000 + (getpid() * 7 + offset) % 20000; }

} // namespace

TEST(ProcessGroupEnv, NoneSetIsSingleProcess) {
  auto g = parse({});
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->has_value());
}

TEST(ProcessGroupEnv, TorchrunVariables) {
  auto g = parse({{{"RANK", "3"},
                   {"WORLD_SIZE", "4"},
                   {"LOCAL_RANK", "1"},
                   {"MASTER_ADDR", "10.0.0.2"},
                   {"MASTER_PORT", "1234"}}});
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(g->has_value());
  EXPECT_EQ((*g)->rank, 3);
  EXPECT_EQ((*g)->size, 4);
  EXPECT_EQ((*g)->localRank, 1);
  EXPECT_EQ((*g)->host, "10.0.0.2");
  EXPECT_EQ((*g)->port, 1234);
}

TEST(ProcessGroupEnv, OpenMpiVariablesAndDefaults) {
  auto g = parse({{{"OMPI_COMM_WORLD_RANK", "1"},
                   {"OMPI_COMM_WORLD_SIZE", "2"},
                   {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}}});
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(g->has_value());
  EXPECT_EQ((*g)->rank, 1);
  EXPECT_EQ((*g)->size, 2);
  EXPECT_EQ((*g)->host, "127.0.0.1");
  EXPECT_EQ((*g)->port, 29500);
  EXPECT_EQ((*g)->source, "OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE");
}

TEST(ProcessGroupEnv, MalformedValuesAreErrors) {
  auto bad = [](Env env, const std::string &needle) {
    auto g = parse(env);
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find(needle), std::string::npos)
        << g.status().message();
  };
  bad({{{"RANK", "x"}, {"WORLD_SIZE", "2"}}}, "RANK='x'");
  bad({{{"RANK", "2"}, {"WORLD_SIZE", "2"}}}, "is not below WORLD_SIZE");
  bad({{{"RANK", "0"}, {"WORLD_SIZE", "0"}}}, "WORLD_SIZE='0'");
  bad({{{"RANK", "0"}}}, "WORLD_SIZE=''");
  bad({{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}},
      "MASTER_PORT='70000'");
}

TEST(Rendezvous, RankZeroServesEveryPeer) {
  const int size = 4;
  const std::string id(128, '\x5a');
  std::vector<StatusOr<std::string>> got(size, Status::error("not run"));
  std::vector<std::thread> ranks;
  for (int r = 0; r < size; ++r)
    ranks.emplace_back([&, r] {
      ProcessGroupEnv g;
      g.rank = r;
      g.size = size;
      g.port = testPort(1);
      // Peers start first and must retry until rank 0 listens.
      if (r == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      got[r] = exchangeBlob(g, r == 0 ? id : "", std::chrono::seconds(20));
    });
  for (auto &t : ranks)
    t.join();
  for (int r = 0; r < size; ++r) {
    ASSERT_TRUE(got[r].ok()) << r << ": " << got[r].status().message();
    EXPECT_EQ(*got[r], id);
  }
}

TEST(Rendezvous, MissingPeerTimesOutInsteadOfHanging) {
  ProcessGroupEnv g;
  g.rank = 0;
  g.size = 2;
  g.port = testPort(2);
  auto start = std::chrono::steady_clock::now();
  auto got = exchangeBlob(g, "id", std::chrono::milliseconds(300));
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("other ranks connected"),
            std::string::npos)
      << got.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(Rendezvous, MissingRankZeroTimesOut) {
  ProcessGroupEnv g;
  g.rank = 1;
  g.size = 2;
  g.port = testPort(3);
  auto got = exchangeBlob(g, "", std::chrono::milliseconds(300));
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("could not reach rank 0"),
            std::string::npos)
      << got.status().message();
}
