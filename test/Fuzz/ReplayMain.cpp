//===- ReplayMain.cpp - run fuzz inputs without libFuzzer
//------------------===//
//
// The regression inputs in test/Fuzz/corpus/<target>/ replay through the
// same harnesses in the ordinary (GCC, sanitizer) builds of the test suite.
//
//===----------------------------------------------------------------------===//
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/stat.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return 1;
}

int main(int argc, char **argv) {
  int count = 0;
  for (int i = 1; i < argc; ++i) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      std::fprintf(stderr, "replay: cannot read %s\n", argv[i]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      count += replay(argv[i]);
      continue;
    }
    if (DIR *dir = opendir(argv[i])) {
      while (dirent *e = readdir(dir))
        if (e->d_name[0] != '.')
          count += replay(std::string(argv[i]) + "/" + e->d_name);
      closedir(dir);
    }
  }
  std::printf("replayed %d inputs\n", count);
  // An emptied or misnamed corpus must not pass as a clean replay.
  if (count == 0) {
    std::fprintf(stderr, "replay: no inputs found\n");
    return 1;
  }
  return 0;
}
