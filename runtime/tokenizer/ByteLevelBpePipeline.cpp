//===- ByteLevelBpePipeline.cpp - tokenizer.json's stages -----------------===//
//
// The pre-tokenizer (ByteLevel; Split with a Regex or String pattern; a
// Sequence of them) and post-processor (ByteLevel, TemplateProcessing,
// Sequence) stages of a byte-level BPE tokenizer.json; anything else is
// refused naming the field.
//
//===----------------------------------------------------------------------===//
#include "runtime/tokenizer/ByteLevelBpe.h"

using namespace rose;
using namespace rose::bpe;

Status ByteLevelBpe::addSplit(const std::string &pattern, bool literal,
                              const std::string &where) {
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *regex = pcre2_compile(
      reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
      PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0), &code, &offset,
      nullptr);
  if (!regex) {
    PCRE2_UCHAR message[160];
    pcre2_get_error_message(code, message, sizeof message);
    return Status::error(where, ": split pattern does not compile at offset ",
                         offset, ": ", reinterpret_cast<char *>(message));
  }
  splits.push_back(regex);
  return Status::success();
}

Status ByteLevelBpe::readPreTokenizer(const json &step,
                                      const std::string &where) {
  auto type = step.find("type");
  if (!step.is_object() || type == step.end() || !type->is_string())
    return Status::error(where, ": a pre_tokenizer needs a \"type\"");
  auto flag = [&](const char *name, bool fallback) {
    auto it = step.find(name);
    return it != step.end() && it->is_boolean() ? it->get<bool>() : fallback;
  };
  if (*type == "ByteLevel") {
    if (flag("add_prefix_space", false))
      prefixAt = static_cast<int>(splits.size());
    if (flag("use_regex", true))
      return addSplit(kPattern, /*literal=*/false, where);
    return Status::success();
  }
  if (*type == "Split") {
    auto pattern = step.find("pattern");
    auto behavior = step.find("behavior");
    if (behavior == step.end() || *behavior != "Isolated" ||
        flag("invert", false))
      return Status::error(where,
                           ": pre_tokenizer Split is supported with behavior "
                           "Isolated and invert false");
    if (pattern != step.end() && pattern->is_object()) {
      if (auto r = pattern->find("Regex");
          r != pattern->end() && r->is_string())
        return addSplit(r->get<std::string>(), /*literal=*/false, where);
      if (auto r = pattern->find("String");
          r != pattern->end() && r->is_string())
        return addSplit(r->get<std::string>(), /*literal=*/true, where);
    }
    return Status::error(where,
                         ": pre_tokenizer Split needs a pattern {\"Regex\": "
                         "...} or {\"String\": ...}");
  }
  if (*type == "Sequence") {
    auto steps = step.find("pretokenizers");
    if (steps == step.end() || !steps->is_array())
      return Status::error(where,
                           ": pre_tokenizer Sequence needs \"pretokenizers\"");
    for (const json &s : *steps)
      ROSE_RETURN_IF_ERROR(readPreTokenizer(s, where));
    return Status::success();
  }
  return Status::error(where, ": pre_tokenizer ", type->get<std::string>(),
                       " is not supported (rose reads ByteLevel, Split and "
                       "Sequence)");
}

Status ByteLevelBpe::readPostProcessor(const json &step,
                                       const std::string &where) {
  auto type = step.find("type");
  if (!step.is_object() || type == step.end() || !type->is_string())
    return Status::error(where, ": a post_processor needs a \"type\"");
  if (*type == "ByteLevel")
    return Status::success(); // offsets only
  if (*type == "Sequence") {
    auto steps = step.find("processors");
    if (steps == step.end() || !steps->is_array())
      return Status::error(where,
                           ": post_processor Sequence needs \"processors\"");
    for (const json &s : *steps)
      ROSE_RETURN_IF_ERROR(readPostProcessor(s, where));
    return Status::success();
  }
  if (*type != "TemplateProcessing")
    return Status::error(where, ": post_processor ", type->get<std::string>(),
                         " is not supported (rose reads TemplateProcessing, "
                         "ByteLevel and Sequence)");
  // "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}]
  // with "special_tokens": {"<s>": {"ids": [1]}}.
  auto single = step.find("single");
  auto special = step.find("special_tokens");
  if (single == step.end() || !single->is_array())
    return Status::error(where, ": TemplateProcessing needs a \"single\" list");
  prefixIds.clear();
  suffixIds.clear();
  bool seenSequence = false;
  for (const json &piece : *single) {
    if (piece.is_object() && piece.contains("Sequence")) {
      if (seenSequence)
        return Status::error(where, ": TemplateProcessing \"single\" has $A "
                                    "twice");
      seenSequence = true;
      continue;
    }
    auto token = piece.is_object() ? piece.find("SpecialToken") : piece.end();
    if (token == piece.end() || !token->is_object() || !token->contains("id") ||
        !(*token)["id"].is_string())
      return Status::error(where, ": TemplateProcessing \"single\" entries "
                                  "are SpecialToken or Sequence");
    std::string name = (*token)["id"].get<std::string>();
    const json *entry = nullptr;
    if (special != step.end() && special->is_object())
      if (auto it = special->find(name); it != special->end())
        entry = &*it;
    if (!entry || !entry->is_object() || !entry->contains("ids") ||
        !(*entry)["ids"].is_array())
      return Status::error(where, ": TemplateProcessing special token '", name,
                           "' has no ids in \"special_tokens\"");
    for (const json &id : (*entry)["ids"]) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          static_cast<size_t>(id.get<int64_t>()) >= decoder.size() ||
          decoder[id.get<int64_t>()].empty())
        return Status::error(where, ": TemplateProcessing special token '",
                             name, "' has an id outside the vocabulary");
      (seenSequence ? suffixIds : prefixIds).push_back(id.get<int64_t>());
    }
  }
  if (!seenSequence)
    return Status::error(where, ": TemplateProcessing \"single\" has no $A");
  return Status::success();
}

Status ByteLevelBpe::readPipeline(const json &root, const std::string &where) {
  if (auto n = root.find("normalizer"); n != root.end() && !n->is_null())
    return Status::error(where, ": normalizer ",
                         n->is_object() && n->contains("type") &&
                                 (*n)["type"].is_string()
                             ? (*n)["type"].get<std::string>()
                             : std::string("?"),
                         " is not supported (rose reads byte-level BPE "
                         "without a normalizer)");
  const json &model = root["model"];
  auto flag = [&](const char *name) {
    auto it = model.find(name);
    return it != model.end() && it->is_boolean() && it->get<bool>();
  };
  ignoreMerges = flag("ignore_merges");
  if (flag("byte_fallback"))
    return Status::error(where, ": model byte_fallback is not supported "
                                "(rose reads byte-level BPE)");
  for (const char *affix : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (auto it = model.find(affix);
        it != model.end() && !it->is_null() &&
        !(it->is_string() && it->get<std::string>().empty()))
      return Status::error(where, ": model ", affix, " is not supported");
  auto pre = root.find("pre_tokenizer");
  if (pre == root.end() || pre->is_null())
    return Status::error(where, ": no pre_tokenizer (rose reads byte-level "
                                "BPE: ByteLevel, Split, Sequence)");
  ROSE_RETURN_IF_ERROR(readPreTokenizer(*pre, where));
  if (auto post = root.find("post_processor");
      post != root.end() && !post->is_null())
    ROSE_RETURN_IF_ERROR(readPostProcessor(*post, where));
  return Status::success();
}
