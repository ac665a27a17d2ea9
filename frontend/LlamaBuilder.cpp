//===- LlamaBuilder.cpp - Llama-family Hugging Face checkpoints -----------===//
//
// LlamaForCausalLM and Qwen2ForCausalLM as published: RMS norms, q/k/v
// projections (biases for Qwen2) with rotary embeddings, grouped-query
// attention, a SiLU-gated MLP, a tied or separate LM head. nn.Linear weights
// are [out, in]: every projection is a matmul with transpose_rhs, so the
// params name the checkpoint's tensors as they are.
//
//===----------------------------------------------------------------------===//
#include "frontend/LlamaBuilder.h"

#include "runtime/WeightFiles.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include <nlohmann/json.hpp>

#include <cmath>

using namespace mlir;
using namespace mlir::rose;
using json = nlohmann::json;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

bool mlir::rose::isLlamaFamily(StringRef modelType) {
  return modelType == "llama" || modelType == "mistral" || modelType == "qwen2";
}

namespace {
/// Typed config.json fields; the JSON library runs without exceptions.
struct Fields {
  const json &config;
  StringRef path;

  llvm::Expected<int64_t> integer(const char *key,
                                  std::optional<int64_t> fallback) const {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) {
      if (fallback)
        return *fallback;
      return makeError(path + ": missing '" + key + "'");
    }
    if (!it->is_number_integer() || it->get<int64_t>() <= 0 ||
        it->get<int64_t>() > (int64_t(1) << 31))
      return makeError(path + ": '" + key +
                       "' must be a positive integer below 2^31");
    return it->get<int64_t>();
  }
  llvm::Expected<double> number(const json &obj, const char *key,
                                std::optional<double> fallback) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      if (fallback)
        return *fallback;
      return makeError(path + ": missing '" + key + "'");
    }
    if (!it->is_number() || !(it->get<double>() > 0.0))
      return makeError(path + ": '" + key + "' must be a positive number");
    return it->get<double>();
  }
  llvm::Expected<bool> boolean(const char *key, bool fallback) const {
    auto it = config.find(key);
    if (it == config.end() || it->is_null())
      return fallback;
    if (!it->is_boolean())
      return makeError(path + ": '" + key + "' must be a boolean");
    return it->get<bool>();
  }
};
} // namespace

/// Hugging Face's rotary frequencies, computed in float32 as it does:
/// 1 / theta^(2i / d), then rope_scaling (`linear`: divided by the factor;
/// `llama3`: long wavelengths divided, a smooth blend in between).
static llvm::Error ropeFrequencies(const Fields &f, int64_t headDim,
                                   std::vector<float> &out) {
  llvm::Expected<double> theta = f.number(f.config, "rope_theta", 10000.0);
  if (!theta)
    return theta.takeError();
  for (int64_t i = 0; i < headDim / 2; ++i)
    out.push_back(1.0f / std::pow(static_cast<float>(*theta),
                                  static_cast<float>(2 * i) /
                                      static_cast<float>(headDim)));
  auto it = f.config.find("rope_scaling");
  if (it == f.config.end() || it->is_null())
    return llvm::Error::success();
  if (!it->is_object())
    return makeError(f.path + ": 'rope_scaling' must be an object or null");
  const json &s = *it;
  std::string type;
  for (const char *key : {"rope_type", "type"})
    if (auto t = s.find(key); t != s.end() && t->is_string())
      type = t->get<std::string>();
  if (type == "default")
    return llvm::Error::success();
  llvm::Expected<double> factor = f.number(s, "factor", std::nullopt);
  if (type == "linear") {
    if (!factor)
      return factor.takeError();
    for (float &v : out)
      v = v / static_cast<float>(*factor);
    return llvm::Error::success();
  }
  if (type == "llama3") {
    llvm::Expected<double> low = f.number(s, "low_freq_factor", std::nullopt);
    llvm::Expected<double> high = f.number(s, "high_freq_factor", std::nullopt);
    llvm::Expected<double> old =
        f.number(s, "original_max_position_embeddings", std::nullopt);
    if (!factor || !low || !high || !old) {
      llvm::consumeError(factor.takeError());
      llvm::consumeError(low.takeError());
      llvm::consumeError(high.takeError());
      llvm::consumeError(old.takeError());
      return makeError(f.path + ": rope_scaling llama3 needs factor, "
                                "low_freq_factor, high_freq_factor and "
                                "original_max_position_embeddings");
    }
    if (!(*high > *low))
      return makeError(f.path + ": rope_scaling llama3 needs "
                                "high_freq_factor > low_freq_factor");
    float lowWavelen = *old / *low, highWavelen = *old / *high;
    for (float &v : out) {
      float wavelen = 2.0f * static_cast<float>(M_PI) / v;
      float scaled = wavelen > lowWavelen ? v / static_cast<float>(*factor) : v;
      if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
        float smooth = (static_cast<float>(*old) / wavelen - *low) /
                       static_cast<float>(*high - *low);
        scaled = (1 - smooth) * scaled / static_cast<float>(*factor) +
                 smooth * scaled;
      }
      v = scaled;
    }
    return llvm::Error::success();
  }
  return makeError(f.path + ": unsupported rope_scaling type '" + type +
                   "' (supported: default, linear, llama3)");
}

