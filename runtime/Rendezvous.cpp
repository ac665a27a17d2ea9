//===- Rendezvous.cpp - multi-process launch: ranks and a TCP id exchange -===//
#include "runtime/Rendezvous.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace rose;
using Clock = std::chrono::steady_clock;

static bool parseInt(const char *text, int &out) {
  if (!text || !*text)
    return false;
  char *end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (errno || *end || v < 0 || v > 1 << 30)
    return false;
  out = static_cast<int>(v);
  return true;
}

StatusOr<std::optional<ProcessGroupEnv>> rose::processGroupFromEnv(
    const std::function<const char *(const char *)> &getenvFn) {
  auto get = [&](const char *name) -> const char * {
    return getenvFn ? getenvFn(name) : std::getenv(name);
  };
  struct Scheme {
    const char *rank, *size, *local;
  };
  const Scheme schemes[] = {
      {"RANK", "WORLD_SIZE", "LOCAL_RANK"},
      {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
       "OMPI_COMM_WORLD_LOCAL_RANK"},
      {"PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"},
  };
  for (const Scheme &s : schemes) {
    if (!get(s.rank) && !get(s.size))
      continue;
    ProcessGroupEnv env;
    env.source = std::string(s.rank) + "/" + s.size;
    if (!parseInt(get(s.rank), env.rank))
      return Status::error(s.rank, "='", get(s.rank) ? get(s.rank) : "",
                           "' is not a rank");
    if (!parseInt(get(s.size), env.size) || env.size < 1)
      return Status::error(s.size, "='", get(s.size) ? get(s.size) : "",
                           "' is not a positive size");
    if (env.rank >= env.size)
      return Status::error(s.rank, "=", env.rank, " is not below ", s.size, "=",
                           env.size);
    env.localRank = env.rank;
    if (get(s.local) && !parseInt(get(s.local), env.localRank))
      return Status::error(s.local, "='", get(s.local), "' is not a rank");
    if (const char *addr = get("MASTER_ADDR"); addr && *addr)
      env.host = addr;
    if (const char *port = get("MASTER_PORT"))
      if (!parseInt(port, env.port) || env.port < 1 || env.port > 65535)
        return Status::error("MASTER_PORT='", port, "' is not a TCP port");
    return std::optional<ProcessGroupEnv>(env);
  }
  return std::optional<ProcessGroupEnv>();
}

namespace {

/// Closes the socket on scope exit.
struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0)
      close(fd);
  }
};

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - Clock::now())
                  .count();
  return left > 0 ? static_cast<int>(left) : 0;
}

/// Waits until `fd` is ready for `events` or the deadline passes.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, remainingMs(deadline));
    if (n > 0)
      return true;
    if (n == 0 || errno != EINTR)
      return false;
  }
}

bool sendAll(int fd, const char *data, size_t n, Clock::time_point deadline) {
  while (n) {
    if (!waitFor(fd, POLLOUT, deadline))
      return false;
    ssize_t k = send(fd, data, n, MSG_NOSIGNAL);
    if (k <= 0 && errno != EINTR)
      return false;
    if (k > 0) {
      data += k;
      n -= k;
    }
  }
  return true;
}

bool recvAll(int fd, char *data, size_t n, Clock::time_point deadline) {
  while (n) {
    if (!waitFor(fd, POLLIN, deadline))
      return false;
    ssize_t k = recv(fd, data, n, 0);
    if (k == 0 || (k < 0 && errno != EINTR))
      return false;
    if (k > 0) {
      data += k;
      n -= k;
    }
  }
  return true;
}

// Peers check the magic so a stray service on the port is not mistaken for
// rank 0.
constexpr char kMagic[8] = {'r', 'o', 's', 'e', 'i', 'd', '0', '1'};

} // namespace

StatusOr<std::string>
rose::exchangeBlob(const ProcessGroupEnv &group, const std::string &payload,
                   std::chrono::milliseconds timeout,
                   const std::function<void(int port)> &onListening) {
  if (group.size == 1)
    return payload;
  Clock::time_point deadline = Clock::now() + timeout;
  std::string where = group.host + ":" + std::to_string(group.port);
  addrinfo hints{}, *found = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (group.rank == 0)
    hints.ai_flags = AI_PASSIVE;
  int rc = getaddrinfo(group.rank == 0 ? nullptr : group.host.c_str(),
                       std::to_string(group.port).c_str(), &hints, &found);
  if (rc != 0)
    return Status::error("rendezvous ", where, ": ", gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo *)> info(found, freeaddrinfo);

  if (group.rank == 0) {
    Socket listener;
    listener.fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (listener.fd < 0 ||
        bind(listener.fd, info->ai_addr, info->ai_addrlen) != 0 ||
        listen(listener.fd, group.size) != 0)
      return Status::error("rendezvous: rank 0 cannot listen on port ",
                           group.port, ": ", std::strerror(errno),
                           " (set MASTER_PORT to a free port)");
    if (onListening) {
      sockaddr_in bound{};
      socklen_t length = sizeof(bound);
      if (getsockname(listener.fd, reinterpret_cast<sockaddr *>(&bound),
                      &length) != 0)
        return Status::error("rendezvous: getsockname: ", std::strerror(errno));
      onListening(ntohs(bound.sin_port));
    }
    uint32_t length = htonl(static_cast<uint32_t>(payload.size()));
    for (int served = 1; served < group.size; ++served) {
      if (!waitFor(listener.fd, POLLIN, deadline))
        return Status::error(
            "rendezvous ", where, ": only ", served - 1, " of ", group.size - 1,
            " other ranks connected within ", timeout.count() / 1000, " s");
      Socket peer;
      peer.fd = accept(listener.fd, nullptr, nullptr);
      if (peer.fd < 0)
        return Status::error("rendezvous: accept failed: ",
                             std::strerror(errno));
      if (!sendAll(peer.fd, kMagic, sizeof(kMagic), deadline) ||
          !sendAll(peer.fd, reinterpret_cast<const char *>(&length), 4,
                   deadline) ||
          !sendAll(peer.fd, payload.data(), payload.size(), deadline))
        return Status::error("rendezvous: sending the id to a peer failed");
    }
    return payload;
  }

  // Other ranks: rank 0 may not listen yet, so retry until the deadline.
  for (;;) {
    Socket s;
    s.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s.fd < 0)
      return Status::error("rendezvous: socket: ", std::strerror(errno));
    if (connect(s.fd, info->ai_addr, info->ai_addrlen) == 0) {
      char magic[sizeof(kMagic)];
      uint32_t length = 0;
      if (!recvAll(s.fd, magic, sizeof(magic), deadline) ||
          std::memcmp(magic, kMagic, sizeof(kMagic)) != 0 ||
          !recvAll(s.fd, reinterpret_cast<char *>(&length), 4, deadline))
        return Status::error("rendezvous ", where,
                             ": the peer is not rose-run rank 0");
      length = ntohl(length);
      if (length > (1u << 20))
        return Status::error("rendezvous ", where, ": id of ", length,
                             " bytes is too large");
      std::string blob(length, '\0');
      if (!recvAll(s.fd, blob.data(), length, deadline))
        return Status::error("rendezvous ", where,
                             ": connection closed before the id arrived");
      return blob;
    }
    if (remainingMs(deadline) == 0)
      return Status::error(
          "rendezvous: rank ", group.rank, " could not reach rank 0 at ", where,
          " within ", timeout.count() / 1000, " s: ", std::strerror(errno));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}
