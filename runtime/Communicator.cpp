//===- Communicator.cpp - the in-process communicator
//----------------------===//
#include "runtime/Communicator.h"

#include <algorithm>
#include <cstring>

using namespace rose;

LocalGroup::LocalGroup(int size, std::chrono::seconds timeout)
    : size(size), inputs(size), timeout(timeout) {}

Status LocalGroup::barrier() {
  std::unique_lock<std::mutex> lock(mutex);
  if (aborted)
    return Status::error("collective aborted: ", abortReason);
  uint64_t gen = generation;
  if (++arrived == size) {
    arrived = 0;
    ++generation;
    cv.notify_all();
    return Status::success();
  }
  bool done =
      cv.wait_for(lock, timeout, [&] { return generation != gen || aborted; });
  if (aborted)
    return Status::error("collective aborted: ", abortReason);
  if (!done) {
    aborted = true;
    abortReason = "a collective did not complete within " +
                  std::to_string(timeout.count()) + " s";
    cv.notify_all();
    return Status::error(abortReason);
  }
  return Status::success();
}

void LocalGroup::abort(const std::string &why) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!aborted) {
    aborted = true;
    abortReason = why;
  }
  cv.notify_all();
}

namespace {
class LocalCommunicator : public Communicator {
public:
  LocalCommunicator(LocalGroup &group, int rank) : group(group), r(rank) {}
  int rank() const override { return r; }
  int size() const override { return group.size; }
  const char *name() const override { return "threads"; }

  Status allReduceSum(void *data, size_t n) override {
    return allReduce(static_cast<float *>(data), n,
                     [](float a, float b) { return a + b; });
  }
  Status allReduceMax(void *data, size_t n) override {
    return allReduce(static_cast<float *>(data), n,
                     [](float a, float b) { return std::max(a, b); });
  }

  /// Each rank reduces its share of elements over the ranks in order 0..N-1
  /// (deterministic), then every rank copies the result.
  template <typename Op> Status allReduce(float *data, size_t n, Op op) {
    group.inputs[r] = data;
    if (r == 0)
      group.scratch.resize(n);
    ROSE_RETURN_IF_ERROR(group.barrier());
    size_t chunk = (n + group.size - 1) / group.size;
    size_t begin = std::min(n, r * chunk), end = std::min(n, begin + chunk);
    for (size_t i = begin; i < end; ++i) {
      float acc = group.inputs[0][i];
      for (int k = 1; k < group.size; ++k)
        acc = op(acc, group.inputs[k][i]);
      group.scratch[i] = acc;
    }
    ROSE_RETURN_IF_ERROR(group.barrier());
    std::memcpy(data, group.scratch.data(), n * sizeof(float));
    return group.barrier();
  }

  Status allGather(const void *input, size_t n, void *output) override {
    const float *in = static_cast<const float *>(input);
    float *out = static_cast<float *>(output);
    group.inputs[r] = in;
    ROSE_RETURN_IF_ERROR(group.barrier());
    for (int k = 0; k < group.size; ++k)
      std::memcpy(out + k * n, group.inputs[k], n * sizeof(float));
    return group.barrier();
  }

  Status allToAll(const void *input, size_t n, void *output) override {
    float *out = static_cast<float *>(output);
    group.inputs[r] = static_cast<const float *>(input);
    ROSE_RETURN_IF_ERROR(group.barrier());
    for (int k = 0; k < group.size; ++k)
      std::memcpy(out + k * n, group.inputs[k] + r * n, n * sizeof(float));
    return group.barrier();
  }

  Status reduceScatterSum(const void *input, size_t n, void *output) override {
    const float *in = static_cast<const float *>(input);
    float *out = static_cast<float *>(output);
    group.inputs[r] = in;
    ROSE_RETURN_IF_ERROR(group.barrier());
    for (size_t i = 0; i < n; ++i) {
      float sum = 0.0f;
      for (int k = 0; k < group.size; ++k)
        sum += group.inputs[k][r * n + i];
      out[i] = sum;
    }
    return group.barrier();
  }

  void abort(const std::string &why) override { group.abort(why); }

private:
  LocalGroup &group;
  int r;
};
} // namespace

std::unique_ptr<Communicator> LocalGroup::communicator(int rank) {
  return std::make_unique<LocalCommunicator>(*this, rank);
}

StatusOr<std::unique_ptr<Communicator>> Communicator::split(int, int) {
  return Status::error("the ", name(),
                       " communicator cannot split into mesh-axis groups");
}
