//===- FuzzWeightIndex.cpp - fuzz the sharded-checkpoint index reader -----===//
//
// The input is a model.safetensors.index.json next to one valid shard
// (shard.safetensors: tensors "a" and "b"); whatever the index says, an
// accepted checkpoint's tensors must be readable in full.
//
//===----------------------------------------------------------------------===//
#include "FuzzUtil.h"
#include "runtime/WeightFiles.h"

#include <cstring>

static void writeShard() {
  // 8-byte header length, JSON header (padded), data: two float32 tensors.
  std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}})";
  while (header.size() % 8)
    header += ' ';
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += header;
  bytes += std::string(12, '\x3f');
  rose::fuzz::writeScratch("shard.safetensors",
                           reinterpret_cast<const uint8_t *>(bytes.data()),
                           bytes.size());
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const bool shard = (writeShard(), true);
  (void)shard;
  std::string path =
      rose::fuzz::writeScratch("model.safetensors.index.json", data, size);
  auto files = rose::WeightFiles::open(path);
  if (!files)
    return 0;
  volatile uint8_t sink = 0;
  for (const std::string &name : (*files)->names())
    if (rose::WeightFiles::Tensor t = (*files)->find(name))
      for (size_t i = t.entry->begin; i < t.entry->end; ++i)
        sink ^= t.data()[i - t.entry->begin];
  return 0;
}
