//===- Rendezvous.h - multi-process launch: ranks and a TCP id exchange ---===//
//
// When rose-run is started once per rank (mpirun, torchrun-style RANK /
// WORLD_SIZE variables), the processes must agree on an NCCL unique id before
// NCCL can connect them. Rank 0 creates it and serves it over TCP at
// MASTER_ADDR:MASTER_PORT; the others fetch it. Plain sockets, so this needs
// neither MPI nor CUDA and is unit-tested on any machine.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_RENDEZVOUS_H
#define ROSE_RUNTIME_RENDEZVOUS_H

#include "runtime/Status.h"

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace rose {

/// This process's place in a multi-process launch.
struct ProcessGroupEnv {
  int rank = 0, size = 1;
  int localRank = 0; // picks the GPU on a multi-GPU node
  std::string host = "127.0.0.1";
  int port = 29500;
  std::string source; // which variables said so ("RANK/WORLD_SIZE")
};

/// Reads RANK/WORLD_SIZE/LOCAL_RANK (torchrun style), else
/// OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK (Open MPI's mpirun), else
/// PMI_RANK/PMI_SIZE (MPICH/Hydra); MASTER_ADDR and MASTER_PORT give the
/// rendezvous point. nullopt when none is set (a single-process run); an
/// error when they are malformed. `getenv` is injectable for tests.
StatusOr<std::optional<ProcessGroupEnv>> processGroupFromEnv(
    const std::function<const char *(const char *)> &getenv = nullptr);

/// Rank 0 serves `payload` to the other `size - 1` ranks, which connect to
/// host:port (retrying until it listens) and return it; rank 0 returns its
/// own payload. Fails, never hangs, when a peer does not show up within
/// `timeout`. On rank 0, port 0 binds a free port chosen by the kernel and
/// `onListening` (if set) receives the port actually bound, before any peer
/// is served: tests pass it on to the peers instead of guessing a free port.
StatusOr<std::string>
exchangeBlob(const ProcessGroupEnv &group, const std::string &payload,
             std::chrono::milliseconds timeout,
             const std::function<void(int port)> &onListening = nullptr);

} // namespace rose

#endif // ROSE_RUNTIME_RENDEZVOUS_H
