//===- RoseDialect.cpp - rose dialect, sharding attribute
//------------------===//
#include "dialect/RoseDialect.h"
#include "dialect/RoseOps.h"
#include "runtime/CheckedMath.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::rose;

#include "dialect/RoseDialect.cpp.inc"
#include "dialect/RoseEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/RoseAttrs.cpp.inc"

void RoseDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/RoseOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/RoseAttrs.cpp.inc"
      >();
}

Operation *RoseDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                            Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return builder.create<ConstantOp>(loc, type, elements);
}

//===----------------------------------------------------------------------===//
// ShardingAttr
//===----------------------------------------------------------------------===//

static constexpr llvm::StringLiteral kDefaultAxis = "tp";

// #rose.shard<replicated>, #rose.shard<split = 2>, #rose.shard<partial>, a
// split optionally followed by `, groups = G`, each by `, axis = "name"`.
Attribute ShardingAttr::parse(AsmParser &parser, Type) {
  if (parser.parseLess())
    return {};
  StringRef keyword;
  SMLoc kindLoc = parser.getCurrentLocation();
  if (parser.parseKeyword(&keyword))
    return {};
  std::optional<ShardKind> kind = symbolizeShardKind(keyword);
  if (!kind) {
    parser.emitError(kindLoc,
                     "expected 'replicated', 'split' or 'partial', got '")
        << keyword << "'";
    return {};
  }
  int64_t dim = -1;
  if (*kind == ShardKind::Split &&
      (parser.parseEqual() || parser.parseInteger(dim)))
    return {};
  std::string axis = kDefaultAxis.str();
  int64_t groups = 1;
  while (succeeded(parser.parseOptionalComma())) {
    StringRef key;
    SMLoc keyLoc = parser.getCurrentLocation();
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return {};
    if (key == "axis") {
      if (parser.parseString(&axis))
        return {};
    } else if (key == "groups") {
      if (parser.parseInteger(groups))
        return {};
    } else {
      parser.emitError(keyLoc, "expected 'axis' or 'groups', got '")
          << key << "'";
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<ShardingAttr>(parser.getContext(), *kind, dim, axis,
                                         groups);
}

void ShardingAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyShardKind(getKind());
  if (getKind() == ShardKind::Split)
    printer << " = " << getDim();
  if (getGroups() != 1)
    printer << ", groups = " << getGroups();
  if (getAxis() != kDefaultAxis)
    printer << ", axis = \"" << getAxis() << "\"";
  printer << ">";
}

ShardingAttr ShardingAttr::getReplicated(MLIRContext *context, StringRef axis) {
  return get(context, ShardKind::Replicated, -1, axis, 1);
}

ShardingAttr ShardingAttr::getSplit(MLIRContext *context, int64_t dim,
                                    StringRef axis, int64_t groups) {
  return get(context, ShardKind::Split, dim, axis, groups);
}

ShardingAttr ShardingAttr::getPartial(MLIRContext *context, StringRef axis) {
  return get(context, ShardKind::Partial, -1, axis, 1);
}

LogicalResult
WeightSliceAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t dim, int64_t parts, int64_t groups,
                        ArrayRef<int64_t> full, int64_t replicas) {
  if (dim < 0)
    return emitError() << "slice dim must be >= 0, got " << dim;
  if (replicas < 1 || (replicas > 1 && groups != 1))
    return emitError() << "slice replicas must be >= 1 (and groups 1 when "
                          "above 1), got replicas = "
                       << replicas << ", groups = " << groups;
  if (parts < 1 || groups < 1)
    return emitError() << "slice parts and groups must be >= 1, got parts = "
                       << parts << ", groups = " << groups;
  // A contiguous split may pad the last chunk; interleaved groups may not.
  std::optional<int64_t> pieces = ::rose::checkedMul(parts, groups);
  if (!pieces)
    return emitError() << "slice: parts = " << parts
                       << " times groups = " << groups << " overflows";
  if (groups > 1 && dim < static_cast<int64_t>(full.size()) &&
      full[dim] % *pieces != 0)
    return emitError() << "slice: dim " << dim << " of size " << full[dim]
                       << " is not divisible into " << groups << " groups of "
                       << parts << " parts";
  return success();
}

