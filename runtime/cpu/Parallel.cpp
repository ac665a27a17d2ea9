//===- Parallel.cpp - the CPU kernels' worker threads ---------------------===//
#include "runtime/cpu/Parallel.h"

#include <algorithm>

using namespace rose::cpu;

static thread_local ThreadPool *currentPool = nullptr;

void rose::cpu::setThreadPool(ThreadPool *pool) { currentPool = pool; }

int rose::cpu::poolThreads() {
  return currentPool ? currentPool->threads() : 1;
}

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i)
    workers.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

/// Part `index` of `parts` equal contiguous parts of [0, n).
static std::pair<int64_t, int64_t> partOf(int64_t n, int parts, int index) {
  int64_t size = (n + parts - 1) / parts;
  int64_t begin = std::min(n, index * size);
  return {begin, std::min(n, begin + size)};
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int64_t, int64_t)> *body;
    int64_t n;
    int count;
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping)
        return;
      seen = generation;
      body = job;
      n = jobSize;
      count = parts;
    }
    if (index < count) {
      auto [begin, end] = partOf(n, count, index);
      if (begin < end)
        (*body)(begin, end);
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (--pending == 0)
      done.notify_one();
  }
}

void ThreadPool::parallelFor(
    int64_t n, const std::function<void(int64_t, int64_t)> &body) {
  int count = static_cast<int>(std::min<int64_t>(threads(), n));
  if (count <= 1) {
    if (n > 0)
      body(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    job = &body;
    jobSize = n;
    parts = count;
    pending = static_cast<int>(workers.size());
    ++generation;
  }
  wake.notify_all();
  auto [begin, end] = partOf(n, count, 0);
  body(begin, end);
  std::unique_lock<std::mutex> lock(mutex);
  done.wait(lock, [&] { return pending == 0; });
}

void rose::cpu::parallelFor(int64_t n, int64_t grain,
                            const std::function<void(int64_t, int64_t)> &body) {
  if (!currentPool || n < grain || currentPool->threads() == 1) {
    if (n > 0)
      body(0, n);
    return;
  }
  currentPool->parallelFor(n, body);
}
