//===- rose-compile.cpp - model to a per-rank program file
//-----------------===//
//
// rose-compile <model.onnx | hf-dir | model.mlir> --tp N -o model.rose
//
// Import, TP pipeline, lowering. The program file names the weights file
// (the checkpoint, or the one an ONNX import writes); rose-run can override
// it. Errors are one line and leave no output file.
//
//===----------------------------------------------------------------------===//
#include "frontend/HFCheckpoint.h"
#include "frontend/OnnxImporter.h"
#include "passes/LowerToProgram.h"
#include "passes/Passes.h"
#include "runtime/MappedFile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                                      cl::desc("<model.onnx | hf-dir | "
                                               "model.mlir>"));
static cl::opt<std::string> outputPath("o", cl::Required,
                                       cl::desc("output program file"),
                                       cl::value_desc("model.rose"));
static cl::opt<int64_t>
    tp("tp", cl::init(1), cl::desc("TP degree (ranks); --tp N is --mesh tp=N"));
static cl::opt<std::string>
    meshSpec("mesh", cl::init(""),
             cl::desc("device mesh, e.g. dp=2,tp=4: the batch splits over "
                      "dp, tensor parallelism runs within each dp group"));
static cl::opt<std::string> plan("plan", cl::init("auto"),
                                 cl::desc("auto | rosellm | file"));
static cl::opt<std::string> planFile("plan-file", cl::init(""),
                                     cl::desc("JSON plan (with --plan=file)"));
static cl::opt<bool> vocabParallel("vocab-parallel", cl::init(false),
                                   cl::desc("vocab-parallel token embedding"));
static cl::opt<std::string> lmHead(
    "lm-head", cl::init("gather"),
    cl::desc("gather (whole logits on every rank) | sharded (logits stay "
             "split over the vocab: loss parallel, rose-run --loss without "
             "gathering)"));
static cl::opt<bool> sequenceParallel(
    "sequence-parallel", cl::init(false),
    cl::desc("sequence parallelism: norms and residuals split on the "
             "sequence (reduce_scatter + all_gather instead of all_reduce); "
             "seq must be divisible by tp at run time"));
static cl::opt<std::string> weightsOut(
    "weights", cl::init(""),
    cl::desc("ONNX input: where to write the weights (default: the output "
             "path with .safetensors); .mlir input: the weights file"));
static cl::opt<bool> noDense("no-dense", cl::init(false),
                             cl::desc("omit the tp=1 program used by "
                                      "rose-run --check-against dense"));
static cl::opt<bool> remarks("remarks", cl::init(false),
                             cl::desc("print sharding remarks"));
static cl::opt<unsigned> programVersion(
    "program-version", cl::Hidden, cl::init(0),
    cl::desc("write this format version (tests of the version check)"));
static cl::opt<int64_t> maxSeq(
    "max-seq", cl::init(0),
    cl::desc("rows of the KV cache of the generation entries (default: the "
             "model's positions); given, a model that cannot generate is an "
             "error"));
static cl::opt<std::string> tokenizerDir(
    "tokenizer", cl::init(""),
    cl::desc("directory of the tokenizer rose-run --prompt uses (default: "
             "the checkpoint directory, when it has one)"));
static cl::opt<bool> noFusion(
    "no-fusion", cl::init(false),
    cl::desc("lower every op as it is: no GELU epilogue fused into its "
             "matmul (debugging, A/B timing; the results are the same)"));
static cl::opt<std::string> irOut("emit-ir", cl::init(""),
                                  cl::desc("also write the sharded IR here"));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "rose-compile: error: " << message << "\n";
  return 1;
}

