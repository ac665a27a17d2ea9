//===- AxisSplit.h - a tensor seen as [outer, axis, inner] ------*- C++ -*-===//
#ifndef ROSE_RUNTIME_AXISSPLIT_H
#define ROSE_RUNTIME_AXISSPLIT_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rose {

/// A row-major tensor as [outer, shape[axis], inner]: what slicing,
/// concatenating, softmax and the collectives' interleaving along one axis
/// need to know.
struct AxisSplit {
  int64_t outer = 1, inner = 1;
};

inline AxisSplit splitAtAxis(const std::vector<int64_t> &shape, int64_t axis) {
  AxisSplit s;
  for (int64_t d = 0; d < axis; ++d)
    s.outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    s.inner *= shape[d];
  return s;
}

} // namespace rose

#endif // ROSE_RUNTIME_AXISSPLIT_H
