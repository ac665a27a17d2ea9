//===- Storage.h - how a backend stores float values ------------*- C++ -*-===//
#ifndef ROSE_RUNTIME_STORAGE_H
#define ROSE_RUNTIME_STORAGE_H

#include <cstddef>

namespace rose {

/// The element type a backend keeps float activations and weights in. The
/// CPU backend stores F32; the CUDA backend any of the three (kernels
/// compute in float either way).
enum class Storage { F32, BF16, F16 };
inline size_t storageBytes(Storage s) { return s == Storage::F32 ? 4 : 2; }

} // namespace rose

#endif // ROSE_RUNTIME_STORAGE_H
