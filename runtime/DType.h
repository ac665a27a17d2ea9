//===- DType.h - element types shared by files and backends -----*- C++ -*-===//
#ifndef ROSE_RUNTIME_DTYPE_H
#define ROSE_RUNTIME_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rose {

enum class DType : uint8_t { F32, F16, BF16, F64, I64, I32, I8, U8, Bool };

/// Bytes per element.
size_t dtypeSize(DType t);
/// The safetensors spelling ("F32", "BF16", ...).
std::string_view dtypeName(DType t);
/// Parses the safetensors spelling.
std::optional<DType> parseDType(std::string_view name);

} // namespace rose

#endif // ROSE_RUNTIME_DTYPE_H
