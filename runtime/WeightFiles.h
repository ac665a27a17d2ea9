//===- WeightFiles.h - a checkpoint in one or many safetensors --*- C++ -*-===//
//
// Hugging Face publishes a model either as one `model.safetensors` or, when
// it is large, as shards `model-0000k-of-0000N.safetensors` with
// `model.safetensors.index.json` mapping every tensor name to its shard.
// WeightFiles opens either and finds a tensor by name; shards are opened
// (and validated) once, when the index names them.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_WEIGHTFILES_H
#define ROSE_RUNTIME_WEIGHTFILES_H

#include "runtime/Safetensors.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rose {

class WeightFiles {
public:
  /// `path`: a .safetensors file, an .index.json, or a directory holding
  /// model.safetensors or model.safetensors.index.json. Errors name the
  /// file and, for the index, the entry.
  static StatusOr<std::shared_ptr<WeightFiles>> open(const std::string &path,
                                                     bool populate = false);

  /// The path opened (the file or the index).
  const std::string &path() const { return path_; }

  struct Tensor {
    const SafetensorsFile *file = nullptr;
    const TensorEntry *entry = nullptr;
    explicit operator bool() const { return entry != nullptr; }
    const uint8_t *data() const { return file->data(*entry); }
  };
  /// The tensor `name`, or an empty Tensor.
  Tensor find(const std::string &name) const;
  /// Where `name` should be: its shard per the index, else the one file
  /// (for "missing tensor" errors).
  std::string fileFor(const std::string &name) const;
  /// Every tensor name, in order.
  std::vector<std::string> names() const;

private:
  std::string path_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  /// name -> index into files_ (an index's weight_map, or every tensor of
  /// the one file).
  std::map<std::string, size_t> where_;
};

} // namespace rose

#endif // ROSE_RUNTIME_WEIGHTFILES_H
