//===- MappedFile.h - read-only memory-mapped files -------------*- C++ -*-===//
#ifndef ROSE_RUNTIME_MAPPEDFILE_H
#define ROSE_RUNTIME_MAPPEDFILE_H

#include "runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rose {

/// A whole file mapped read-only. Weights are mapped, not read, so a rank
/// touches only the pages of its own slices.
class MappedFile {
public:
  /// `populate` reads the whole file in at open (weights a run will touch
  /// anyway), so page faults do not land in the first forward pass.
  static StatusOr<std::shared_ptr<MappedFile>> open(const std::string &path,
                                                    bool populate = false);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  MappedFile() = default;
  std::string path_;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

/// A byte range to write.
/// The whole of a small file (a JSON index or config, a merges list): its
/// size is checked against `maxBytes` before anything is read.
StatusOr<std::string> readSmallFile(const std::string &path, size_t maxBytes);

struct ByteChunk {
  const void *data;
  size_t size;
};

/// Writes the chunks, in order, to `path` atomically: a temp file in the same
/// directory, renamed into place, so a failure never leaves a partial file.
Status writeFileAtomically(const std::string &path,
                           const std::vector<ByteChunk> &chunks);

} // namespace rose

#endif // ROSE_RUNTIME_MAPPEDFILE_H
