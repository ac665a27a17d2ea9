//===- FuzzNpy.cpp - fuzz the .npy token reader
//----------------------------===//
#include "FuzzUtil.h"
#include "runtime/Npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = rose::fuzz::writeScratch("tokens.npy", data, size);
  int64_t rows = 0, cols = 0;
  auto tokens = rose::readTokensNpy(path, rows, cols);
  if (tokens && tokens->size() != static_cast<size_t>(rows * cols))
    __builtin_trap();
  return 0;
}
