//===- HFCheckpoint.cpp - import Hugging Face GPT-2 checkpoints
//------------===//
#include "frontend/HFCheckpoint.h"
#include "frontend/LlamaBuilder.h"

#include "runtime/WeightFiles.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include <nlohmann/json.hpp>

using namespace mlir;
using namespace mlir::rose;
using json = nlohmann::json;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The largest size a config.json field may give.
static constexpr int64_t kMaxConfigValue = (int64_t(1) << 31) - 1;

/// Reads an integer field; `fallback` applies when the field is absent or
/// null. The JSON library runs without exceptions, so types are checked first.
static llvm::Expected<int64_t> intField(const json &config, StringRef path,
                                        const char *key,
                                        std::optional<int64_t> fallback) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) {
    if (fallback)
      return *fallback;
    return makeError(path + ": missing '" + key + "'");
  }
  if (!it->is_number_integer() || it->get<int64_t>() <= 0)
    return makeError(path + ": '" + key + "' must be a positive integer");
  // Sizes derived from these (3 * n_embd, vocab x n_embd, ...) must not
  // overflow; no real model comes near 2^31 in any one of them.
  if (it->get<int64_t>() > kMaxConfigValue)
    return makeError(
        path + ": '" + key + "' = " + llvm::Twine(it->get<int64_t>()) +
        " is too large (max " + llvm::Twine(kMaxConfigValue) + ")");
  return it->get<int64_t>();
}

llvm::Expected<json> mlir::rose::readConfigJson(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return makeError(path + ": cannot read: " + buffer.getError().message());
  json config = json::parse((*buffer)->getBufferStart(),
                            (*buffer)->getBufferEnd(), nullptr,
                            /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object())
    return makeError(path + ": not a JSON object");
  return config;
}

llvm::Expected<GPTConfig> mlir::rose::readHFConfig(const json &config,
                                                   StringRef path) {
  GPTConfig c;
  auto read = [&](int64_t &field, const char *key,
                  std::optional<int64_t> fallback) -> llvm::Error {
    llvm::Expected<int64_t> value = intField(config, path, key, fallback);
    if (!value)
      return value.takeError();
    field = *value;
    return llvm::Error::success();
  };
  if (llvm::Error e = read(c.vocabSize, "vocab_size", std::nullopt))
    return std::move(e);
  if (llvm::Error e = read(c.maxPositions, "n_positions", std::nullopt))
    return std::move(e);
  if (llvm::Error e = read(c.dModel, "n_embd", std::nullopt))
    return std::move(e);
  if (llvm::Error e = read(c.numLayers, "n_layer", std::nullopt))
    return std::move(e);
  if (llvm::Error e = read(c.numHeads, "n_head", std::nullopt))
    return std::move(e);
  if (llvm::Error e = read(c.dFF, "n_inner", 4 * c.dModel))
    return std::move(e);
  if (c.dModel % c.numHeads != 0)
    return makeError(path + ": n_head = " + llvm::Twine(c.numHeads) +
                     " does not divide n_embd = " + llvm::Twine(c.dModel));

  if (auto it = config.find("layer_norm_epsilon");
      it != config.end() && !it->is_null()) {
    if (!it->is_number() || !(it->get<double>() > 0.0))
      return makeError(path + ": 'layer_norm_epsilon' must be a positive "
                              "number");
    c.layerNormEps = it->get<double>();
  }
  if (auto it = config.find("activation_function");
      it != config.end() && !it->is_null()) {
    std::string act = it->is_string() ? it->get<std::string>() : "";
    // HF's names: gelu_new and gelu_pytorch_tanh are the tanh form; gelu is
    // exact (erf).
    if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast")
      c.gelu = GeluApproximation::Tanh;
    else if (act == "gelu")
      c.gelu = GeluApproximation::None;
    else if (act == "relu")
      c.relu = true;
    else
      return makeError(path + ": unsupported activation_function '" + act +
                       "' (supported: gelu_new, gelu_pytorch_tanh, "
                       "gelu_fast, gelu, relu)");
  }
  // Attention options of HF's GPT2Attention that change the numbers. rose's
  // attention always scales by 1/sqrt(head_dim) and computes in fp32, so the
  // defaults are honoured, the fp32 upcast is what rose does anyway, and the
  // other scalings are refused rather than silently ignored.
  auto boolField = [&](const char *key, bool fallback) -> std::optional<bool> {
    auto it = config.find(key);
    if (it == config.end() || it->is_null())
      return fallback;
    if (!it->is_boolean())
      return std::nullopt;
    return it->get<bool>();
  };
  for (auto [key, supported] :
       {std::pair<const char *, bool>{"scale_attn_weights", true},
        {"scale_attn_by_inverse_layer_idx", false},
        {"reorder_and_upcast_attn", false}}) {
    std::optional<bool> value = boolField(key, supported);
    if (!value)
      return makeError(path + ": '" + key + "' must be a boolean");
    // reorder_and_upcast_attn only moves fp16 rounding: rose is fp32 there.
    if (*value != supported && StringRef(key) != "reorder_and_upcast_attn")
      return makeError(
          path + ": unsupported '" + key + "': " + (*value ? "true" : "false") +
          " (rose supports " + (supported ? "true" : "false") + ")");
  }
  if (auto it = config.find("tie_word_embeddings"); it != config.end()) {
    if (!it->is_boolean())
      return makeError(path + ": 'tie_word_embeddings' must be a boolean");
    c.tiedLMHead = it->get<bool>();
  }
  return c;
}