llvm::Expected<LlamaConfig> mlir::rose::readLlamaConfig(const json &config,
                                                        StringRef path) {
  Fields f{config, path};
  LlamaConfig c;
  c.modelType = config.value("model_type", "");
  for (auto [field, key] : {std::pair(&c.vocabSize, "vocab_size"),
                            std::pair(&c.hidden, "hidden_size"),
                            std::pair(&c.intermediate, "intermediate_size"),
                            std::pair(&c.numLayers, "num_hidden_layers"),
                            std::pair(&c.numHeads, "num_attention_heads")}) {
    llvm::Expected<int64_t> v = f.integer(key, std::nullopt);
    if (!v)
      return v.takeError();
    *field = *v;
  }
  llvm::Expected<int64_t> kv = f.integer("num_key_value_heads", c.numHeads);
  if (!kv)
    return kv.takeError();
  c.numKvHeads = *kv;
  if (c.numHeads % c.numKvHeads != 0)
    return makeError(
        path + ": num_key_value_heads = " + llvm::Twine(c.numKvHeads) +
        " does not divide num_attention_heads = " + llvm::Twine(c.numHeads));
  if (c.hidden % c.numHeads != 0 && !config.contains("head_dim"))
    return makeError(path +
                     ": num_attention_heads = " + llvm::Twine(c.numHeads) +
                     " does not divide hidden_size = " + llvm::Twine(c.hidden));
  llvm::Expected<int64_t> headDim =
      f.integer("head_dim", c.hidden / std::max<int64_t>(c.numHeads, 1));
  if (!headDim)
    return headDim.takeError();
  c.headDim = *headDim;
  if (c.headDim % 2 != 0)
    return makeError(path + ": head_dim = " + llvm::Twine(c.headDim) +
                     " must be even for rotary embeddings");
  llvm::Expected<double> eps = f.number(config, "rms_norm_eps", 1e-6);
  if (!eps)
    return eps.takeError();
  c.rmsEps = *eps;
  std::string act = config.value("hidden_act", "silu");
  if (act != "silu")
    return makeError(path + ": unsupported hidden_act '" + act +
                     "' (supported: silu)");
  llvm::Expected<bool> mlpBias = f.boolean("mlp_bias", false);
  llvm::Expected<bool> attnBias = f.boolean("attention_bias", false);
  llvm::Expected<bool> tied = f.boolean("tie_word_embeddings", false);
  if (!mlpBias || !attnBias || !tied) {
    llvm::Error e = !mlpBias    ? mlpBias.takeError()
                    : !attnBias ? attnBias.takeError()
                                : tied.takeError();
    return std::move(e);
  }
  if (*mlpBias)
    return makeError(path + ": unsupported 'mlp_bias': true");
  // Qwen2 has q/k/v biases (and none on o_proj) whatever attention_bias says.
  c.qkvBias = *attnBias || c.modelType == "qwen2";
  // Mistral's sliding window (null: none); Qwen2's, when switched on, also
  // depends on max_window_layers: refused.
  if (c.modelType == "mistral" && config.contains("sliding_window") &&
      !config["sliding_window"].is_null()) {
    llvm::Expected<int64_t> window = f.integer("sliding_window", 0);
    if (!window)
      return window.takeError();
    c.slidingWindow = *window;
  }
  llvm::Expected<bool> qwenWindow = f.boolean("use_sliding_window", false);
  if (!qwenWindow)
    return qwenWindow.takeError();
  if (c.modelType == "qwen2" && *qwenWindow)
    return makeError(path + ": unsupported 'use_sliding_window': true");
  if (*attnBias && c.modelType == "llama")
    return makeError(path + ": unsupported 'attention_bias': true (the o_proj "
                            "bias is not imported yet)");
  c.tiedLMHead = *tied;
  if (llvm::Error e = ropeFrequencies(f, c.headDim, c.invFreq))
    return std::move(e);
  return c;
}

