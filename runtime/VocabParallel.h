//===- VocabParallel.h - loss and argmax from vocab-sharded logits -*- C++
//-*-===//
//
// Loss parallel (PyTorch's `loss_parallel`, Megatron's vocab-parallel cross
// entropy): when the LM head stays split over the vocab, each rank holds
// columns [rank x c, (rank + 1) x c) of the logits. The next-token cross
// entropy and the argmax need only [batch, seq]-sized exchanges: a max
// all_reduce, a sum all_reduce and a small all_gather, instead of gathering
// batch x seq x vocab logits.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_VOCABPARALLEL_H
#define ROSE_RUNTIME_VOCABPARALLEL_H

#include "runtime/Communicator.h"

#include <cstdint>
#include <vector>

namespace rose {

/// What a rank's vocab shard contributes, combined over the group.
struct ShardedLogitStats {
  std::vector<int64_t> argmax; // per sequence, at its last position
  double loss = 0.0;           // mean next-token cross entropy (if asked)
  int64_t predictions = 0;
  size_t bytesPerRank = 0; // what this rank sent
};

/// `logits` is this rank's [batch, seq, columns] shard; columns at or past
/// `vocab` (padding of the last rank) are ignored. Every rank calls this.
StatusOr<ShardedLogitStats>
shardedLogitStats(const float *logits, int64_t batch, int64_t seq,
                  int64_t columns, int64_t vocab,
                  const std::vector<int64_t> &tokens, bool loss,
                  Communicator &comm);

/// Gathers the shards into whole [batch, seq, vocab] logits (every rank
/// gets them): the cost loss parallel avoids, paid only for --out.
Status gatherVocab(const float *logits, int64_t batch, int64_t seq,
                   int64_t columns, int64_t vocab, Communicator &comm,
                   std::vector<float> &out);

} // namespace rose

#endif // ROSE_RUNTIME_VOCABPARALLEL_H
