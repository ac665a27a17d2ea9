//===- RankThreads.h - what every backend's runner shares -------*- C++ -*-===//
#ifndef ROSE_RUNTIME_RANKTHREADS_H
#define ROSE_RUNTIME_RANKTHREADS_H

#include "runtime/Program.h"
#include "runtime/WeightFiles.h"

#include <functional>
#include <vector>

namespace rose {

/// Runs body(rank) for each of `ranks` on a thread of its own and waits for
/// all. A failing rank aborts its group, so the others fail too with
/// "...aborted...": the result is the first failure that is not such an
/// echo (the cause), else the first failure.
Status runRankThreads(const std::vector<int> &ranks,
                      const std::function<Status(int rank)> &body);

/// Every id of the [batch, seq] tokens must be inside the vocab.
Status checkTokenIds(const std::vector<int64_t> &tokens, int64_t batch,
                     int64_t seq, int64_t vocab);

/// Checkpoint bytes of the params `entry` loads (for the load progress line).
size_t paramBytes(const Entry &entry, const WeightFiles &weights);

} // namespace rose

#endif // ROSE_RUNTIME_RANKTHREADS_H
