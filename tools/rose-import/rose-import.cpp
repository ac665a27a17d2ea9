//===- rose-import.cpp - import a GPT model into rose IR
//-------------------===//
//
// rose-import <model.onnx | hf-checkpoint-dir> -o model.mlir
//
// Errors are one line on stderr with a non-zero exit, and no output file is
// left behind (outputs are written to a temp file and renamed).
//
//===----------------------------------------------------------------------===//
#include "frontend/HFCheckpoint.h"
#include "frontend/OnnxImporter.h"
#include "runtime/MappedFile.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                                      cl::desc("<model.onnx | hf-dir>"));
static cl::opt<std::string> outputPath("o", cl::Required,
                                       cl::desc("output .mlir file"),
                                       cl::value_desc("file"));

static cl::opt<std::string> weightsPath(
    "weights",
    cl::desc("where an ONNX import writes its weights (default: the output "
             "path with .safetensors)"),
    cl::value_desc("file"));

static cl::opt<bool> remarks(
    "remarks",
    cl::desc("print what --rose-raise did not recognise in an ONNX graph"));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "rose-import: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "rose-import: GPT-2 (ONNX or Hugging Face "
                              "checkpoint) to rose IR\n");
  MLIRContext context;
  // Remarks (layers left unraised) only when asked; the rest as usual.
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    if (diag.getSeverity() != DiagnosticSeverity::Remark)
      return failure();
    if (remarks) {
      std::string where;
      llvm::raw_string_ostream os(where);
      if (auto name = dyn_cast<NameLoc>(diag.getLocation()))
        os << "node '" << name.getName().getValue() << "': ";
      llvm::errs() << "rose-import: remark: " << where << diag.str() << "\n";
    }
    return success();
  });
  // An ONNX import writes a weights file first; it goes if the IR cannot be
  // written, so a failed run leaves nothing behind.
  std::string writtenWeights;
  llvm::Expected<OwningOpRef<ModuleOp>> module =
      llvm::createStringError(llvm::inconvertibleErrorCode(), "unreachable");
  if (llvm::sys::fs::is_directory(inputPath)) {
    module = mlir::rose::importHFCheckpoint(context, inputPath);
  } else if (!llvm::sys::fs::exists(inputPath)) {
    return fail(inputPath + ": no such file or directory");
  } else if (llvm::StringRef(inputPath).ends_with(".onnx")) {
    std::string weights = weightsPath;
    if (weights.empty()) {
      llvm::SmallString<256> derived(outputPath);
      llvm::sys::path::replace_extension(derived, ".safetensors");
      weights = std::string(derived);
    }
    if (weights == outputPath)
      return fail("--weights must differ from the output file");
    llvm::SmallString<256> absolute(weights);
    llvm::sys::fs::make_absolute(absolute);
    module = mlir::rose::importOnnx(context, inputPath, absolute);
    writtenWeights = std::string(absolute);
  } else {
    return fail(inputPath + ": expected a Hugging Face checkpoint directory "
                            "or an .onnx file");
  }
  if (!module)
    return fail(llvm::toString(module.takeError()));
  auto failAndClean = [&](const llvm::Twine &message) {
    if (!writtenWeights.empty())
      llvm::sys::fs::remove(writtenWeights);
    return fail(message);
  };
  if (failed(verify(**module)))
    return failAndClean(inputPath +
                        ": imported IR does not verify (an importer bug)");

  std::string text;
  llvm::raw_string_ostream os(text);
  (*module)->print(os);
  if (::rose::Status status =
          ::rose::writeFileAtomically(outputPath, {{text.data(), text.size()}});
      !status.ok())
    return failAndClean(status.message());
  return 0;
}
