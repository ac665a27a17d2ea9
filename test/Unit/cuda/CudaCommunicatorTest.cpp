//===- CudaCommunicatorTest.cpp - collectives of ranks on GPUs ------------===//
//
// The shared-GPU communicator (ranks as threads on one device) and, on a
// machine with two or more devices, NCCL, against values that tell where
// each element came from. Skipped where no CUDA device answers.
//
//===----------------------------------------------------------------------===//
#include "runtime/RankThreads.h"
#include "runtime/cuda/Communicator.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <vector>

using namespace rose;
using rose::cuda::Storage;

namespace {

int deviceCount() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

/// Runs every collective of `ranks` communicators made by `make(rank,
/// stream)` on fp32 device buffers (rank r on device r, or all on device 0)
/// and checks the results.
template <typename Make>
void checkCollectives(int ranks, bool devicePerRank, Make make) {
  const size_t n = 3; // elements per chunk
  std::vector<std::vector<float>> toAll(ranks), gathered(ranks), summed(ranks);
  std::vector<int> all;
  for (int r = 0; r < ranks; ++r)
    all.push_back(r);
  Status status = runRankThreads(all, [&](int r) -> Status {
    if (cudaSetDevice(devicePerRank ? r : 0) != cudaSuccess)
      return Status::error("cudaSetDevice");
    cudaStream_t stream;
    if (cudaStreamCreate(&stream) != cudaSuccess)
      return Status::error("cudaStreamCreate");
    StatusOr<std::unique_ptr<Communicator>> comm = make(r, stream);
    if (!comm)
      return comm.status();
    std::vector<float> host(n * ranks);
    for (size_t i = 0; i < host.size(); ++i)
      host[i] = static_cast<float>(r * 100 + i);
    size_t bytes = host.size() * sizeof(float);
    float *in = nullptr, *out = nullptr, *big = nullptr;
    cudaMalloc(&in, bytes);
    cudaMalloc(&out, bytes);
    cudaMalloc(&big, bytes * ranks);
    cudaMemcpy(in, host.data(), bytes, cudaMemcpyHostToDevice);
    Status s = (*comm)->allToAll(in, n, out);
    if (s.ok())
      s = (*comm)->allGather(in, n * ranks, big);
    if (s.ok())
      s = (*comm)->synchronize();
    toAll[r].resize(n * ranks);
    gathered[r].resize(n * ranks * ranks);
    cudaMemcpy(toAll[r].data(), out, bytes, cudaMemcpyDeviceToHost);
    cudaMemcpy(gathered[r].data(), big, bytes * ranks, cudaMemcpyDeviceToHost);
    if (s.ok())
      s = (*comm)->allReduceSum(in, n * ranks);
    if (s.ok())
      s = (*comm)->synchronize();
    summed[r].resize(n * ranks);
    cudaMemcpy(summed[r].data(), in, bytes, cudaMemcpyDeviceToHost);
    cudaFree(in);
    cudaFree(out);
    cudaFree(big);
    comm->reset();
    cudaStreamDestroy(stream);
    return s;
  });
  ASSERT_TRUE(status.ok()) << status.message();
  for (int r = 0; r < ranks; ++r)
    for (int k = 0; k < ranks; ++k)
      for (size_t i = 0; i < n; ++i)
        EXPECT_EQ(toAll[r][k * n + i], static_cast<float>(k * 100 + r * n + i))
            << "all_to_all: rank " << r << " slot " << k;
  for (int r = 0; r < ranks; ++r)
    for (size_t i = 0; i < n * ranks * ranks; ++i)
      EXPECT_EQ(gathered[r][i],
                static_cast<float>((i / (n * ranks)) * 100 + i % (n * ranks)));
  // Sum over k of k * 100 + i = 100 * ranks (ranks - 1) / 2 + ranks * i.
  for (int r = 0; r < ranks; ++r)
    for (size_t i = 0; i < n * ranks; ++i)
      EXPECT_EQ(summed[r][i],
                static_cast<float>(50 * ranks * (ranks - 1) + ranks * i));
}

TEST(CudaCommunicator, SharedGpuCollectives) {
  if (deviceCount() == 0)
    GTEST_SKIP() << "no CUDA device";
  for (int ranks : {1, 3}) {
    cuda::SharedGpuGroup group(ranks, Storage::F32, std::chrono::seconds(60));
    checkCollectives(ranks, false, [&](int r, cudaStream_t stream) {
      return StatusOr<std::unique_ptr<Communicator>>(
          group.communicator(r, stream));
    });
  }
}

TEST(CudaCommunicator, NcclCollectives) {
  int devices = deviceCount();
  if (devices < 2)
    GTEST_SKIP() << "NCCL needs two devices, found " << devices;
  auto id = cuda::newNcclId();
  ASSERT_TRUE(id.ok()) << id.status().message();
  checkCollectives(2, true, [&](int r, cudaStream_t stream) {
    return cuda::ncclCommunicator(*id, r, 2, Storage::F32, stream,
                                  std::chrono::seconds(60));
  });
}

} // namespace
