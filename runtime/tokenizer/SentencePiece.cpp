//===- SentencePiece.cpp - Llama-2's sentencepiece tokenizer --------------===//
//
// tokenizer.model through Debian's libsentencepiece, which applies the
// model's own normalization, dummy prefix and byte fallback. Like Hugging
// Face's LlamaTokenizer, encoding prepends BOS unless tokenizer_config.json
// says "add_bos_token": false.
//
//===----------------------------------------------------------------------===//
#include "runtime/tokenizer/Tokenizer.h"

#ifdef ROSE_HAVE_SENTENCEPIECE
#include "runtime/MappedFile.h"

#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>
#include <sys/stat.h>
#endif

using namespace rose;

#ifdef ROSE_HAVE_SENTENCEPIECE
namespace {

constexpr size_t kMaxConfigBytes = size_t(64) << 20;

class SentencePiece final : public Tokenizer {
public:
  const char *kind() const override { return "sentencepiece"; }

  static StatusOr<std::unique_ptr<Tokenizer>> load(const std::string &dir) {
    auto t = std::make_unique<SentencePiece>();
    std::string model = dir + "/tokenizer.model";
    auto status = t->processor.Load(model);
    if (!status.ok())
      return Status::error(model, ": ", status.ToString());
    std::string config = dir + "/tokenizer_config.json";
    struct stat st;
    if (::stat(config.c_str(), &st) == 0) {
      auto text = readSmallFile(config, kMaxConfigBytes);
      if (!text)
        return text.status();
      auto root = nlohmann::json::parse(*text, nullptr,
                                        /*allow_exceptions=*/false);
      if (root.is_discarded() || !root.is_object())
        return Status::error(config, ": not a JSON object");
      if (auto bos = root.find("add_bos_token"); bos != root.end()) {
        if (!bos->is_boolean())
          return Status::error(config, ": 'add_bos_token' must be a boolean");
        t->addBos = bos->get<bool>();
      }
    }
    return std::unique_ptr<Tokenizer>(std::move(t));
  }

  StatusOr<std::vector<int64_t>>
  encode(const std::string &text) const override {
    std::vector<int> ids;
    auto status = processor.Encode(text, &ids);
    if (!status.ok())
      return Status::error("sentencepiece: ", status.ToString());
    std::vector<int64_t> out;
    if (addBos && processor.bos_id() >= 0)
      out.push_back(processor.bos_id());
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }

  StatusOr<std::string> decode(const std::vector<int64_t> &ids) const override {
    std::vector<int> pieces;
    for (int64_t id : ids) {
      if (id < 0 || id >= processor.GetPieceSize())
        return Status::error("token id ", id, " is not in the vocabulary");
      pieces.push_back(static_cast<int>(id));
    }
    std::string text;
    auto status = processor.Decode(pieces, &text);
    if (!status.ok())
      return Status::error("sentencepiece: ", status.ToString());
    return text;
  }

private:
  sentencepiece::SentencePieceProcessor processor;
  bool addBos = true;
};

} // namespace

StatusOr<std::unique_ptr<Tokenizer>>
rose::loadSentencePiece(const std::string &dir) {
  return SentencePiece::load(dir);
}
#else
StatusOr<std::unique_ptr<Tokenizer>>
rose::loadSentencePiece(const std::string &dir) {
  return Status::error(dir, "/tokenizer.model: this build has no sentencepiece "
                            "(install libsentencepiece-dev and reconfigure)");
}
#endif
