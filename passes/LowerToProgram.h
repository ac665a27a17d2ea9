//===- LowerToProgram.h - rose IR to a runtime program file ----*- C++ -*-===//
#ifndef ROSE_PASSES_LOWERTOPROGRAM_H
#define ROSE_PASSES_LOWERTOPROGRAM_H

#include "mlir/IR/BuiltinOps.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::rose {

/// Statistics of a lowered function, for reports.
struct ProgramStats {
  int64_t ops = 0, values = 0, params = 0;
  int64_t peakBytesPerToken = 0;  // with liveness-based reuse
  int64_t naiveBytesPerToken = 0; // one buffer per value
  /// Generation entries: the cache rows, and the KV cache's bytes on the
  /// rank with the most, per sequence (0: no generation entries, and
  /// `noGeneration` says why).
  int64_t maxSeq = 0, cacheBytesPerSequence = 0;
  std::string noGeneration;
  /// The collectives of one decode step ("4 all_reduce"; empty: none).
  std::string decodeCollectives;
  /// Prefill computes the logits of each sequence's last position only.
  bool prefillLastRow = false;
};

/// What the generation entries ("prefill", "decode") need beyond the model.
struct GenerationOptions {
  /// Rows of the KV cache; 0: the model's positions (the config's
  /// n_positions or max_position_embeddings).
  int64_t maxSeq = 0;
  /// Fail when the model cannot generate (else the program only lacks the
  /// entries, and ProgramStats::noGeneration says why).
  bool required = false;
  /// The checkpoint directory whose tokenizer rose-run uses ("": none).
  std::string tokenizer;
};

/// Choices of the lowering that change speed, never results.
struct LoweringOptions {
  /// Fuse a GELU that is a matmul's only user into the matmul (its
  /// epilogue). Off: every op as it is (debugging, A/B timing).
  bool fuseEpilogues = true;
};

/// Lowers `main` (a module after the TP pipeline) and, when given, `dense`
/// (the same model at tp=1, for --check-against) into the bytes of a program
/// file. Fails with diagnostics on the offending op.
/// `version` overrides the format version (0: the current one), so tests can
/// make files "from another version". `generation` adds the prefill and
/// decode entries over a KV cache where the model allows (TokenLocal.h).
FailureOr<std::string>
lowerToProgram(ModuleOp main, ModuleOp dense, llvm::StringRef weightsPath,
               ProgramStats *stats = nullptr, unsigned version = 0,
               const GenerationOptions *generation = nullptr,
               const LoweringOptions &lowering = {});

} // namespace mlir::rose

#endif // ROSE_PASSES_LOWERTOPROGRAM_H
