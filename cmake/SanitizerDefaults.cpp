//===- SanitizerDefaults.cpp - ASan options baked into sanitizer builds ---===//
//
// Linked into every executable of a ROSE_SANITIZE / ROSE_BUILD_FUZZERS
// build. LLVM's headers poison BumpPtrAllocator slabs when compiled with
// ASan, but Debian's libMLIR was built without it and hands the same memory
// out unpoisoned-by-its-own-code, so instrumented rose code reading MLIR
// containers trips false "use-after-poison" reports. Ignoring user poisoning
// keeps every other check (heap/stack overflow, use-after-free, leaks).
//
//===----------------------------------------------------------------------===//
extern "C" const char *__asan_default_options() {
  return "allow_user_poisoning=0";
}
