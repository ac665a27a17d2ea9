//===- Runner.h - runs a program's ranks as threads -------------*- C++ -*-===//
#ifndef ROSE_RUNTIME_RUNNER_H
#define ROSE_RUNTIME_RUNNER_H

#include "runtime/Executor.h"
#include "runtime/Program.h"
#include "runtime/WeightFiles.h"

#include <functional>
#include <vector>

namespace rose {

struct RunRequest {
  Entry entry;
  std::shared_ptr<WeightFiles> weights;
  std::vector<int64_t> tokens; // [batch, seq], row-major
  int64_t batch = 0, seq = 0;
  int threads = 0; // total CPU threads (0: all cores)
  /// A collective that does not complete in this time fails the run.
  int timeoutSeconds = 300;
  bool trace = false;
  /// After the checked run, time this many more on the same tokens.
  int repeats = 0;
  bool checkpoints = false; // keep the checkpoint values of rank 0
  /// The mean next-token cross entropy (RunResult::loss).
  bool loss = false;
  /// Whole [batch, seq, vocab] logits in RunResult::logits. With
  /// vocab-sharded logits (loss parallel) that is a gather: only for --out
  /// and --check-against.
  bool logits = true;
  std::function<void(size_t, size_t)> loadProgress; // (bytes done, total)
  /// Set when this process is one rank of a multi-process launch (mpirun):
  /// makes the process's communicator; the process runs that rank alone.
  std::function<StatusOr<std::unique_ptr<Communicator>>()> processComm;
};

struct RunResult {
  std::vector<float> logits; // empty when not asked for (sharded logits)
  std::vector<int64_t> shape;
  /// Per sequence, the argmax at its last position.
  std::vector<int64_t> argmax;
  /// With RunRequest::loss: the mean next-token cross entropy.
  double loss = 0.0;
  int64_t predictions = 0;
  /// Loss parallel: bytes each rank sent for loss and argmax, and what
  /// gathering the logits instead would have sent (0 when not sharded).
  size_t lossParallelBytes = 0, gatherBytes = 0;
  std::vector<std::vector<OpEvent>> traces; // per rank
  /// Rank 0's checkpoint values (name, data), in program order.
  std::vector<Checkpoint> checkpoints;
  double loadSeconds = 0, runSeconds = 0;
  /// With RunRequest::repeats: rank 0's milliseconds per repeated run.
  std::vector<double> repeatMs;
};

/// Runs every rank of `request.entry` as a thread of this process with
/// the in-process communicator. Checks the tokens against the vocab first.
StatusOr<RunResult> runOnCpu(const Program &program, const RunRequest &request);

} // namespace rose

#endif // ROSE_RUNTIME_RUNNER_H
