//===- ByteLevelBpe.h - byte-level BPE, shared by its two files -*- C++ -*-===//
//
// Internal to runtime/tokenizer/: ByteLevelBpe.cpp (loading the vocabulary
// and merges, encode, decode) and ByteLevelBpePipeline.cpp (reading
// tokenizer.json's pre-tokenizer and post-processor stages).
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_TOKENIZER_BYTELEVELBPE_H
#define ROSE_RUNTIME_TOKENIZER_BYTELEVELBPE_H

#include "runtime/tokenizer/Tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace rose::bpe {

using json = nlohmann::json;

/// GPT-2's pre-tokenization (openai/gpt-2 encoder.py).
inline constexpr const char *kPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelBpe final : public Tokenizer {
public:
  static StatusOr<std::unique_ptr<Tokenizer>> load(const std::string &dir);
  ByteLevelBpe() = default;
  ByteLevelBpe(const ByteLevelBpe &) = delete; // owns the compiled regexes
  ByteLevelBpe &operator=(const ByteLevelBpe &) = delete;
  ~ByteLevelBpe() override {
    for (pcre2_code *regex : splits)
      pcre2_code_free(regex);
  }
  const char *kind() const override { return "byte-level-bpe"; }
  StatusOr<std::vector<int64_t>> encode(const std::string &text) const override;
  StatusOr<std::string> decode(const std::vector<int64_t> &ids) const override;

private:
  Status addToken(const std::string &token, int64_t id,
                  const std::string &where);
  Status addMerge(const std::string &a, const std::string &b,
                  const std::string &where);
  Status bpe(const std::string &piece, std::vector<int64_t> &out) const;
  Status readPipeline(const json &root, const std::string &where);
  Status readPreTokenizer(const json &step, const std::string &where);
  Status readPostProcessor(const json &step, const std::string &where);
  Status addSplit(const std::string &pattern, bool literal,
                  const std::string &where);

  std::unordered_map<std::string, int64_t> encoder;
  std::vector<std::string> decoder;               // by id; empty: no such id
  std::unordered_map<std::string, int64_t> ranks; // "a b" -> rank
  std::vector<std::pair<std::string, int64_t>> added; // content, id
  std::vector<bool> isAdded;
  std::string byteToChar[256];
  std::map<std::string, unsigned char> charToByte;
  /// Applied in order; each piece of one split is split again by the next.
  std::vector<pcre2_code *> splits;
  /// ByteLevel's add_prefix_space: before split number prefixAt (-1:
  /// none), each piece not starting with a space gets one, as Hugging
  /// Face's ByteLevel step does to the pieces it receives.
  int prefixAt = -1;
  bool ignoreMerges = false;
  std::vector<int64_t> prefixIds, suffixIds; // the post-processor's template
};

} // namespace rose::bpe

#endif // ROSE_RUNTIME_TOKENIZER_BYTELEVELBPE_H
