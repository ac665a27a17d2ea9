//===- Shape.h - element counts and [outer, axis, inner] views --*- C++ -*-===//
#ifndef ROSE_RUNTIME_SHAPE_H
#define ROSE_RUNTIME_SHAPE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rose {

/// Elements of a tensor of `shape`.
inline int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// "[2, 8, 64]".
inline std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// numpy broadcasting: the step of each of `rank` output dims in a
/// row-major tensor of `shape`, aligned right, 0 where it broadcasts.
inline std::vector<int64_t> broadcastStrides(const std::vector<int64_t> &shape,
                                             size_t rank) {
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    size_t d = shape.size() - 1 - i;
    size_t o = rank - 1 - i;
    strides[o] = shape[d] == 1 ? 0 : stride;
    stride *= shape[d];
  }
  return strides;
}

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

/// The geometry of one attention call. Query head h attends with kv head
/// h / (heads / kvHeads). Of each sequence's kvRows rows of k and v (a KV
/// cache when generating) the first `keys` are keys, and the seq queries
/// are the last seq of those positions: causal query i sees keys
/// j <= keys - seq + i.
struct AttentionShape {
  int64_t batch = 0, seq = 0, keys = 0, kvRows = 0;
  int64_t heads = 0, kvHeads = 0, headDim = 0;
  bool causal = false;
  float scale = 1.0f;

  /// Attention of seq tokens over themselves (k, v [batch, seq, ...]).
  static AttentionShape self(int64_t batch, int64_t seq, int64_t heads,
                             int64_t kvHeads, int64_t headDim, bool causal,
                             float scale) {
    return {batch, seq, seq, seq, heads, kvHeads, headDim, causal, scale};
  }
};

} // namespace rose

#endif // ROSE_RUNTIME_SHAPE_H
