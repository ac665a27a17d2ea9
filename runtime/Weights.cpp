//===- Weights.cpp - a rank's params, sliced from the checkpoint ----------===//
#include "runtime/Weights.h"

#include <cstring>

using namespace rose;

/// Element `i` of `src`, stored as `dtype` (F32, F16 or BF16), as float.
static float loadElement(const uint8_t *src, DType dtype, int64_t i) {
  if (dtype == DType::F32) {
    float f;
    std::memcpy(&f, src + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, src + 2 * i, 2);
  uint32_t bits;
  if (dtype == DType::BF16) {
    bits = static_cast<uint32_t>(h) << 16;
  } else { // IEEE half: sign, 5-bit exponent, 10-bit mantissa
    uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    if (exponent == 0x1f) { // inf, nan
      bits = sign | 0x7f800000 | (mantissa << 13);
    } else if (exponent != 0) {
      bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
      bits = sign;
    } else { // subnormal: normalize
      int shift = 0;
      while (!(mantissa & 0x400)) {
        mantissa <<= 1;
        ++shift;
      }
      bits = sign | ((113 - shift) << 23) | ((mantissa & 0x3ff) << 13);
    }
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// out[0..n) = elements [first, first + n) of `src` as float.
static void loadRun(const uint8_t *src, DType dtype, int64_t first, int64_t n,
                    float *out) {
  if (dtype == DType::F32) {
    std::memcpy(out, src + 4 * first, n * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    out[i] = loadElement(src, dtype, first + i);
}

/// Rank `rank`'s slice of the checkpoint tensor (dims `fullShape`, stored as
/// `dtype`) along `dim` into `out` (dims `shape`, float): only the rank's
/// rows are read and converted, never the whole tensor.
static void copySlice(const uint8_t *full, DType dtype,
                      const std::vector<int64_t> &fullShape,
                      const std::vector<int64_t> &shape, int64_t dim,
                      int64_t groups, int rank, float *out) {
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
    int64_t group = size / groups, chunk = local / groups;
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t i = 0; i < chunk; ++i)
        rows[g * chunk + i] = g * group + rank * chunk + i;
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < local; ++i) {
      float *dst = out + (o * local + i) * inner;
      if (rows[i] < 0)
        std::memset(dst, 0, inner * sizeof(float));
      else
        loadRun(full, dtype, (o * size + rows[i]) * inner, inner, dst);
    }
}

StatusOr<RankWeights>
RankWeights::load(const Entry &entry, const WeightFiles &files, int rank,
                  const std::function<void(size_t)> &progress) {
  RankWeights w;
  std::vector<bool> used = entry.usedParams();
  w.pointers_.assign(used.size(), nullptr);
  for (size_t index = 0; index < used.size(); ++index) {
    if (!used[index])
      continue;
    const fb::Param *p = entry.param(index);
    if (p->data()) { // a constant of the program, checked when read
      w.pointers_[index] =
          w.owned_.emplace_back(p->data()->begin(), p->data()->end()).data();
      continue;
    }
    std::string name = p->name()->str();
    WeightFiles::Tensor tensor = files.find(name);
    if (!tensor)
      return Status::error(files.fileFor(name), ": missing tensor '", name,
                           "' the program needs");
    const std::string &where = tensor.file->path();
    std::vector<int64_t> full(p->full_shape()->begin(), p->full_shape()->end());
    std::vector<int64_t> shape(p->shape()->begin(), p->shape()->end());
    if (tensor.entry->shape != full)
      return Status::error(where, ": tensor '", name, "' has shape ",
                           shapeString(tensor.entry->shape),
                           " but the program expects ", shapeString(full));
    DType dtype = tensor.entry->dtype;
    if ((dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16) ||
        p->type() != fb::ElementType::F32)
      return Status::error(where, ": tensor '", name, "' is ", dtypeName(dtype),
                           "; rose reads F32, F16 and BF16 weights");
    const uint8_t *data = tensor.data();
    bool inPlace = dtype == DType::F32 && p->slice_dim() < 0 &&
                   reinterpret_cast<uintptr_t>(data) % alignof(float) == 0;
    if (inPlace) {
      w.pointers_[index] = reinterpret_cast<const float *>(data);
    } else {
      int64_t n = numElements(shape);
      std::vector<float> &buf = w.owned_.emplace_back(n);
      if (p->slice_dim() < 0)
        loadRun(data, dtype, 0, n, buf.data());
      else
        copySlice(data, dtype, full, shape, p->slice_dim(), p->slice_groups(),
                  entry.coord(rank, p->slice_axis()) / p->slice_replicas(),
                  buf.data());
      w.pointers_[index] = buf.data();
    }
    if (progress)
      progress(tensor.entry->end - tensor.entry->begin);
  }
  return w;
}

RankWeights RankWeights::zeros(const Entry &entry) {
  RankWeights w;
  std::vector<bool> used = entry.usedParams();
  w.pointers_.assign(used.size(), nullptr);
  for (size_t i = 0; i < used.size(); ++i)
    if (used[i]) {
      const fb::Param *p = entry.param(i);
      w.pointers_[i] =
          p->data()
              ? w.owned_.emplace_back(p->data()->begin(), p->data()->end())
                    .data()
              : w.owned_.emplace_back(numElements(paramShape(*p)), 0.0f).data();
    }
  return w;
}
