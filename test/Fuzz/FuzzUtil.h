//===- FuzzUtil.h - helpers shared by the fuzz targets ----------*- C++ -*-===//
#ifndef ROSE_TEST_FUZZ_FUZZUTIL_H
#define ROSE_TEST_FUZZ_FUZZUTIL_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace rose::fuzz {

/// A per-process scratch directory: the parsers under test read files.
/// ROSE_FUZZ_SCRATCH names it (the seeded smoke in scripts/fuzz.sh sets a
/// fixed one: paths end up in error messages and hashed names, so a path that
/// differs from run to run would make coverage, and so the inputs a seeded
/// run explores, differ too); otherwise it is per pid.
inline const std::string &scratchDir() {
  static const std::string dir = [] {
    std::string d;
    if (const char *fixed = std::getenv("ROSE_FUZZ_SCRATCH"))
      d = fixed;
    else
      d = "/tmp/rose-fuzz-" + std::to_string(::getpid());
    ::mkdir(d.c_str(), 0700);
    return d;
  }();
  return dir;
}

/// Writes `size` bytes to `name` in the scratch dir and returns its path.
inline std::string writeScratch(const std::string &name, const uint8_t *data,
                                size_t size) {
  std::string path = scratchDir() + "/" + name;
  if (FILE *f = std::fopen(path.c_str(), "wb")) {
    if (size)
      std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  return path;
}

} // namespace rose::fuzz

#endif // ROSE_TEST_FUZZ_FUZZUTIL_H