namespace {
class LlamaEmitter {
public:
  LlamaEmitter(OpBuilder &b, const LlamaConfig &c,
               const std::function<std::string(StringRef)> &name)
      : b(b), c(c), name(name), loc(b.getUnknownLoc()) {}

  Value param(StringRef canonical, ArrayRef<int64_t> shape) {
    return b.create<ParamOp>(loc, RankedTensorType::get(shape, b.getF32Type()),
                             name(canonical));
  }
  /// nn.Linear: x @ W^T (+ b), W [out, in].
  Value linear(Value x, const std::string &prefix, int64_t in, int64_t out,
               bool bias = false) {
    Value w = param(prefix + ".weight", {out, in});
    Value bv = bias ? param(prefix + ".bias", {out}) : Value();
    return b.create<MatMulOp>(loc, x, w, bv, /*transpose_rhs=*/true);
  }
  Value rmsNorm(Value x, const std::string &prefix) {
    // Frameworks hold epsilon as float32.
    double eps = static_cast<float>(c.rmsEps);
    return b.create<RmsNormOp>(loc, x, param(prefix + ".weight", {c.hidden}),
                               b.getF64FloatAttr(eps));
  }
  Value rotary(Value x, Value pos, int64_t heads) {
    return b.create<RotaryOp>(loc, x, pos, b.getI64IntegerAttr(heads),
                              b.getDenseF32ArrayAttr(c.invFreq), UnitAttr());
  }

  Value layer(Value x, Value pos, int64_t i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    int64_t qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
    Value h = rmsNorm(x, p + "input_layernorm");
    Value q = linear(h, p + "self_attn.q_proj", c.hidden, qDim, c.qkvBias);
    Value k = linear(h, p + "self_attn.k_proj", c.hidden, kvDim, c.qkvBias);
    Value v = linear(h, p + "self_attn.v_proj", c.hidden, kvDim, c.qkvBias);
    Value a = b.create<AttentionOp>(
        loc, rotary(q, pos, c.numHeads), rotary(k, pos, c.numKvHeads), v,
        b.getI64IntegerAttr(c.numHeads),
        c.numKvHeads == c.numHeads ? IntegerAttr()
                                   : b.getI64IntegerAttr(c.numKvHeads),
        b.getUnitAttr(),
        /*scale: the default, 1 / sqrt(head_dim)*/ FloatAttr(),
        c.slidingWindow ? b.getI64IntegerAttr(c.slidingWindow) : IntegerAttr());
    x = b.create<AddOp>(loc, x,
                        linear(a, p + "self_attn.o_proj", qDim, c.hidden));
    Value h2 = rmsNorm(x, p + "post_attention_layernorm");
    Value gate = linear(h2, p + "mlp.gate_proj", c.hidden, c.intermediate);
    Value up = linear(h2, p + "mlp.up_proj", c.hidden, c.intermediate);
    Value m = b.create<MulOp>(loc, b.create<SiluOp>(loc, gate), up);
    return b.create<AddOp>(
        loc, x, linear(m, p + "mlp.down_proj", c.intermediate, c.hidden));
  }

  Value forward(Value ids) {
    Value embed = param("model.embed_tokens.weight", {c.vocabSize, c.hidden});
    Value x = b.create<EmbeddingOp>(loc, embed, ids, nullptr);
    Value pos = b.create<PositionsOp>(loc, ids, 0);
    for (int64_t i = 0; i < c.numLayers; ++i)
      x = layer(x, pos, i);
    x = rmsNorm(x, "model.norm");
    Value head =
        c.tiedLMHead ? embed : param("lm_head.weight", {c.vocabSize, c.hidden});
    return b.create<MatMulOp>(loc, x, head, Value(), /*transpose_rhs=*/true);
  }

  /// Every tensor the model reads, with its shape.
  std::vector<std::pair<std::string, std::vector<int64_t>>> tensors() const {
    int64_t qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
    std::vector<std::pair<std::string, std::vector<int64_t>>> out = {
        {"model.embed_tokens.weight", {c.vocabSize, c.hidden}},
        {"model.norm.weight", {c.hidden}}};
    for (int64_t i = 0; i < c.numLayers; ++i) {
      std::string p = "model.layers." + std::to_string(i) + ".";
      out.push_back({p + "input_layernorm.weight", {c.hidden}});
      out.push_back({p + "post_attention_layernorm.weight", {c.hidden}});
      out.push_back({p + "self_attn.q_proj.weight", {qDim, c.hidden}});
      out.push_back({p + "self_attn.k_proj.weight", {kvDim, c.hidden}});
      out.push_back({p + "self_attn.v_proj.weight", {kvDim, c.hidden}});
      if (c.qkvBias) {
        out.push_back({p + "self_attn.q_proj.bias", {qDim}});
        out.push_back({p + "self_attn.k_proj.bias", {kvDim}});
        out.push_back({p + "self_attn.v_proj.bias", {kvDim}});
      }
      out.push_back({p + "self_attn.o_proj.weight", {c.hidden, qDim}});
      out.push_back({p + "mlp.gate_proj.weight", {c.intermediate, c.hidden}});
      out.push_back({p + "mlp.up_proj.weight", {c.intermediate, c.hidden}});
      out.push_back({p + "mlp.down_proj.weight", {c.hidden, c.intermediate}});
    }
    if (!c.tiedLMHead)
      out.push_back({"lm_head.weight", {c.vocabSize, c.hidden}});
    return out;
  }

private:
  OpBuilder &b;
  const LlamaConfig &c;
  const std::function<std::string(StringRef)> &name;
  Location loc;
};
} // namespace