LogicalResult ShardingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   ShardKind kind, int64_t dim, StringRef axis,
                                   int64_t groups) {
  if (axis.empty())
    return emitError() << "sharding axis name must not be empty";
  if (groups < 1 || (kind != ShardKind::Split && groups != 1))
    return emitError() << "groups = " << groups
                       << ": only a split takes groups, and at least 1";
  if (kind == ShardKind::Split && dim < 0)
    return emitError() << "split dim must be >= 0, got " << dim;
  if (kind != ShardKind::Split && dim != -1)
    return emitError() << stringifyShardKind(kind) << " sharding takes no dim";
  return success();
}

//===----------------------------------------------------------------------===//
// Discardable attributes
//===----------------------------------------------------------------------===//

/// Checks one result's sharding against the result's rank.
static LogicalResult verifyResultSharding(Operation *op, Attribute attr,
                                          unsigned resultIndex) {
  auto sharding = dyn_cast<ShardingAttr>(attr);
  if (!sharding)
    return op->emitOpError()
           << "'" << RoseDialect::kShardingAttrName << "' entry for result #"
           << resultIndex << " must be a #rose.shard, got " << attr;
  if (sharding.getKind() != ShardKind::Split)
    return success();
  auto type = dyn_cast<RankedTensorType>(op->getResult(resultIndex).getType());
  if (!type)
    return op->emitOpError()
           << "'" << RoseDialect::kShardingAttrName << "' splits result #"
           << resultIndex << ", which is not a ranked tensor";
  if (sharding.getDim() >= type.getRank())
    return op->emitOpError()
           << "'" << RoseDialect::kShardingAttrName << "' splits dim "
           << sharding.getDim() << " but result #" << resultIndex
           << " has rank " << type.getRank();
  return success();
}

LogicalResult RoseDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  // Module-level facts the importers record: where the weights are and the
  // model's hyperparameters.
  if (name == kWeightsAttrName || name == kModelConfigAttrName ||
      name == kTPAttrName) {
    if (!isa<ModuleOp>(op))
      return op->emitOpError() << "'" << name << "' belongs on a module";
    if (name == kTPAttrName) {
      auto tp = dyn_cast<IntegerAttr>(attr.getValue());
      if (!tp || tp.getInt() < 1)
        return op->emitOpError()
               << "'" << name << "' must be a positive integer";
    }
    if (name == kWeightsAttrName && !isa<StringAttr>(attr.getValue()))
      return op->emitOpError() << "'" << name << "' must be a string path";
    if (name == kModelConfigAttrName && !isa<DictionaryAttr>(attr.getValue()))
      return op->emitOpError() << "'" << name << "' must be a dictionary";
    return success();
  }
  if (name == kShardingPadAttrName) {
    if (!isa<UnitAttr>(attr.getValue()))
      return op->emitOpError() << "'" << name << "' must be a unit attribute";
    return success();
  }
  if (name == kShardingOriginAttrName) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitOpError() << "'" << name << "' must be a string";
    return success();
  }
  if (name == kShardingPriorityAttrName) {
    auto priority = dyn_cast<IntegerAttr>(attr.getValue());
    if (!priority || priority.getInt() < 0)
      return op->emitOpError()
             << "'" << name << "' must be a non-negative integer";
    return success();
  }
  if (name != kShardingAttrName && name != kShardingOutAttrName)
    return op->emitOpError() << "unknown rose attribute '" << name << "'";
  // One result: a bare #rose.shard; several: an array with one per result.
  if (auto array = dyn_cast<ArrayAttr>(attr.getValue())) {
    if (array.size() != op->getNumResults())
      return op->emitOpError()
             << "'" << name << "' has " << array.size()
             << " entries but the op has " << op->getNumResults() << " results";
    for (auto [i, entry] : llvm::enumerate(array))
      if (failed(verifyResultSharding(op, entry, i)))
        return failure();
    return success();
  }
  if (op->getNumResults() != 1)
    return op->emitOpError()
           << "'" << kShardingAttrName << "' on an op with "
           << op->getNumResults()
           << " results must be an array with one #rose.shard per result";
  return verifyResultSharding(op, attr.getValue(), 0);
}
