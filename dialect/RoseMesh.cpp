//===- RoseMesh.cpp - the rose.mesh op ------------------------------------===//
#include "dialect/RoseOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mlir::rose;

// rose.mesh @mesh(dp = 2, tp = 4)
ParseResult MeshOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr name;
  if (parser.parseSymbolName(name, getSymNameAttrName(result.name),
                             result.attributes))
    return failure();
  SmallVector<Attribute> axes;
  SmallVector<int64_t> sizes;
  auto parseAxis = [&]() -> ParseResult {
    std::string axis;
    int64_t size = 0;
    if (parser.parseKeywordOrString(&axis) || parser.parseEqual() ||
        parser.parseInteger(size))
      return failure();
    axes.push_back(parser.getBuilder().getStringAttr(axis));
    sizes.push_back(size);
    return success();
  };
  if (parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Paren,
                                     parseAxis) ||
      parser.parseOptionalAttrDict(result.attributes))
    return failure();
  result.addAttribute(getAxesAttrName(result.name),
                      parser.getBuilder().getArrayAttr(axes));
  result.addAttribute(getSizesAttrName(result.name),
                      parser.getBuilder().getDenseI64ArrayAttr(sizes));
  return success();
}

void MeshOp::print(OpAsmPrinter &p) {
  p << " ";
  p.printSymbolName(getSymName());
  p << "(";
  llvm::interleaveComma(llvm::zip(getAxes(), getSizes()), p, [&](auto axis) {
    p << cast<StringAttr>(std::get<0>(axis)).getValue() << " = "
      << std::get<1>(axis);
  });
  p << ")";
  p.printOptionalAttrDict(
      (*this)->getAttrs(),
      {getSymNameAttrName(), getAxesAttrName(), getSizesAttrName()});
}

LogicalResult MeshOp::verify() {
  if (getAxes().empty())
    return emitOpError("needs at least one axis");
  if (getAxes().size() != getSizes().size())
    return emitOpError() << getAxes().size() << " axes but "
                         << getSizes().size() << " sizes";
  llvm::StringSet<> seen;
  for (auto [axis, size] : llvm::zip(getAxes(), getSizes())) {
    StringRef name = cast<StringAttr>(axis).getValue();
    if (name.empty())
      return emitOpError("axis names must not be empty");
    if (!seen.insert(name).second)
      return emitOpError() << "axis '" << name << "' appears twice";
    if (size < 1)
      return emitOpError() << "axis '" << name << "' has size " << size
                           << "; sizes must be >= 1";
  }
  return success();
}

std::optional<int64_t> MeshOp::sizeOf(StringRef axis) {
  int64_t i = indexOf(axis);
  if (i < 0)
    return std::nullopt;
  return getSizes()[i];
}

int64_t MeshOp::indexOf(StringRef axis) {
  for (auto [i, a] : llvm::enumerate(getAxes()))
    if (cast<StringAttr>(a).getValue() == axis)
      return i;
  return -1;
}

MeshOp MeshOp::find(ModuleOp module) {
  auto meshes = module.getOps<MeshOp>();
  return meshes.empty() ? MeshOp() : *meshes.begin();
}
