//===- WeightFiles.cpp - a checkpoint in one or many safetensors ----------===//
#include "runtime/WeightFiles.h"

#include <nlohmann/json.hpp>
#include <sys/stat.h>

using namespace rose;
using json = nlohmann::json;

static bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

static bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The largest index file rose reads (the index of a 405B model is ~100 KB).
static constexpr size_t kMaxIndexBytes = 64 << 20;

StatusOr<std::shared_ptr<WeightFiles>>
WeightFiles::open(const std::string &given, bool populate) {
  std::string path = given;
  if (isDirectory(given)) {
    std::string one = given + "/model.safetensors",
                index = given + "/model.safetensors.index.json";
    path = exists(one) || !exists(index) ? one : index;
  }
  auto result = std::shared_ptr<WeightFiles>(new WeightFiles());
  result->path_ = path;
  if (!endsWith(path, ".json")) {
    auto file = SafetensorsFile::open(path, populate);
    if (!file)
      return file.status();
    result->files_.push_back(file.take());
    for (const auto &[name, entry] : result->files_[0]->tensors())
      result->where_[name] = 0;
    return result;
  }

  auto fail = [&](const auto &...args) {
    return Status::error(path, ": ", args...);
  };
  auto text = readSmallFile(path, kMaxIndexBytes);
  if (!text)
    return text.status();
  json index = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object())
    return fail("not a JSON object");
  auto map = index.find("weight_map");
  if (map == index.end() || !map->is_object())
    return fail("no \"weight_map\" object");
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  std::map<std::string, size_t> opened;
  for (auto it = map->begin(); it != map->end(); ++it) {
    if (!it->is_string())
      return fail("weight_map entry '", it.key(), "' is not a file name");
    std::string shard = it->get<std::string>();
    // Shards live next to the index: a name with a directory in it could
    // reach any file on the machine.
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." ||
        shard == "..")
      return fail("weight_map entry '", it.key(), "' names '", shard,
                  "', not a file next to the index");
    auto [slot, added] = opened.emplace(shard, result->files_.size());
    if (added) {
      auto file = SafetensorsFile::open(dir + shard, populate);
      if (!file)
        return file.status().withContext(path + ": tensor '" + it.key() + "'");
      result->files_.push_back(file.take());
    }
    result->where_[it.key()] = slot->second;
  }
  return result;
}

WeightFiles::Tensor WeightFiles::find(const std::string &name) const {
  auto it = where_.find(name);
  if (it == where_.end())
    return {};
  const SafetensorsFile *file = files_[it->second].get();
  return {file, file->find(name)};
}

std::string WeightFiles::fileFor(const std::string &name) const {
  auto it = where_.find(name);
  return it == where_.end() ? path_ : files_[it->second]->path();
}

std::vector<std::string> WeightFiles::names() const {
  std::vector<std::string> out;
  for (const auto &[name, slot] : where_)
    out.push_back(name);
  return out;
}
