//===- DType.cpp - element types
//-------------------------------------------===//
#include "runtime/DType.h"

using namespace rose;

namespace {
struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::F64, "F64", 8}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I8, "I8", 1},   {DType::U8, "U8", 1},   {DType::Bool, "BOOL", 1},
};
} // namespace

size_t rose::dtypeSize(DType t) { return kDTypes[static_cast<int>(t)].size; }

std::string_view rose::dtypeName(DType t) {
  return kDTypes[static_cast<int>(t)].name;
}

std::optional<DType> rose::parseDType(std::string_view name) {
  for (const DTypeInfo &info : kDTypes)
    if (info.name == name)
      return info.type;
  return std::nullopt;
}
