//===- Safetensors.h - safetensors reading and writing ----------*- C++ -*-===//
//
// The weights format of Hugging Face checkpoints and of rose itself: an 8-byte
// little-endian header length, a JSON header mapping names to dtype, shape and
// [begin, end) offsets into the data section, then the data.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_SAFETENSORS_H
#define ROSE_RUNTIME_SAFETENSORS_H

#include "runtime/DType.h"
#include "runtime/MappedFile.h"
#include "runtime/Status.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rose {

struct TensorEntry {
  DType dtype;
  std::vector<int64_t> shape;
  /// Byte range within the data section.
  size_t begin = 0, end = 0;
  int64_t numElements() const;
};

/// A validated, memory-mapped safetensors file. Opening checks every header
/// entry (dtype, shape against byte size, bounds, overlap), so tensor data
/// pointers handed out later are always in bounds.
class SafetensorsFile {
public:
  static StatusOr<std::shared_ptr<SafetensorsFile>>
  open(const std::string &path, bool populate = false);

  const std::string &path() const { return file_->path(); }
  const std::map<std::string, TensorEntry> &tensors() const { return tensors_; }
  /// The entry for `name`, or nullptr.
  const TensorEntry *find(const std::string &name) const;
  const uint8_t *data(const TensorEntry &entry) const {
    return dataStart_ + entry.begin;
  }

private:
  std::shared_ptr<MappedFile> file_;
  const uint8_t *dataStart_ = nullptr;
  std::map<std::string, TensorEntry> tensors_;
};

/// A tensor to write; `data` holds numElements * dtypeSize bytes.
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data;
};

/// Writes a safetensors file atomically (temp file + rename).
Status writeSafetensors(const std::string &path,
                        const std::vector<TensorToWrite> &tensors);

} // namespace rose

#endif // ROSE_RUNTIME_SAFETENSORS_H
