//===- FuzzSafetensors.cpp - fuzz the safetensors reader
//-------------------===//
#include "FuzzUtil.h"
#include "runtime/Safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = rose::fuzz::writeScratch("model.safetensors", data, size);
  auto file = rose::SafetensorsFile::open(path);
  if (!file)
    return 0;
  // Every accepted entry must be readable in full.
  volatile uint8_t sink = 0;
  for (const auto &[name, entry] : (*file)->tensors())
    for (size_t i = entry.begin; i < entry.end; i += 97)
      sink ^= (*file)->data(entry)[i - entry.begin];
  return 0;
}
