//===- Tokenizer.cpp - picks a checkpoint's tokenizer ---------------------===//
#include "runtime/tokenizer/Tokenizer.h"

#include <sys/stat.h>

using namespace rose;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string &dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::error(dir, ": not a directory");
  // Llama-2 directories hold tokenizer.model and a tokenizer.json converted
  // from it: the sentencepiece model is the original.
  if (::stat((dir + "/tokenizer.model").c_str(), &st) == 0)
    return loadSentencePiece(dir);
  return loadByteLevelBpe(dir);
}
