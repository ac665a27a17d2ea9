//===- Weights.cpp - a rank's params, sliced from the checkpoint ----------===//
#include "runtime/Weights.h"

#include <cstring>

using namespace rose;

static std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Copies rank `rank`'s slice of `full` (row-major, dims `fullShape`) along
/// `dim` into `out` (dims `shape`).
static void copySlice(const float *full, const std::vector<int64_t> &fullShape,
                      const std::vector<int64_t> &shape, int64_t dim,
                      int64_t parts, int64_t groups, int rank, float *out) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d)
    outer *= fullShape[d];
  for (size_t d = dim + 1; d < fullShape.size(); ++d)
    inner *= fullShape[d];
  int64_t size = fullShape[dim], local = shape[dim];
  // Source rows (along dim) of each output row; -1 is padding.
  std::vector<int64_t> rows(local);
  if (groups == 1) {
    for (int64_t i = 0; i < local; ++i) {
      int64_t src = rank * local + i;
      rows[i] = src < size ? src : -1;
    }
  } else {
    int64_t group = size / groups, chunk = group / parts;
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t i = 0; i < chunk; ++i)
        rows[g * chunk + i] = g * group + rank * chunk + i;
  }
  (void)parts;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < local; ++i) {
      float *dst = out + (o * local + i) * inner;
      if (rows[i] < 0)
        std::memset(dst, 0, inner * sizeof(float));
      else
        std::memcpy(dst, full + (o * size + rows[i]) * inner,
                    inner * sizeof(float));
    }
}

StatusOr<RankWeights>
RankWeights::load(const Entry &entry, const SafetensorsFile &file, int rank,
                  const std::function<void(size_t)> &progress) {
  RankWeights w;
  std::vector<bool> used = entry.usedParams();
  w.pointers_.assign(used.size(), nullptr);
  for (size_t index = 0; index < used.size(); ++index) {
    if (!used[index])
      continue;
    const fb::Param *p = entry.param(index);
    std::string name = p->name()->str();
    const TensorEntry *entry = file.find(name);
    if (!entry)
      return Status::error(file.path(), ": missing tensor '", name,
                           "' the program needs");
    std::vector<int64_t> full(p->full_shape()->begin(), p->full_shape()->end());
    std::vector<int64_t> shape(p->shape()->begin(), p->shape()->end());
    if (entry->shape != full)
      return Status::error(file.path(), ": tensor '", name, "' has shape ",
                           shapeString(entry->shape),
                           " but the program expects ", shapeString(full));
    if (entry->dtype != DType::F32 || p->type() != fb::ElementType::F32)
      return Status::error(file.path(), ": tensor '", name, "' is ",
                           dtypeName(entry->dtype),
                           "; rose reads float32 checkpoints (the CUDA backend "
                           "converts them with --dtype)");
    const float *data = reinterpret_cast<const float *>(file.data(*entry));
    bool aligned = reinterpret_cast<uintptr_t>(data) % alignof(float) == 0;
    if (p->slice_dim() < 0 && aligned) {
      w.pointers_[index] = data;
    } else {
      int64_t n = numElements(shape);
      std::vector<float> &buf = w.owned_.emplace_back(n);
      if (p->slice_dim() < 0)
        std::memcpy(buf.data(), data, n * sizeof(float));
      else
        copySlice(data, full, shape, p->slice_dim(), p->slice_parts(),
                  p->slice_groups(), rank, buf.data());
      w.pointers_[index] = buf.data();
    }
    if (progress)
      progress(entry->end - entry->begin);
  }
  return w;
}

RankWeights RankWeights::zeros(const Entry &entry) {
  RankWeights w;
  std::vector<bool> used = entry.usedParams();
  w.pointers_.assign(used.size(), nullptr);
  for (size_t i = 0; i < used.size(); ++i)
    if (used[i])
      w.pointers_[i] =
          w.owned_.emplace_back(numElements(paramShape(*entry.param(i))), 0.0f)
              .data();
  return w;
}
