//===- OnnxTensors.cpp - ONNX initializer and constant data
//----------------===//
#include "frontend/OnnxTensors.h"
#include "runtime/CheckedMath.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace mlir::rose::onnx_import;
using ::rose::DType;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

int64_t TensorBytes::numElements() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

static std::optional<DType> dtypeOf(int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return DType::F32;
  case onnx::TensorProto::FLOAT16:
    return DType::F16;
  case onnx::TensorProto::BFLOAT16:
    return DType::BF16;
  case onnx::TensorProto::DOUBLE:
    return DType::F64;
  case onnx::TensorProto::INT64:
    return DType::I64;
  case onnx::TensorProto::INT32:
    return DType::I32;
  case onnx::TensorProto::INT8:
    return DType::I8;
  case onnx::TensorProto::UINT8:
    return DType::U8;
  case onnx::TensorProto::BOOL:
    return DType::Bool;
  default:
    return std::nullopt;
  }
}

template <typename T, typename Field>
static void copyField(const Field &field, std::vector<uint8_t> &out) {
  out.resize(field.size() * sizeof(T));
  for (int i = 0; i < field.size(); ++i) {
    T v = static_cast<T>(field.Get(i));
    std::memcpy(out.data() + i * sizeof(T), &v, sizeof(T));
  }
}

llvm::Expected<TensorBytes> TensorReader::read(const onnx::TensorProto &t) {
  std::string what = "tensor '" + t.name() + "'";
  std::optional<DType> dtype = dtypeOf(t.data_type());
  if (!dtype)
    return makeError(what + ": unsupported ONNX data type " +
                     llvm::Twine(t.data_type()));
  TensorBytes out;
  out.dtype = *dtype;
  std::optional<int64_t> elements = ::rose::checkedProduct(t.dims());
  if (!elements || *elements > (int64_t(1) << 40))
    return makeError(what + ": invalid dims");
  out.dims.assign(t.dims().begin(), t.dims().end());
  size_t expected = size_t(*elements) * ::rose::dtypeSize(*dtype);

  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    uint64_t offset = 0, length = expected;
    for (const auto &kv : t.external_data()) {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::strtoull(kv.value().c_str(), nullptr, 10);
      else if (kv.key() == "length")
        length = std::strtoull(kv.value().c_str(), nullptr, 10);
    }
    if (location.empty())
      return makeError(what + ": external data without a location");
    llvm::SmallString<256> path(modelDir);
    llvm::sys::path::append(path, location);
    auto &file = externalFiles[path];
    if (!file) {
      auto mapped = ::rose::MappedFile::open(std::string(path));
      if (!mapped)
        return makeError(what + ": " + mapped.status().message());
      file = mapped.take();
    }
    if (length != expected || offset > file->size() ||
        length > file->size() - offset)
      return makeError(what + ": external data [" + llvm::Twine(offset) +
                       ", +" + llvm::Twine(length) + ") does not fit " +
                       file->path() + " (" + llvm::Twine(file->size()) +
                       " bytes) or the tensor's " + llvm::Twine(expected) +
                       " bytes");
    out.data = file->data() + offset;
    out.size = length;
    return out;
  }
  if (t.has_raw_data()) {
    if (t.raw_data().size() != expected)
      return makeError(what + ": raw_data holds " +
                       llvm::Twine(t.raw_data().size()) + " bytes, dims need " +
                       llvm::Twine(expected));
    out.data = reinterpret_cast<const uint8_t *>(t.raw_data().data());
    out.size = expected;
    return out;
  }
  switch (*dtype) {
  case DType::F32:
    copyField<float>(t.float_data(), out.owned);
    break;
  case DType::F64:
    copyField<double>(t.double_data(), out.owned);
    break;
  case DType::I64:
    copyField<int64_t>(t.int64_data(), out.owned);
    break;
  case DType::I32:
    copyField<int32_t>(t.int32_data(), out.owned);
    break;
  case DType::Bool:
  case DType::U8:
  case DType::I8:
    copyField<uint8_t>(t.int32_data(), out.owned);
    break;
  case DType::F16:
  case DType::BF16:
    copyField<uint16_t>(t.int32_data(), out.owned);
    break;
  }
  if (out.owned.size() != expected)
    return makeError(what + ": holds " + llvm::Twine(out.owned.size()) +
                     " bytes of data, dims need " + llvm::Twine(expected));
  out.data = out.owned.data();
  out.size = expected;
  return out;
}

static float halfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f,
           mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: renormalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::vector<float> mlir::rose::onnx_import::toFloats(const TensorBytes &b) {
  size_t n = static_cast<size_t>(b.numElements());
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    switch (b.dtype) {
    case DType::F32:
      std::memcpy(&out[i], b.data + 4 * i, 4);
      break;
    case DType::F64: {
      double d;
      std::memcpy(&d, b.data + 8 * i, 8);
      out[i] = static_cast<float>(d);
      break;
    }
    case DType::F16: {
      uint16_t h;
      std::memcpy(&h, b.data + 2 * i, 2);
      out[i] = halfToFloat(h);
      break;
    }
    case DType::BF16: {
      uint16_t h;
      std::memcpy(&h, b.data + 2 * i, 2);
      uint32_t bits = uint32_t(h) << 16;
      std::memcpy(&out[i], &bits, 4);
      break;
    }
    default:
      out[i] = 0.0f;
    }
  }
  return out;
}

llvm::Expected<Literal> TensorReader::literal(const onnx::TensorProto &t,
                                              int64_t maxElements) {
  // Literals are shape operands and scalars; a large one is a weight that
  // reached a place only constants may go.
  std::optional<int64_t> elements = ::rose::checkedProduct(t.dims());
  if (!elements)
    return makeError("tensor '" + t.name() +
                     "': dims are negative or their product overflows");
  if (*elements > maxElements)
    return makeError("tensor '" + t.name() + "' with " +
                     llvm::Twine(*elements) +
                     " elements used where a small constant is expected");
  llvm::Expected<TensorBytes> bytes = read(t);
  if (!bytes)
    return bytes.takeError();
  Literal lit;
  lit.dims.assign(bytes->dims.begin(), bytes->dims.end());
  size_t n = static_cast<size_t>(bytes->numElements());
  lit.values.resize(n);
  const uint8_t *p = bytes->data;
  switch (bytes->dtype) {
  case DType::I64:
  case DType::I32:
  case DType::I8:
  case DType::U8:
  case DType::Bool:
    lit.isInteger = true;
    for (size_t i = 0; i < n; ++i) {
      switch (bytes->dtype) {
      case DType::I64: {
        int64_t v;
        std::memcpy(&v, p + 8 * i, 8);
        lit.values[i] = double(v);
        break;
      }
      case DType::I32: {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        lit.values[i] = double(v);
        break;
      }
      case DType::I8:
        lit.values[i] = double(int8_t(p[i]));
        break;
      default:
        lit.values[i] = double(p[i]);
      }
    }
    break;
  default: {
    std::vector<float> f = toFloats(*bytes);
    for (size_t i = 0; i < n; ++i)
      lit.values[i] = f[i];
  }
  }
  return lit;
}
