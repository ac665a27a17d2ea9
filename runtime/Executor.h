//===- Executor.h - runs one rank of a program on a backend -----*- C++ -*-===//
//
// The one executor: for every backend (Backend.h) it binds the symbols of a
// call, lays out the arena (Program.h: CallLayout), resolves each op's
// operands to device addresses and shapes, turns slicing ops and the
// collectives' chunk interleaving into strided copies, calls one backend
// kernel per compute op and the communicator for collectives, and keeps
// the trace and checkpoints. Backends never see the program.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_EXECUTOR_H
#define ROSE_RUNTIME_EXECUTOR_H

#include "runtime/Backend.h"
#include "runtime/Communicator.h"
#include "runtime/Program.h"
#include "runtime/Weights.h"

#include <memory>
#include <string>
#include <vector>

namespace rose {

/// One op's time on one rank, for --profile.
struct OpEvent {
  std::string name;  // op kind
  std::string layer; // "h.0.attn.c_proj"
  bool collective = false;
  double startUs = 0, durationUs = 0;
};

/// A value kept for --check-against: its name, this rank's shape, data.
struct Checkpoint {
  std::string name;
  Shape shape;
  std::vector<float> data;
};

/// The persistent buffers of one rank (Program.buffers, the KV cache):
/// each allocated zeroed by the first call that uses it, at that call's
/// shape, then kept across calls and shared by the executors of every
/// entry on the rank (prefill writes what decode reads).
class BufferSet {
public:
  explicit BufferSet(Backend &backend) : backend(backend) {}
  /// Buffer `index` of `program` at `shape`: allocated now, or the one
  /// already there, which must have that shape.
  StatusOr<void *> get(const fb::Program &program, int32_t index,
                       const Shape &shape);
  /// Frees every buffer (a new sequence starts from zeros); executors
  /// find the new ones on their next call.
  void reset() {
    buffers.clear();
    shapes.clear();
    ++generation_;
  }
  size_t bytes() const;
  uint64_t generation() const { return generation_; }

private:
  uint64_t generation_ = 0;
  Backend &backend;
  std::vector<Backend::Buffer> buffers;
  std::vector<Shape> shapes;
};

class Executor {
public:
  /// Places the rank's params on `backend`. The backend, communicator and
  /// `buffers` outlive the executor; without `buffers`, the executor keeps
  /// its entry's persistent buffers itself.
  static StatusOr<std::unique_ptr<Executor>>
  create(const Entry &entry, const RankWeights &weights, Backend &backend,
         Communicator &comm, BufferSet *buffers = nullptr);
  /// On a mesh of several axes: one communicator per axis (this rank's
  /// group along it, in mesh order).
  static StatusOr<std::unique_ptr<Executor>>
  create(const Entry &entry, const RankWeights &weights, Backend &backend,
         std::vector<Communicator *> comms, BufferSet *buffers = nullptr);

  /// Binds the symbols for batch x seq tokens and `extra` (see
  /// layoutCall): lays out the call (or takes `laid`, a layout the caller
  /// already checked for that binding), sizes the arena and the
  /// collectives' staging, and finds the persistent buffers. A no-op when
  /// bound to the same values.
  Status bind(int64_t batch, int64_t seq, const CallLayout *laid = nullptr,
              const SymbolValues &extra = {});

  /// One call: binds, uploads the token ids, runs every op, waits. With
  /// `trace`, times each op; with `checkpoints`, copies each checkpoint
  /// value (program order) as it is produced, since the memory plan reuses
  /// its slot afterwards.
  Status run(const int64_t *tokens, int64_t batch, int64_t seq,
             std::vector<OpEvent> *trace = nullptr,
             std::vector<Checkpoint> *checkpoints = nullptr,
             const SymbolValues &extra = {});

  /// Whether run() enqueues the call through Backend::launchCaptured (a
  /// CUDA graph per call) when every communicator allows capture and no
  /// trace or checkpoint is asked for.
  void useGraphs(bool on) { graphs_ = on; }
  /// Whether the last run() went through launchCaptured.
  bool ranAsGraph() const { return ranAsGraph_; }

  /// The ops of the bound call on the backend, without waiting (what a
  /// CUDA graph captures); `marks` records timing marks around each op.
  Status enqueue(bool marks = false,
                 std::vector<Checkpoint> *checkpoints = nullptr);
  /// Waits for the collectives and the backend.
  Status finish();

  /// A value of the last call as float32 on the host.
  StatusOr<std::vector<float>> read(int32_t value);
  /// A float value read in place, when the backend's memory is the host's
  /// (null otherwise).
  const float *hostFloats(int32_t value) const;
  const Shape &shapeOf(int32_t value) const { return layout.shapes[value]; }
  const Entry &entry() const { return entry_; }
  size_t paramBytes() const { return paramBytes_; }

private:
  Executor(const Entry &entry, Backend &backend,
           std::vector<Communicator *> comms);
  Status runOp(const fb::Op &op);
  /// all_reduce, all_gather, reduce_scatter, all_to_all, shard_slice
  /// (ExecutorCollectives.cpp).
  Status runCollective(const fb::Op &op);
  Status matmul(const fb::Op &op, const void *x, const Shape &xShape,
                const void *w, const Shape &wShape, const void *bias, void *y,
                const Shape &outShape);
  Status copyAxis(const void *x, const Shape &xShape, int64_t axis,
                  int64_t xStart, void *y, int64_t yRows, int64_t yStart,
                  int64_t len);
  void *data(int32_t value) const;
  const void *operand(const fb::Operand *o) const;
  const Shape &operandShape(const fb::Operand *o) const;

  Entry entry_;
  Backend &backend;
  std::vector<Communicator *> comms; // per mesh axis
  bool graphs_ = false, ranAsGraph_ = false;
  std::vector<Shape> paramShapes_;
  std::vector<const void *> params; // null for params the entry never reads
  size_t paramBytes_ = 0;
  CallLayout layout;
  int64_t batch = 0, seq = 0;
  bool bound = false;
  uint64_t boundGeneration = 0;
  SymbolValues boundExtra;
  std::unique_ptr<BufferSet> ownBuffers;
  BufferSet *buffers = nullptr;
  std::vector<void *> bufferAddress; // per value in a persistent buffer
  Backend::Buffer arena{nullptr, {}}, scratch{nullptr, {}};
  size_t arenaBytes = 0, scratchBytes = 0;
};

} // namespace rose

#endif // ROSE_RUNTIME_EXECUTOR_H