llvm::Expected<OwningOpRef<ModuleOp>>
mlir::rose::importLlamaCheckpoint(MLIRContext &context, StringRef dir,
                                  const LlamaConfig &config) {
  auto file = ::rose::WeightFiles::open(dir.str());
  if (!file)
    return makeError(file.status().message());
  const ::rose::WeightFiles &weights = **file;
  // LlamaModel (no LM head) saves the body without the `model.` prefix.
  bool bare = !weights.find("model.embed_tokens.weight") &&
              weights.find("embed_tokens.weight");
  std::function<std::string(StringRef)> fileName =
      [&](StringRef canonical) -> std::string {
    if (bare && canonical.starts_with("model."))
      return canonical.drop_front(6).str();
    return canonical.str();
  };
  context.loadDialect<RoseDialect, func::FuncDialect>();
  OpBuilder b(&context);
  LlamaEmitter emitter(b, config, fileName);
  std::optional<::rose::DType> dtype;
  for (const auto &[canonical, shape] : emitter.tensors()) {
    std::string name = fileName(canonical);
    ::rose::WeightFiles::Tensor tensor = weights.find(name);
    if (!tensor)
      return makeError(weights.fileFor(name) + ": missing tensor '" + name +
                       "' (config.json: num_hidden_layers = " +
                       llvm::Twine(config.numLayers) +
                       (config.tiedLMHead ? ", tied LM head" : "") + ")");
    ::rose::DType d = tensor.entry->dtype;
    if (d != ::rose::DType::F32 && d != ::rose::DType::F16 &&
        d != ::rose::DType::BF16)
      return makeError(tensor.file->path() + ": tensor '" + name +
                       "' has dtype " + std::string(::rose::dtypeName(d)) +
                       "; rose models are F32, F16 or BF16");
    if (dtype && d != *dtype)
      return makeError(tensor.file->path() + ": tensor '" + name +
                       "' has dtype " + std::string(::rose::dtypeName(d)) +
                       " but the embedding has " +
                       std::string(::rose::dtypeName(*dtype)));
    dtype = d;
    if (tensor.entry->shape != shape)
      return makeError(tensor.file->path() + ": tensor '" + name +
                       "' has shape " + formatShape(tensor.entry->shape) +
                       " but config.json implies " + formatShape(shape));
  }
  llvm::SmallString<256> absolute(weights.path());
  llvm::sys::fs::make_absolute(absolute);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  module->getOperation()->setAttr(RoseDialect::kWeightsAttrName,
                                  b.getStringAttr(absolute));
  module->getOperation()->setAttr(
      RoseDialect::kModelConfigAttrName,
      b.getDictionaryAttr({
          b.getNamedAttr("model_type", b.getStringAttr(config.modelType)),
          b.getNamedAttr("vocab_size", b.getI64IntegerAttr(config.vocabSize)),
          b.getNamedAttr("hidden_size", b.getI64IntegerAttr(config.hidden)),
          b.getNamedAttr("num_hidden_layers",
                         b.getI64IntegerAttr(config.numLayers)),
          b.getNamedAttr("num_attention_heads",
                         b.getI64IntegerAttr(config.numHeads)),
          b.getNamedAttr("num_key_value_heads",
                         b.getI64IntegerAttr(config.numKvHeads)),
      }));
  b.setInsertionPointToEnd(module->getBody());
  auto ids = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                   b.getI64Type());
  auto logits = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic, config.vocabSize},
      b.getF32Type());
  auto fn = b.create<func::FuncOp>(loc, "forward",
                                   b.getFunctionType({ids}, {logits}));
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToEnd(body);
  b.create<func::ReturnOp>(loc, emitter.forward(body->getArgument(0)));
  return module;
}
