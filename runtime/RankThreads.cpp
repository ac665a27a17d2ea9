//===- RankThreads.cpp - what every backend's runner shares ---------------===//
#include "runtime/RankThreads.h"

#include <thread>

using namespace rose;

Status rose::runRankThreads(const std::vector<int> &ranks,
                            const std::function<Status(int)> &body) {
  std::vector<Status> statuses(ranks.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ranks.size(); ++i)
    threads.emplace_back([&, i] { statuses[i] = body(ranks[i]); });
  for (std::thread &t : threads)
    t.join();
  for (const Status &s : statuses)
    if (!s.ok() && s.message().find("aborted") == std::string::npos)
      return s;
  for (const Status &s : statuses)
    if (!s.ok())
      return s;
  return Status::success();
}

StatusOr<int64_t> rose::localBatchOf(const Entry &entry, int64_t batch) {
  int32_t batchAxis = entry.fn->batch_axis();
  int64_t parts = batchAxis >= 0 ? entry.axisSize(batchAxis) : 1;
  if (batch % parts != 0)
    return Status::error("batch ", batch, " is not divisible by mesh axis '",
                         entry.program->mesh()->Get(batchAxis)->name()->str(),
                         "' (", parts,
                         " ranks): each gets an equal share of the sequences");
  return batch / parts;
}

Status rose::checkTokenIds(const std::vector<int64_t> &tokens, int64_t batch,
                           int64_t seq, int64_t vocab) {
  for (int64_t i = 0; i < batch * seq; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return Status::error("token id ", tokens[i], " at [", i / seq, ", ",
                           i % seq, "] is out of range for vocab ", vocab);
  return Status::success();
}

size_t rose::paramBytes(const Entry &entry, const WeightFiles &weights) {
  size_t total = 0;
  std::vector<bool> used = entry.usedParams();
  for (size_t i = 0; i < used.size(); ++i)
    if (used[i])
      if (WeightFiles::Tensor t = weights.find(entry.param(i)->name()->str()))
        total += t.entry->end - t.entry->begin;
  return total;
}
