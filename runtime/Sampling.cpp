//===- Sampling.cpp - the next token from logits --------------------------===//
#include "runtime/Sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

using namespace rose;

int64_t Sampler::next(const float *logits, int64_t vocab) {
  if (options.temperature <= 0.0)
    return std::max_element(logits, logits + vocab) - logits;
  // Candidates by decreasing logit (ties: the lower id first).
  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  int64_t keep = options.topK > 0 ? std::min(options.topK, vocab) : vocab;
  auto byLogit = [&](int64_t a, int64_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + keep, order.end(), byLogit);
  order.resize(keep);
  double top = logits[order[0]];
  std::vector<double> p(keep);
  double sum = 0.0;
  for (int64_t i = 0; i < keep; ++i)
    sum += p[i] = std::exp((logits[order[i]] - top) / options.temperature);
  // Top-p: the smallest prefix whose probability reaches topP.
  if (options.topP < 1.0) {
    double mass = 0.0;
    int64_t n = 0;
    while (n < keep && mass < options.topP * sum)
      mass += p[n++];
    keep = std::max<int64_t>(n, 1);
    sum = std::accumulate(p.begin(), p.begin() + keep, 0.0);
  }
  // A uniform double in [0, 1) from the top 53 bits.
  double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * sum;
  for (int64_t i = 0; i < keep; ++i) {
    if (u < p[i])
      return order[i];
    u -= p[i];
  }
  return order[keep - 1];
}
