//===- GPTBuilder.h - emit rose IR for a GPT-2 configuration ----*- C++ -*-===//
#ifndef ROSE_FRONTEND_GPTBUILDER_H
#define ROSE_FRONTEND_GPTBUILDER_H

#include "dialect/RoseOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <string>

namespace mlir::rose {

/// The GPT-2 hyperparameters rose needs (config.json names in comments).
struct GPTConfig {
  int64_t vocabSize = 0;      // vocab_size
  int64_t maxPositions = 0;   // n_positions
  int64_t dModel = 0;         // n_embd
  int64_t numLayers = 0;      // n_layer
  int64_t numHeads = 0;       // n_head
  int64_t dFF = 0;            // n_inner (null: 4 * n_embd)
  double layerNormEps = 1e-5; // layer_norm_epsilon
  GeluApproximation gelu = GeluApproximation::Tanh; // activation_function
  bool relu = false;      // activation_function "relu" (gelu unused then)
  bool tiedLMHead = true; // tie_word_embeddings
};

/// Emits `func.func @forward(%ids: tensor<?x?xi64>) -> logits` for a GPT-2
/// with pre-LN blocks, fused QKV, and a (possibly tied) LM head. `name` maps
/// a canonical HF tensor name ("h.0.attn.c_attn.weight", "lm_head.weight")
/// to the name in the weights file. The LM head weight is [vocab, d_model].
OwningOpRef<ModuleOp>
buildGPT2(MLIRContext &context, const GPTConfig &config, Type elementType,
          llvm::StringRef weightsPath,
          const std::function<std::string(llvm::StringRef)> &name);

/// The tensors a GPT-2 checkpoint must hold, with their [in, out] (Conv1D)
/// shapes, as canonical names.
std::vector<std::pair<std::string, std::vector<int64_t>>>
expectedGPT2Tensors(const GPTConfig &config);

} // namespace mlir::rose

#endif // ROSE_FRONTEND_GPTBUILDER_H
