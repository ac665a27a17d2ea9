//===- LlamaBuilder.h - Llama-family Hugging Face checkpoints ---*- C++ -*-===//
#ifndef ROSE_FRONTEND_LLAMABUILDER_H
#define ROSE_FRONTEND_LLAMABUILDER_H

#include "dialect/RoseOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace mlir::rose {

/// The hyperparameters of LlamaForCausalLM and Qwen2ForCausalLM that rose
/// reads (config.json names in comments).
struct LlamaConfig {
  std::string modelType;      // model_type: llama, mistral, qwen2
  int64_t vocabSize = 0;      // vocab_size
  int64_t hidden = 0;         // hidden_size
  int64_t intermediate = 0;   // intermediate_size
  int64_t numLayers = 0;      // num_hidden_layers
  int64_t numHeads = 0;       // num_attention_heads
  int64_t numKvHeads = 0;     // num_key_value_heads (default: heads)
  int64_t headDim = 0;        // head_dim (default: hidden / heads)
  double rmsEps = 1e-6;       // rms_norm_eps
  bool qkvBias = false;       // attention_bias (llama); always for qwen2
  bool tiedLMHead = false;    // tie_word_embeddings
  int64_t slidingWindow = 0;  // mistral's sliding_window (0: none)
  std::vector<float> invFreq; // from rope_theta and rope_scaling
};

/// True when config.json describes a model this importer builds.
bool isLlamaFamily(llvm::StringRef modelType);

/// The fields of a parsed Llama-family config.json (`path` names it in
/// errors). Errors name the file and the field; unsupported options
/// (rope_scaling types that need more than the config, biases on the MLP,
/// another activation) are errors.
llvm::Expected<LlamaConfig> readLlamaConfig(const nlohmann::json &config,
                                            llvm::StringRef path);

/// Imports a Llama-family checkpoint directory (config.json and
/// model.safetensors or its sharded index) into rose IR.
llvm::Expected<OwningOpRef<ModuleOp>>
importLlamaCheckpoint(MLIRContext &context, llvm::StringRef dir,
                      const LlamaConfig &config);

} // namespace mlir::rose

#endif // ROSE_FRONTEND_LLAMABUILDER_H
