//===- MappedFile.cpp - read-only memory-mapped files
//----------------------===//
#include "runtime/MappedFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace rose;

StatusOr<std::shared_ptr<MappedFile>> MappedFile::open(const std::string &path,
                                                       bool populate) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(path, ": cannot open: ", std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(path, ": not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void *p = mmap(nullptr, file->size_, PROT_READ,
                   MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return Status::error(path, ": cannot map: ", std::strerror(err));
    }
    file->data_ = static_cast<const uint8_t *>(p);
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (data_)
    munmap(const_cast<uint8_t *>(data_), size_);
}

static Status writeAll(int fd, const void *data, size_t size,
                       const std::string &path) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return Status::error(path, ": cannot write: ", std::strerror(errno));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::success();
}

Status rose::writeFileAtomically(const std::string &path,
                                 const std::vector<ByteChunk> &chunks) {
  // Fixed width, so the name's length does not depend on the pid (a seeded
  // fuzz run must take the same string paths in every process).
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), ".tmp.%010d", int(::getpid()));
  std::string tmp = path + suffix;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::error(path, ": cannot write: ", std::strerror(errno));
  Status status;
  for (const ByteChunk &chunk : chunks) {
    status = writeAll(fd, chunk.data, chunk.size, path);
    if (!status.ok())
      break;
  }
  if (::close(fd) != 0 && status.ok())
    status = Status::error(path, ": cannot write: ", std::strerror(errno));
  if (status.ok() && std::rename(tmp.c_str(), path.c_str()) != 0)
    status = Status::error(path, ": cannot write: ", std::strerror(errno));
  if (!status.ok())
    std::remove(tmp.c_str());
  return status;
}

StatusOr<std::string> rose::readSmallFile(const std::string &path,
                                          size_t maxBytes) {
  auto file = MappedFile::open(path);
  if (!file)
    return file.status();
  if ((*file)->size() > maxBytes)
    return Status::error(path, ": larger than ", maxBytes, " bytes");
  return std::string(reinterpret_cast<const char *>((*file)->data()),
                     (*file)->size());
}