static std::string locationPrefix(Location loc) {
  std::string out;
  llvm::raw_string_ostream os(out);
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    os << file.getFilename().getValue() << ":" << file.getLine() << ": ";
  else if (auto name = dyn_cast<NameLoc>(loc))
    return locationPrefix(name.getChildLoc());
  return out;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "rose-compile: import, shard and lower a GPT "
                              "for rose-run\n");
  if (tp < 1)
    return fail("--tp must be >= 1, got " + llvm::Twine(int64_t(tp)));
  if (maxSeq.getNumOccurrences() && (maxSeq < 1 || maxSeq > (1 << 24)))
    return fail("--max-seq must be in [1, 16777216], got " +
                llvm::Twine(int64_t(maxSeq)));
  int64_t dp = 1;
  if (!meshSpec.empty()) {
    // --mesh dp=D,tp=T (either axis may be left out: size 1).
    int64_t meshTp = 1;
    llvm::SmallVector<llvm::StringRef> axes;
    llvm::StringRef(meshSpec).split(axes, ',');
    for (llvm::StringRef axis : axes) {
      auto [name, value] = axis.split('=');
      int64_t size = 0;
      if (value.getAsInteger(10, size) || size < 1)
        return fail("--mesh '" + meshSpec + "': '" + axis +
                    "' is not axis=size with a size >= 1");
      if (name == "dp")
        dp = size;
      else if (name == "tp")
        meshTp = size;
      else
        return fail("--mesh '" + meshSpec + "': unknown axis '" + name +
                    "' (dp, tp)");
    }
    if (tp.getNumOccurrences() && tp != meshTp)
      return fail("--tp " + llvm::Twine(int64_t(tp)) +
                  " disagrees with --mesh '" + meshSpec + "'");
    tp = meshTp;
  }
  MLIRContext context;
  context.printOpOnDiagnostic(false);
  context.loadDialect<mlir::rose::RoseDialect, func::FuncDialect>();
  // One line per error; remarks only when asked.
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Remark) {
      if (remarks)
        llvm::errs() << locationPrefix(diag.getLocation())
                     << "remark: " << diag.str() << "\n";
      return success();
    }
    if (diag.getSeverity() == DiagnosticSeverity::Error)
      llvm::errs() << "rose-compile: error: "
                   << locationPrefix(diag.getLocation()) << diag.str() << "\n";
    return success();
  });

  std::string writtenWeights;
  OwningOpRef<ModuleOp> module;
  llvm::StringRef input(inputPath);
  if (llvm::sys::fs::is_directory(inputPath)) {
    auto imported = mlir::rose::importHFCheckpoint(context, inputPath);
    if (!imported)
      return fail(llvm::toString(imported.takeError()));
    module = std::move(*imported);
  } else if (!llvm::sys::fs::exists(inputPath)) {
    return fail(inputPath + ": no such file or directory");
  } else if (input.ends_with(".onnx")) {
    llvm::SmallString<256> weights(weightsOut);
    if (weights.empty()) {
      weights = outputPath;
      llvm::sys::path::replace_extension(weights, ".safetensors");
    }
    llvm::sys::fs::make_absolute(weights);
    auto imported = mlir::rose::importOnnx(context, inputPath, weights);
    if (!imported)
      return fail(llvm::toString(imported.takeError()));
    writtenWeights = std::string(weights);
    module = std::move(*imported);
  } else if (input.ends_with(".mlir")) {
    llvm::SourceMgr sourceMgr;
    module = parseSourceFile<ModuleOp>(inputPath, sourceMgr, &context);
    if (!module)
      return 1; // the handler printed the parse error
    if (!weightsOut.empty())
      module->getOperation()->setAttr(
          mlir::rose::RoseDialect::kWeightsAttrName,
          StringAttr::get(&context, weightsOut.getValue()));
  } else {
    return fail(inputPath + ": expected an .onnx file, a Hugging Face "
                            "checkpoint directory or an .mlir file");
  }
  auto cleanup = [&](const llvm::Twine &message) {
    if (!writtenWeights.empty())
      llvm::sys::fs::remove(writtenWeights);
    return message.isTriviallyEmpty() ? 1 : fail(message);
  };
  auto weightsAttr = module->getOperation()->getAttrOfType<StringAttr>(
      mlir::rose::RoseDialect::kWeightsAttrName);
  if (!weightsAttr)
    return cleanup(inputPath + ": the IR names no weights file (add "
                               "--weights)");

  // IR that is already sharded (rose-opt output, or a hand-edited per-rank
  // program) is lowered as it is: --tp must agree, and there is no dense
  // program to derive from it.
  auto shardedFor = module->getOperation()->getAttrOfType<IntegerAttr>(
      mlir::rose::RoseDialect::kTPAttrName);
  if (shardedFor && shardedFor.getInt() != tp)
    return cleanup(inputPath + ": already sharded for tp=" +
                   llvm::Twine(shardedFor.getInt()) + ", but --tp " +
                   llvm::Twine(tp.getValue()) + " was given");
  OwningOpRef<ModuleOp> dense;
  if (!noDense && (tp > 1 || dp > 1) && !shardedFor)
    dense = module->clone();
  mlir::rose::TPPipelineOptions options;
  options.tp = tp.getValue();
  options.dp = dp;
  options.plan = plan.getValue();
  options.planFile = planFile.getValue();
  options.vocabParallel = vocabParallel.getValue();
  options.sequenceParallel = sequenceParallel.getValue();
  options.lmHead = lmHead.getValue();
  PassManager pm(&context);
  if (!shardedFor)
    mlir::rose::buildTPPipeline(pm, options);
  if (failed(pm.run(*module)))
    return cleanup("");
  if (dense) {
    PassManager densePm(&context);
    mlir::rose::TPPipelineOptions denseOptions;
    mlir::rose::buildTPPipeline(densePm, denseOptions);
    if (failed(densePm.run(*dense)))
      return cleanup("");
  }
  if (!irOut.empty()) {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    if (auto s =
            ::rose::writeFileAtomically(irOut, {{text.data(), text.size()}});
        !s.ok())
      return cleanup(s.message());
  }
  // The tokenizer: --tokenizer, or the checkpoint's own files.
  mlir::rose::GenerationOptions generation;
  generation.maxSeq = maxSeq;
  generation.required = maxSeq.getNumOccurrences() > 0;
  std::string tokenizer = tokenizerDir;
  if (tokenizer.empty() && llvm::sys::fs::is_directory(inputPath))
    for (const char *file : {"tokenizer.json", "tokenizer.model", "vocab.json"})
      if (llvm::sys::fs::exists(inputPath + "/" + file))
        tokenizer = inputPath;
  if (!tokenizer.empty()) {
    if (!llvm::sys::fs::is_directory(tokenizer))
      return cleanup("--tokenizer " + tokenizer + ": not a directory");
    llvm::SmallString<256> absolute(tokenizer);
    llvm::sys::fs::make_absolute(absolute);
    generation.tokenizer = std::string(absolute);
  }
  mlir::rose::ProgramStats stats;
  FailureOr<std::string> program = mlir::rose::lowerToProgram(
      *module, dense ? *dense : ModuleOp(), weightsAttr.getValue(), &stats,
      programVersion, &generation,
      mlir::rose::LoweringOptions{/*fuseEpilogues=*/!noFusion});
  if (failed(program))
    return cleanup("");
  if (auto s = ::rose::writeFileAtomically(
          outputPath, {{program->data(), program->size()}});
      !s.ok())
    return cleanup(s.message());
  llvm::outs() << "rose-compile: " << outputPath << ": "
               << (dp > 1 ? "dp=" + std::to_string(dp) + ", " : "")
               << "tp=" << tp << ", " << stats.ops << " ops, " << stats.params
               << " params; memory "
               << "plan peak " << stats.peakBytesPerToken << " bytes/token ("
               << stats.naiveBytesPerToken << " without reuse); weights "
               << weightsAttr.getValue() << "\n";
  if (stats.maxSeq > 0)
    llvm::outs() << "rose-compile: generation: prefill and decode entries, "
                 << "KV cache of " << stats.maxSeq << " positions, "
                 << stats.cacheBytesPerSequence
                 << " bytes per rank per sequence; prefill logits: "
                 << (stats.prefillLastRow ? "last position" : "every position")
                 << "; decode step: "
                 << (stats.decodeCollectives.empty()
                         ? std::string("no collectives")
                         : stats.decodeCollectives)
                 << (generation.tokenizer.empty()
                         ? std::string("; no tokenizer")
                         : "; tokenizer " + generation.tokenizer)
                 << "\n";
  else
    llvm::outs() << "rose-compile: no generation entries: "
                 << stats.noGeneration << "\n";
  return 0;
}
