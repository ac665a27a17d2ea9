//===- VocabParallel.cpp - loss and argmax from vocab-sharded logits ------===//
#include "runtime/VocabParallel.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace rose;

StatusOr<ShardedLogitStats>
rose::shardedLogitStats(const float *logits, int64_t batch, int64_t seq,
                        int64_t columns, int64_t vocab,
                        const std::vector<int64_t> &tokens, bool loss,
                        Communicator &comm) {
  const int size = comm.size();
  const int64_t base = comm.rank() * columns;
  const int64_t valid = std::clamp<int64_t>(vocab - base, 0, columns);
  const float lowest = -std::numeric_limits<float>::infinity();
  ShardedLogitStats stats;
  auto row = [&](int64_t b, int64_t s) {
    return logits + (b * seq + s) * columns;
  };

  // Argmax at each sequence's last position: (best, index) per rank, then
  // the first rank holding the maximum wins (the lowest index, as a whole
  // row's argmax would pick). Indices travel as floats: exact below 2^24.
  std::vector<float> mine(2 * batch), all(2 * batch * size);
  for (int64_t b = 0; b < batch; ++b) {
    const float *r = row(b, seq - 1);
    int64_t best = -1;
    for (int64_t c = 0; c < valid; ++c)
      if (best < 0 || r[c] > r[best])
        best = c;
    mine[2 * b] = best < 0 ? lowest : r[best];
    mine[2 * b + 1] = best < 0 ? -1.0f : static_cast<float>(base + best);
  }
  ROSE_RETURN_IF_ERROR(comm.allGather(mine.data(), mine.size(), all.data()));
  stats.bytesPerRank += mine.size() * sizeof(float);
  for (int64_t b = 0; b < batch; ++b) {
    int winner = -1;
    for (int k = 0; k < size; ++k) {
      const float *p = all.data() + k * 2 * batch + 2 * b;
      if (p[1] >= 0 && (winner < 0 || p[0] > all[winner * 2 * batch + 2 * b]))
        winner = k;
    }
    stats.argmax.push_back(
        static_cast<int64_t>(all[winner * 2 * batch + 2 * b + 1]));
  }
  if (!loss || seq < 2)
    return stats;

  // Cross entropy of token s + 1 from position s: lse - logit[target], with
  // lse = M + log(sum_ranks sum_c exp(l - M)) and M the max over all ranks.
  int64_t n = batch * (seq - 1);
  std::vector<float> maxima(n, lowest), sums(2 * n, 0.0f);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s + 1 < seq; ++s) {
      const float *r = row(b, s);
      float &m = maxima[b * (seq - 1) + s];
      for (int64_t c = 0; c < valid; ++c)
        m = std::max(m, r[c]);
    }
  ROSE_RETURN_IF_ERROR(comm.allReduceMax(maxima.data(), n));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s + 1 < seq; ++s) {
      int64_t i = b * (seq - 1) + s;
      const float *r = row(b, s);
      double sum = 0.0;
      for (int64_t c = 0; c < valid; ++c)
        sum += std::exp(double(r[c]) - maxima[i]);
      sums[i] = static_cast<float>(sum);
      int64_t target = tokens[b * seq + s + 1] - base;
      sums[n + i] = target >= 0 && target < valid ? r[target] : 0.0f;
    }
  ROSE_RETURN_IF_ERROR(comm.allReduceSum(sums.data(), 2 * n));
  stats.bytesPerRank += (n + 2 * n) * sizeof(float);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i)
    total += std::log(double(sums[i])) + maxima[i] - sums[n + i];
  stats.loss = total / n;
  stats.predictions = n;
  return stats;
}

Status rose::gatherVocab(const float *logits, int64_t batch, int64_t seq,
                         int64_t columns, int64_t vocab, Communicator &comm,
                         std::vector<float> &out) {
  int64_t rows = batch * seq, chunk = rows * columns;
  std::vector<float> all(chunk * comm.size());
  ROSE_RETURN_IF_ERROR(comm.allGather(logits, chunk, all.data()));
  out.assign(rows * vocab, 0.0f);
  for (int k = 0; k < comm.size(); ++k) {
    int64_t base = k * columns;
    int64_t valid = std::clamp<int64_t>(vocab - base, 0, columns);
    for (int64_t r = 0; r < rows; ++r)
      std::copy(all.data() + k * chunk + r * columns,
                all.data() + k * chunk + r * columns + valid,
                out.data() + r * vocab + base);
  }
  return Status::success();
}
