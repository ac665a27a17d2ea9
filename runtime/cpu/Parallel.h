//===- Parallel.h - the CPU kernels' worker threads -------------*- C++ -*-===//
//
// A rank's kernels split their loops over a small pool: the rank's thread
// plus (its share of --threads) - 1 workers that sleep on a condition
// variable between loops. OpenMP's default was measured slower here: its
// idle threads spin and take the cores from OpenBLAS's GEMM threads (GPT-2
// 124M B1 x S256 on 2 cores: 526 ms with OpenMP spinning, 316 ms with
// OMP_WAIT_POLICY=passive, which a library cannot set for its users).
// The GEMM and the kernels never run at once, so the budget holds.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_CPU_PARALLEL_H
#define ROSE_RUNTIME_CPU_PARALLEL_H

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rose::cpu {

class ThreadPool {
public:
  /// `threads` in all, counting the caller of parallelFor.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int threads() const { return static_cast<int>(workers.size()) + 1; }
  /// Runs body(begin, end) over [0, n) in at most threads() contiguous
  /// parts, the caller taking the first; returns when all are done.
  void parallelFor(int64_t n,
                   const std::function<void(int64_t, int64_t)> &body);

private:
  void work(int index);

  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake, done;
  const std::function<void(int64_t, int64_t)> *job = nullptr;
  int64_t jobSize = 0;
  int parts = 0, pending = 0;
  uint64_t generation = 0;
  bool stopping = false;
};

/// The pool the calling thread's kernels use (none: they run inline).
void setThreadPool(ThreadPool *pool);

/// Threads of the calling thread's pool (1 without one).
int poolThreads();

/// body(begin, end) over [0, n): on the calling thread's pool when n is at
/// least `grain` (smaller loops are not worth waking a thread for).
void parallelFor(int64_t n, int64_t grain,
                 const std::function<void(int64_t, int64_t)> &body);

} // namespace rose::cpu

#endif // ROSE_RUNTIME_CPU_PARALLEL_H
