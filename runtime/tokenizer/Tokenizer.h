//===- Tokenizer.h - text to token ids and back ----------------*- C++ -*-===//
//
// The tokenizer a checkpoint ships with, read from its Hugging Face
// directory: Llama-2's sentencepiece `tokenizer.model` (through Debian's
// libsentencepiece: BOS, dummy prefix, byte fallback as the model says), or
// a byte-level BPE (GPT-2, Llama-3, Qwen2) from tokenizer.json (merges as
// "a b" strings or ["a", "b"] pairs) or GPT-2's vocab.json + merges.txt.
// Added and special tokens are split out first; the rest is pre-tokenized
// with the file's split regexes (GPT-2's by default: Unicode letter/number
// classes and the `\s+(?!\S)` lookahead, which std::regex cannot express:
// PCRE2), each piece's UTF-8 bytes mapped to GPT-2's printable byte
// alphabet and merged by rank (a piece already in the vocabulary is kept
// whole under `ignore_merges`), and the post-processor's template adds
// BOS-like tokens. Decoding is lossless: the bytes come back exactly.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_TOKENIZER_TOKENIZER_H
#define ROSE_RUNTIME_TOKENIZER_TOKENIZER_H

#include "runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rose {

class Tokenizer {
public:
  virtual ~Tokenizer() = default;
  /// The tokenizer of the checkpoint directory `dir`; a one-line error
  /// names the file and what is wrong with it.
  static StatusOr<std::unique_ptr<Tokenizer>> load(const std::string &dir);

  virtual StatusOr<std::vector<int64_t>>
  encode(const std::string &text) const = 0;
  virtual StatusOr<std::string>
  decode(const std::vector<int64_t> &ids) const = 0;
  /// "byte-level-bpe", "sentencepiece".
  virtual const char *kind() const = 0;
};

/// The loaders Tokenizer::load picks from (tokenizer.model: sentencepiece,
/// else byte-level BPE).
StatusOr<std::unique_ptr<Tokenizer>> loadByteLevelBpe(const std::string &dir);
StatusOr<std::unique_ptr<Tokenizer>> loadSentencePiece(const std::string &dir);

} // namespace rose

#endif // ROSE_RUNTIME_TOKENIZER_TOKENIZER_H
