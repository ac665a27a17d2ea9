//===- RendezvousTest.cpp - multi-process launch env and id exchange ------===//
#include "runtime/Rendezvous.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <future>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
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

/// A TCP port that is bound (so no other process can take it) but not
/// listening: connecting to it is refused at once. Closed on destruction.
struct RefusingPort {
  int fd = -1, port = 0;
  RefusingPort() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(addr);
    if (fd >= 0 &&
        bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &length) == 0)
      port = ntohs(addr.sin_port);
  }
  ~RefusingPort() {
    if (fd >= 0)
      close(fd);
  }
};

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
  // Rank 0 binds a port the kernel picks (port 0) and hands it to the peers.
  std::promise<int> bound;
  std::shared_future<int> port = bound.get_future().share();
  std::vector<std::thread> ranks;
  for (int r = 0; r < size; ++r)
    ranks.emplace_back([&, r] {
      ProcessGroupEnv g;
      g.rank = r;
      g.size = size;
      if (r == 0) {
        g.port = 0;
        got[r] = exchangeBlob(g, id, std::chrono::seconds(20),
                              [&](int p) { bound.set_value(p); });
        return;
      }
      g.port = port.get();
      got[r] = exchangeBlob(g, "", std::chrono::seconds(20));
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
  g.port = 0;
  auto start = std::chrono::steady_clock::now();
  int listened = 0;
  auto got = exchangeBlob(g, "id", std::chrono::milliseconds(300),
                          [&](int p) { listened = p; });
  EXPECT_GT(listened, 0);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("other ranks connected"),
            std::string::npos)
      << got.status().message();
  // Generous: this guards against a hang, not a speed.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

TEST(Rendezvous, MissingRankZeroTimesOut) {
  RefusingPort nobody;
  ASSERT_GT(nobody.port, 0);
  ProcessGroupEnv g;
  g.rank = 1;
  g.size = 2;
  g.port = nobody.port;
  auto got = exchangeBlob(g, "", std::chrono::milliseconds(300));
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("could not reach rank 0"),
            std::string::npos)
      << got.status().message();
}
