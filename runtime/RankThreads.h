//===- RankThreads.h - what every backend's runner shares -------*- C++ -*-===//
#ifndef ROSE_RUNTIME_RANKTHREADS_H
#define ROSE_RUNTIME_RANKTHREADS_H

#include "runtime/Communicator.h"
#include "runtime/Program.h"
#include "runtime/WeightFiles.h"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace rose {

/// Runs body(rank) for each of `ranks` on a thread of its own and waits for
/// all. A failing rank aborts its group, so the others fail too with
/// "...aborted...": the result is the first failure that is not such an
/// echo (the cause), else the first failure.
Status runRankThreads(const std::vector<int> &ranks,
                      const std::function<Status(int rank)> &body);

/// The ranks this process runs as threads: all `ranks`, or with a process
/// communicator (mpirun) its own rank alone.
inline std::vector<int> ranksOfProcess(int ranks, const Communicator *process) {
  std::vector<int> mine;
  for (int r = 0; r < ranks; ++r)
    if (!process || r == process->rank())
      mine.push_back(r);
  return mine;
}

/// Every id of the [batch, seq] tokens must be inside the vocab.
Status checkTokenIds(const std::vector<int64_t> &tokens, int64_t batch,
                     int64_t seq, int64_t vocab);

/// Checkpoint bytes of the params `entry` loads (for the load progress line).
size_t paramBytes(const Entry &entry, const WeightFiles &weights);

/// The slice of mesh axis `a` rank `r` belongs to (the ranks that differ
/// only in that axis's coordinate share it): its rank with that coordinate
/// zeroed.
inline int meshSliceOf(const Entry &entry, int r, int a) {
  int64_t stride = 1;
  for (int b = static_cast<int>(entry.program->mesh()->size()) - 1; b > a; --b)
    stride *= entry.axisSize(b);
  return r - static_cast<int>(entry.coord(r, a) * stride);
}

/// The sequences each rank of `entry` runs of a batch of `batch`: all of
/// them, or with a batch axis (dp) an equal share per coordinate (an error
/// when the axis does not divide the batch).
StatusOr<int64_t> localBatchOf(const Entry &entry, int64_t batch);

/// The first batch row rank `r` runs, of `localBatch` rows per rank.
inline int64_t firstRowOf(const Entry &entry, int r, int64_t localBatch) {
  int32_t batchAxis = entry.fn->batch_axis();
  return batchAxis >= 0 ? entry.coord(r, batchAxis) * localBatch : 0;
}

/// Whether rank `r` reports its rows of the output: its coordinates on
/// every axis but the batch axis are 0.
inline bool reportsRows(const Entry &entry, int r) {
  int32_t batchAxis = entry.fn->batch_axis();
  for (int32_t a = 0; a < static_cast<int32_t>(entry.program->mesh()->size());
       ++a)
    if (a != batchAxis && entry.coord(r, a) != 0)
      return false;
  return true;
}

/// The per-axis groups of a mesh: for every axis, one group per slice (the
/// ranks that differ only in that axis's coordinate). Threads of this
/// process share LocalGroups; a process of an mpirun launch splits its world
/// communicator.
class MeshGroups {
public:
  MeshGroups(const Entry &entry, std::chrono::seconds timeout)
      : entry(entry), world(static_cast<int>(entry.ranks()), timeout) {
    int axes = static_cast<int>(entry.program->mesh()->size());
    local.resize(axes);
    for (int a = 0; a < axes; ++a)
      for (int r = 0; r < entry.ranks(); ++r)
        if (!local[a].count(meshSliceOf(entry, r, a)))
          local[a][meshSliceOf(entry, r, a)] = std::make_unique<LocalGroup>(
              static_cast<int>(entry.axisSize(a)), timeout);
  }

  /// Rank `r`'s communicator on every axis, owned by `owned`.
  StatusOr<std::vector<Communicator *>>
  communicators(int r, Communicator *process,
                std::vector<std::unique_ptr<Communicator>> &owned) {
    std::vector<Communicator *> out;
    for (size_t a = 0; a < local.size(); ++a) {
      if (process && entry.axisSize(a) == process->size()) {
        out.push_back(process); // a 1-D launch: the world is the axis
        continue;
      }
      StatusOr<std::unique_ptr<Communicator>> made =
          process ? process->split(meshSliceOf(entry, r, a), entry.coord(r, a))
                  : StatusOr<std::unique_ptr<Communicator>>(
                        local[a][meshSliceOf(entry, r, a)]->communicator(
                            entry.coord(r, a)));
      if (!made)
        return made.status();
      owned.push_back(made.take());
      out.push_back(owned.back().get());
    }
    return out;
  }

  /// Wakes every rank of every group: one failed rank stops them all.
  void abort(const std::string &why) {
    world.abort(why);
    for (auto &groups : local)
      for (auto &[slice, group] : groups)
        group->abort(why);
  }

  const Entry &entry;
  LocalGroup world; // barriers between the threads of this process
  std::vector<std::map<int, std::unique_ptr<LocalGroup>>> local;
};

} // namespace rose

#endif // ROSE_RUNTIME_RANKTHREADS_H
