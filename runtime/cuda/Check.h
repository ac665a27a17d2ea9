//===- Check.h - CUDA, cuBLAS and NCCL errors as Status ---------*- C++ -*-===//
#ifndef ROSE_RUNTIME_CUDA_CHECK_H
#define ROSE_RUNTIME_CUDA_CHECK_H

#include "runtime/Status.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

namespace rose::cuda {

inline Status check(cudaError_t e, const char *what) {
  if (e == cudaSuccess)
    return Status::success();
  if (e == cudaErrorMemoryAllocation)
    return Status::error("out of GPU memory in ", what);
  return Status::error(what, " failed: ", cudaGetErrorName(e), " (",
                       cudaGetErrorString(e), ")");
}
inline Status check(cublasStatus_t e, const char *what) {
  if (e == CUBLAS_STATUS_SUCCESS)
    return Status::success();
  return Status::error(what, " failed: ", cublasGetStatusName(e), " (",
                       cublasGetStatusString(e), ")");
}
inline Status check(ncclResult_t e, const char *what) {
  if (e == ncclSuccess)
    return Status::success();
  return Status::error(what, " failed: NCCL ", ncclGetErrorString(e));
}

} // namespace rose::cuda

/// Returns a Status naming the failed call from the enclosing function.
#define ROSE_CUDA(call) ROSE_RETURN_IF_ERROR(::rose::cuda::check((call), #call))

#endif // ROSE_RUNTIME_CUDA_CHECK_H
