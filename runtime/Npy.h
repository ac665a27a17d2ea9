//===- Npy.h - NumPy .npy files for tokens and logits -----------*- C++ -*-===//
#ifndef ROSE_RUNTIME_NPY_H
#define ROSE_RUNTIME_NPY_H

#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rose {

/// Reads a 2-D int64 or int32 .npy (C order) as int64 [rows, cols].
StatusOr<std::vector<int64_t>> readTokensNpy(const std::string &path,
                                             int64_t &rows, int64_t &cols);

/// Writes float32 data of `shape` as .npy, atomically.
Status writeFloatNpy(const std::string &path, const float *data,
                     const std::vector<int64_t> &shape);
/// Writes int64 data of `shape` (token ids) as .npy, atomically.
Status writeInt64Npy(const std::string &path, const int64_t *data,
                     const std::vector<int64_t> &shape);

} // namespace rose

#endif // ROSE_RUNTIME_NPY_H
