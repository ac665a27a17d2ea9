//===- MpiCommunicator.h - CPU collectives between processes ---*- C++ -*-===//
//
// One rank per process under mpirun (Open MPI, Debian's libopenmpi-dev):
// the same Communicator interface as the in-process group, with the same
// arithmetic. Every reduction is an all-to-all of chunks, each rank summing
// its chunk over the ranks in order 0..N-1 exactly as LocalGroup does, then
// an all-gather: a multi-process run is bit for bit the threaded run.
// Collectives are non-blocking MPI calls polled against the run's timeout,
// so a rank that died or never joined is an error here, not a hang.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_COMM_MPICOMMUNICATOR_H
#define ROSE_RUNTIME_COMM_MPICOMMUNICATOR_H

#include "runtime/Communicator.h"

#include <chrono>
#include <memory>

namespace rose {

/// Initializes MPI once per process (MPI_Init_thread, errors returned, not
/// fatal) and returns this process's communicator over MPI_COMM_WORLD.
/// `expectedSize` is the program's rank count: a world of another size is
/// an error naming both.
StatusOr<std::unique_ptr<Communicator>>
mpiCommunicator(int expectedSize, std::chrono::seconds timeout);

/// MPI_Finalize (or MPI_Abort after a failure, so mpirun stops the others).
void mpiShutdown(bool failed);

} // namespace rose

#endif // ROSE_RUNTIME_COMM_MPICOMMUNICATOR_H
