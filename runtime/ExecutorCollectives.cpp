//===- ExecutorCollectives.cpp - the executor's collective ops ------------===//
//
// Collectives on the backend's buffers: the communicator exchanges
// contiguous chunks, and the executor lays them out along the op's dims
// (interleaving gathered chunks, packing a reduce_scatter's or an
// all_to_all's chunks per rank) with strided copies.
//
//===----------------------------------------------------------------------===//
#include "runtime/Executor.h"
#include "runtime/Shape.h"

using namespace rose;

Status Executor::runCollective(const fb::Op &op) {
  auto operands = op.operands();
  int32_t result = op.results()->Get(0);
  void *y = data(result);
  const Shape &outShape = shapeOf(result);
  auto in = [&](size_t i) { return operand(operands->Get(i)); };
  auto inShape = [&](size_t i) -> const Shape & {
    return operandShape(operands->Get(i));
  };
  const size_t es = storageBytes(backend.storage());
  // Each collective runs within the group of its mesh axis (validated).
  Communicator &comm = *comms[collectiveAxis(op)];
  int tp = comm.size(), rank = comm.rank();

  switch (op.attrs_type()) {
  case fb::OpAttrs::ShardSlice: {
    const Shape &full = inShape(0);
    int64_t dim = op.attrs_as_ShardSlice()->dim();
    if (full[dim] % tp != 0)
      return Status::error("dim ", dim, " of size ", full[dim],
                           " is not divisible by tp=", tp);
    int64_t part = full[dim] / tp;
    return copyAxis(in(0), full, dim, rank * part, y, part, 0, part);
  }
  case fb::OpAttrs::AllReduce: {
    size_t n = numElements(outShape);
    if (y != in(0) && n)
      ROSE_RETURN_IF_ERROR(backend.copy2D(y, n * es, in(0), n * es, n * es, 1));
    return comm.allReduceSum(y, n).withContext("all_reduce");
  }
  case fb::OpAttrs::AllGather: {
    // Gather contiguous chunks, then interleave them along `dim`: rank r's
    // chunk row o lands at row o, slot r.
    const Shape &local = inShape(0);
    int64_t outer = 1;
    for (int64_t d = 0; d < op.attrs_as_AllGather()->dim(); ++d)
      outer *= local[d];
    int64_t chunk = numElements(local), inner = outer ? chunk / outer : 0;
    ROSE_RETURN_IF_ERROR(
        comm.allGather(in(0), chunk, scratch.get()).withContext("all_gather"));
    if (chunk == 0)
      return Status::success();
    for (int r = 0; r < tp; ++r)
      ROSE_RETURN_IF_ERROR(backend.copy2D(
          static_cast<char *>(y) + r * inner * es, tp * inner * es,
          static_cast<char *>(scratch.get()) + r * chunk * es, inner * es,
          inner * es, outer));
    return Status::success();
  }
  case fb::OpAttrs::AllToAll: {
    // Pack chunk j of split_dim contiguously for rank j, exchange, then put
    // rank r's chunk at slot r of concat_dim.
    auto *a = op.attrs_as_AllToAll();
    const Shape &local = inShape(0);
    int64_t part = outShape[a->split_dim()], rows = local[a->concat_dim()];
    Shape slab = local;
    slab[a->split_dim()] = part;
    size_t chunk = numElements(slab);
    char *send = static_cast<char *>(scratch.get());
    char *recv = send + chunk * tp * es;
    for (int j = 0; j < tp; ++j)
      ROSE_RETURN_IF_ERROR(copyAxis(in(0), local, a->split_dim(), j * part,
                                    send + j * chunk * es, part, 0, part));
    ROSE_RETURN_IF_ERROR(
        comm.allToAll(send, chunk, recv).withContext("all_to_all"));
    for (int r = 0; r < tp; ++r)
      ROSE_RETURN_IF_ERROR(copyAxis(recv + r * chunk * es, slab,
                                    a->concat_dim(), 0, y,
                                    outShape[a->concat_dim()], r * rows, rows));
    return Status::success();
  }
  case fb::OpAttrs::ReduceScatter: {
    // The inverse: slot r of every row o goes to rank r's contiguous chunk.
    const Shape &full = inShape(0);
    int64_t outer = 1;
    for (int64_t d = 0; d < op.attrs_as_ReduceScatter()->dim(); ++d)
      outer *= full[d];
    int64_t inner = outer ? numElements(full) / outer / tp : 0;
    int64_t chunk = outer * inner;
    if (chunk)
      for (int r = 0; r < tp; ++r)
        ROSE_RETURN_IF_ERROR(backend.copy2D(
            static_cast<char *>(scratch.get()) + r * chunk * es, inner * es,
            static_cast<const char *>(in(0)) + r * inner * es, tp * inner * es,
            inner * es, outer));
    return comm.reduceScatterSum(scratch.get(), chunk, y)
        .withContext("reduce_scatter");
  }
  default:
    break;
  }
  return Status::error("not a collective: ", opName(op));
}
