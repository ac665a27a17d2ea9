//===- Sampling.h - the next token from logits ------------------*- C++ -*-===//
//
// Greedy (the first maximum) or sampled: logits / temperature, softmax in
// double, the top-k most likely kept, then the smallest set whose
// probability reaches top-p, renormalised, drawn with a uniform number from
// std::mt19937_64 (whose sequence the C++ standard fixes, so the same seed
// gives the same tokens on every platform and at every tp).
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_SAMPLING_H
#define ROSE_RUNTIME_SAMPLING_H

#include <cstdint>
#include <random>

namespace rose {

struct SamplingOptions {
  double temperature = 0.0; // 0: greedy
  int64_t topK = 0;         // 0: no limit
  double topP = 1.0;        // 1: no limit
  uint64_t seed = 0;
};

class Sampler {
public:
  explicit Sampler(const SamplingOptions &options)
      : options(options), rng(options.seed) {}
  /// The next token from one row of `vocab` logits. Sampling draws one
  /// number per call, so rows are sampled in a fixed order.
  int64_t next(const float *logits, int64_t vocab);

private:
  SamplingOptions options;
  std::mt19937_64 rng;
};

} // namespace rose

#endif // ROSE_RUNTIME_SAMPLING_H