static Type elementTypeFor(MLIRContext &context, ::rose::DType dtype) {
  switch (dtype) {
  case ::rose::DType::F32:
    return Float32Type::get(&context);
  case ::rose::DType::F16:
    return Float16Type::get(&context);
  case ::rose::DType::BF16:
    return BFloat16Type::get(&context);
  default:
    return {};
  }
}

/// What generation needs from config.json, added to the module's model
/// config: the ids that end a sequence (`eos_token_id`: an id, a list of
/// ids, or null) and, for Llama-family models, `max_position_embeddings`.
static llvm::Expected<OwningOpRef<ModuleOp>>
withGenerationConfig(llvm::Expected<OwningOpRef<ModuleOp>> module,
                     const json &config, StringRef path) {
  if (!module)
    return module;
  std::vector<int64_t> eos;
  if (auto it = config.find("eos_token_id");
      it != config.end() && !it->is_null()) {
    for (const json &id : it->is_array() ? *it : json::array({*it})) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0)
        return makeError(path + ": 'eos_token_id' must be a token id or a "
                                "list of them");
      eos.push_back(id.get<int64_t>());
    }
  }
  Operation *op = (*module)->getOperation();
  Builder b(op->getContext());
  auto dict =
      op->getAttrOfType<DictionaryAttr>(RoseDialect::kModelConfigAttrName);
  NamedAttrList attrs(dict);
  if (!eos.empty())
    attrs.set("eos_token_ids", b.getDenseI64ArrayAttr(eos));
  if (auto it = config.find("max_position_embeddings");
      it != config.end() && it->is_number_integer() && *it > 0 &&
      it->get<int64_t>() <= kMaxConfigValue)
    attrs.set("max_position_embeddings",
              b.getI64IntegerAttr(it->get<int64_t>()));
  op->setAttr(RoseDialect::kModelConfigAttrName,
              attrs.getDictionary(op->getContext()));
  return module;
}

static llvm::Expected<OwningOpRef<ModuleOp>>
importHFModule(MLIRContext &context, StringRef dir, const json &parsed,
               StringRef configPath);

