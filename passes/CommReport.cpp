//===- CommReport.cpp - collectives and bytes per block
//--------------------===//
#include "passes/Passes.h"
#include "passes/ShardingPlan.h"
#include "runtime/CheckedMath.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <limits>
#include <map>

namespace mlir::rose {
#define GEN_PASS_DEF_ROSECOMMREPORT
#include "passes/Passes.h.inc"
} // namespace mlir::rose

using namespace mlir;
using namespace mlir::rose;

namespace {

/// The layer a collective serves: rose-tp-shard names it in the location.
std::string layerOf(Operation *op) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str();
  return "(unnamed)";
}

struct Row {
  int64_t allReduce = 0, allGather = 0, reduceScatter = 0, shardSlice = 0,
          allToAll = 0;
  int64_t staticBytes = 0; // bytes of the static dims of the results
  bool perToken = false;
};

struct RoseCommReportPass
    : public mlir::rose::impl::RoseCommReportBase<RoseCommReportPass> {
  using RoseCommReportBase::RoseCommReportBase;

  void runOnOperation() override {
    // Blocks in first-appearance order.
    std::vector<std::string> order;
    std::map<std::string, Row> rows;
    // The mesh: "tp=2", or "dp=2, tp=2" (then rows are per block and axis:
    // "h.0/tp").
    std::string mesh;
    bool multiAxis = false;
    if (MeshOp meshOp = MeshOp::find(getOperation())) {
      multiAxis = meshOp.getAxes().size() > 1;
      for (auto [i, axis] : llvm::enumerate(meshOp.getAxes()))
        mesh += (i ? ", " : "") + cast<StringAttr>(axis).str() + "=" +
                std::to_string(meshOp.getSizes()[i]);
    } else {
      auto attr =
          getOperation()->getAttrOfType<IntegerAttr>(RoseDialect::kTPAttrName);
      mesh = "tp=" + std::to_string(attr ? attr.getInt() : 1);
    }
    Operation *overflowed = nullptr;
    getOperation().walk([&](Operation *op) {
      if (!isa<AllReduceOp, AllGatherOp, ReduceScatterOp, ShardSliceOp,
               AllToAllOp>(op))
        return;
      std::string block = blockName(layerOf(op));
      if (multiAxis)
        block += "/" + op->getAttrOfType<StringAttr>("axis").str();
      if (!rows.count(block))
        order.push_back(block);
      Row &row = rows[block];
      if (isa<AllReduceOp>(op))
        ++row.allReduce;
      else if (isa<AllGatherOp>(op))
        ++row.allGather;
      else if (isa<ReduceScatterOp>(op))
        ++row.reduceScatter;
      else if (isa<AllToAllOp>(op))
        ++row.allToAll;
      else
        ++row.shardSlice;
      if (isa<ShardSliceOp>(op))
        return; // local, moves nothing
      // The payload each rank contributes: the collective's input.
      auto type = cast<RankedTensorType>(op->getOperand(0).getType());
      std::optional<int64_t> bytes = type.getElementTypeBitWidth() / 8;
      for (int64_t d : type.getShape()) {
        if (ShapedType::isDynamic(d))
          row.perToken = true;
        else if (bytes)
          bytes = ::rose::checkedMul(*bytes, d);
      }
      if (bytes)
        bytes = ::rose::checkedAdd(row.staticBytes, *bytes);
      if (!bytes && !overflowed)
        overflowed = op;
      row.staticBytes = bytes.value_or(0);
    });
    if (overflowed) {
      overflowed->emitOpError("rose-comm-report: payload bytes overflow");
      return signalPassFailure();
    }

    std::error_code ec;
    llvm::raw_fd_ostream file(std::string(output), ec);
    if (ec) {
      getOperation().emitError() << "rose-comm-report: cannot write '" << output
                                 << "': " << ec.message();
      return signalPassFailure();
    }
    file << "rose comm report (" << mesh
         << "): collectives per block; bytes = payload each rank sends\n";
    file << llvm::formatv("{0,-10} {1,10} {2,10} {3,14} {4,11} {5,10}  {6}\n",
                          "block", "all_reduce", "all_gather", "reduce_scatter",
                          "shard_slice", "all_to_all", "bytes/rank");
    Row total;
    for (const std::string &block : order) {
      const Row &r = rows[block];
      file << llvm::formatv("{0,-10} {1,10} {2,10} {3,14} {4,11} {5,10}  "
                            "{6}{7}\n",
                            block, r.allReduce, r.allGather, r.reduceScatter,
                            r.shardSlice, r.allToAll, r.staticBytes,
                            r.perToken ? " per token" : "");
      total.allReduce += r.allReduce;
      total.allGather += r.allGather;
      total.reduceScatter += r.reduceScatter;
      total.shardSlice += r.shardSlice;
      total.allToAll += r.allToAll;
      // Each row's bytes were checked; their sum saturates in the report.
      total.staticBytes = ::rose::checkedAdd(total.staticBytes, r.staticBytes)
                              .value_or(std::numeric_limits<int64_t>::max());
      total.perToken |= r.perToken;
    }
    file << llvm::formatv(
        "{0,-10} {1,10} {2,10} {3,14} {4,11} {5,10}  {6}{7}\n", "total",
        total.allReduce, total.allGather, total.reduceScatter, total.shardSlice,
        total.allToAll, total.staticBytes, total.perToken ? " per token" : "");
    // Grouped-query attention over more ranks than kv heads: the weight
    // bytes each rank holds for its replicated kv heads, and how many more
    // that is than an even split of those tensors would give it.
    int64_t replicated = 0, held = 0, extra = 0;
    getOperation().walk([&](ParamOp p) {
      WeightSliceAttr slice = p.getSliceAttr();
      if (!slice || slice.getReplicas() <= 1)
        return;
      int64_t bytes = p.getType().getElementTypeBitWidth() / 8;
      int64_t local = bytes * p.getType().getNumElements(), full = bytes;
      for (int64_t d : slice.getFull())
        full *= d;
      ++replicated;
      held += local;
      extra += local - full / (slice.getParts() * slice.getReplicas());
    });
    if (replicated)
      file << llvm::formatv("kv heads replicated: {0} params, {1} weight bytes "
                            "per rank, {2} more than an even split\n",
                            replicated, held, extra);
    markAllAnalysesPreserved();
  }
};

} // namespace