llvm::Expected<OwningOpRef<ModuleOp>>
mlir::rose::importHFCheckpoint(MLIRContext &context, StringRef dir) {
  llvm::SmallString<256> configPath(dir);
  llvm::sys::path::append(configPath, "config.json");
  llvm::Expected<json> parsed = readConfigJson(configPath);
  if (!parsed)
    return parsed.takeError();
  return withGenerationConfig(importHFModule(context, dir, *parsed, configPath),
                              *parsed, configPath);
}

static llvm::Expected<OwningOpRef<ModuleOp>>
importHFModule(MLIRContext &context, StringRef dir, const json &parsedConfig,
               StringRef configPath) {
  const json *parsed = &parsedConfig;
  // Llama-family checkpoints say so in model_type; the rest are GPT-2.
  if (auto type = parsed->find("model_type");
      type != parsed->end() && type->is_string()) {
    if (isLlamaFamily(type->get<std::string>())) {
      llvm::Expected<LlamaConfig> llama = readLlamaConfig(*parsed, configPath);
      if (!llama)
        return llama.takeError();
      return importLlamaCheckpoint(context, dir, *llama);
    }
  }
  llvm::Expected<GPTConfig> config = readHFConfig(*parsed, configPath);
  if (!config)
    return config.takeError();

  // model.safetensors, or the shards model.safetensors.index.json names.
  auto file = ::rose::WeightFiles::open(dir.str());
  if (!file)
    return makeError(file.status().message());
  const ::rose::WeightFiles &weights = **file;
  std::string weightsPath = weights.path();

  // HF saves GPT2LMHeadModel with a `transformer.` prefix on the body, and
  // GPT2Model without; lm_head.weight never has it.
  std::string prefix =
      !weights.find("wte.weight") && weights.find("transformer.wte.weight")
          ? "transformer."
          : "";
  auto fileName = [&](StringRef canonical) -> std::string {
    if (canonical == "lm_head.weight")
      return canonical.str();
    return prefix + canonical.str();
  };

  ::rose::WeightFiles::Tensor wte = weights.find(fileName("wte.weight"));
  if (!wte)
    return makeError(weightsPath + ": missing tensor 'wte.weight'");
  // Weights stored as F16 or BF16 (most published checkpoints) are
  // converted to float32 per rank as they load; the model computes in
  // float32 on the CPU (the CUDA backend stores what --dtype says).
  ::rose::DType dtype = wte.entry->dtype;
  if (!elementTypeFor(context, dtype))
    return makeError(weights.fileFor(fileName("wte.weight")) +
                     ": tensor 'wte.weight' has dtype " +
                     std::string(::rose::dtypeName(dtype)) +
                     "; rose models are F32, F16 or BF16");
  Type elementType = Float32Type::get(&context);

  for (const auto &[canonical, shape] : expectedGPT2Tensors(*config)) {
    std::string name = fileName(canonical);
    ::rose::WeightFiles::Tensor tensor = weights.find(name);
    const ::rose::TensorEntry *entry = tensor.entry;
    if (!entry)
      return makeError(
          weights.fileFor(name) + ": missing tensor '" + name +
          "' (config.json: n_layer = " + llvm::Twine(config->numLayers) +
          (config->tiedLMHead ? ""
                              : ", tie_word_embeddings = "
                                "false") +
          ")");
    if (entry->dtype != dtype)
      return makeError(
          tensor.file->path() + ": tensor '" + name + "' has dtype " +
          std::string(::rose::dtypeName(entry->dtype)) +
          " but wte.weight has " + std::string(::rose::dtypeName(dtype)));
    if (entry->shape != shape)
      return makeError(tensor.file->path() + ": tensor '" + name +
                       "' has shape " + formatShape(entry->shape) +
                       " but config.json implies " + formatShape(shape));
  }

  llvm::SmallString<256> absolute(weightsPath);
  llvm::sys::fs::make_absolute(absolute);
  return buildGPT2(context, *config, elementType, absolute, fileName);
}
