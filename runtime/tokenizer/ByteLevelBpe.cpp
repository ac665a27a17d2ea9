//===- ByteLevelBpe.cpp - byte-level BPE (GPT-2, Llama-3, Qwen2) ----------===//
//
// tokenizer.json is a pipeline (Hugging Face `tokenizers`): normalizer,
// pre-tokenizer, model, post-processor. rose reads the byte-level BPE
// family of it and refuses, naming the field, any stage it does not model:
//  - normalizer: none;
//  - pre_tokenizer: ByteLevel (GPT-2's regex unless use_regex is false;
//    add_prefix_space), or a Sequence of Split (a Regex or String pattern,
//    behavior Isolated) and ByteLevel steps, as Llama-3 and Qwen2 write it;
//  - model: BPE with ignore_merges (a piece already in the vocabulary is
//    one token, as tiktoken does), no byte fallback or subword affixes;
//  - post_processor: none, ByteLevel, TemplateProcessing (the special
//    tokens around $A, e.g. Llama-3's <|begin_of_text|>), or a Sequence.
//
//===----------------------------------------------------------------------===//
#include "runtime/tokenizer/ByteLevelBpe.h"
#include "runtime/MappedFile.h"

#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/stat.h>
#include <unordered_map>

using namespace rose;
using namespace rose::bpe;

namespace {

constexpr size_t kMaxFileBytes = size_t(256) << 20;

bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

StatusOr<std::string> readFile(const std::string &path) {
  return readSmallFile(path, kMaxFileBytes);
}

/// UTF-8 of one code point.
std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

/// The code points of valid UTF-8 `s` (the byte alphabet's are < 0x800).
std::vector<std::string> characters(const std::string &s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

} // namespace

Status ByteLevelBpe::addToken(const std::string &token, int64_t id,
                              const std::string &where) {
  if (id < 0 || id > (int64_t(1) << 24))
    return Status::error(where, ": token '", token, "' has id ", id,
                         " (out of range)");
  encoder[token] = id;
  if (decoder.size() <= static_cast<size_t>(id))
    decoder.resize(id + 1);
  decoder[id] = token;
  return Status::success();
}

Status ByteLevelBpe::addMerge(const std::string &a, const std::string &b,
                              const std::string &where) {
  if (a.empty() || b.empty() || a.find(' ') != std::string::npos ||
      b.find(' ') != std::string::npos)
    return Status::error(where, ": malformed merge '", a, " ", b, "'");
  ranks.emplace(a + " " + b, static_cast<int64_t>(ranks.size()));
  return Status::success();
}

StatusOr<std::unique_ptr<Tokenizer>>
ByteLevelBpe::load(const std::string &dir) {
  auto t = std::make_unique<ByteLevelBpe>();
  // GPT-2's byte alphabet: printable bytes stand for themselves, the rest
  // map to 256 + n in order.
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) ||
                     (b >= 0xae && b <= 0xff);
    t->byteToChar[b] = utf8(printable ? b : 256 + n++);
    t->charToByte[t->byteToChar[b]] = static_cast<unsigned char>(b);
  }

  std::string tokenizerJson = dir + "/tokenizer.json";
  if (fileExists(tokenizerJson)) {
    auto text = readFile(tokenizerJson);
    if (!text)
      return text.status();
    json root = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    auto fail = [&](const auto &...args) {
      return Status::error(tokenizerJson, ": ", args...);
    };
    if (root.is_discarded() || !root.is_object())
      return fail("not a JSON object");
    auto model = root.find("model");
    if (model == root.end() || !model->is_object())
      return fail("no \"model\" object");
    auto type = model->find("type");
    if (type == model->end() || !type->is_string() || *type != "BPE")
      return fail("model type ",
                  type != model->end() && type->is_string()
                      ? type->get<std::string>()
                      : std::string("?"),
                  " is not supported (rose reads BPE)");
    auto vocab = model->find("vocab");
    auto merges = model->find("merges");
    if (vocab == model->end() || !vocab->is_object() ||
        merges == model->end() || !merges->is_array())
      return fail("model needs a \"vocab\" object and a \"merges\" array");
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
      if (!it->is_number_integer())
        return fail("vocab entry '", it.key(), "' is not an integer id");
      ROSE_RETURN_IF_ERROR(
          t->addToken(it.key(), it->get<int64_t>(), tokenizerJson));
    }
    for (const json &m : *merges) {
      if (m.is_string()) { // "a b"
        std::string s = m.get<std::string>();
        size_t space = s.find(' ');
        if (space == std::string::npos)
          return fail("malformed merge '", s, "'");
        ROSE_RETURN_IF_ERROR(t->addMerge(s.substr(0, space),
                                         s.substr(space + 1), tokenizerJson));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() &&
                 m[1].is_string()) { // ["a", "b"]
        ROSE_RETURN_IF_ERROR(t->addMerge(
            m[0].get<std::string>(), m[1].get<std::string>(), tokenizerJson));
      } else {
        return fail("a merge must be \"a b\" or [\"a\", \"b\"]");
      }
    }
    if (auto addedTokens = root.find("added_tokens");
        addedTokens != root.end() && addedTokens->is_array())
      for (const json &a : *addedTokens) {
        auto content = a.find("content");
        auto id = a.find("id");
        if (!a.is_object() || content == a.end() || !content->is_string() ||
            id == a.end() || !id->is_number_integer())
          return fail("an added token needs \"content\" and \"id\"");
        if (content->get<std::string>().empty())
          return fail("added token ", id->get<int64_t>(), " is empty");
        ROSE_RETURN_IF_ERROR(t->addToken(content->get<std::string>(),
                                         id->get<int64_t>(), tokenizerJson));
        t->added.emplace_back(content->get<std::string>(), id->get<int64_t>());
      }
    ROSE_RETURN_IF_ERROR(t->readPipeline(root, tokenizerJson));
  } else {
    std::string vocabPath = dir + "/vocab.json",
                mergesPath = dir + "/merges.txt";
    if (!fileExists(vocabPath) || !fileExists(mergesPath))
      return Status::error(dir,
                           ": no tokenizer (tokenizer.json, or vocab.json and "
                           "merges.txt)");
    auto text = readFile(vocabPath);
    if (!text)
      return text.status();
    json vocab = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (vocab.is_discarded() || !vocab.is_object())
      return Status::error(vocabPath, ": not a JSON object");
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!it->is_number_integer())
        return Status::error(vocabPath, ": entry '", it.key(),
                             "' is not an integer id");
      ROSE_RETURN_IF_ERROR(
          t->addToken(it.key(), it->get<int64_t>(), vocabPath));
      // GPT-2's vocabulary holds its special tokens (<|endoftext|>).
      const std::string &k = it.key();
      if (k.size() > 4 && k.compare(0, 2, "<|") == 0 &&
          k.compare(k.size() - 2, 2, "|>") == 0)
        t->added.emplace_back(k, it->get<int64_t>());
    }
    auto merges = readFile(mergesPath);
    if (!merges)
      return merges.status();
    std::istringstream lines(*merges);
    std::string line;
    for (size_t number = 1; std::getline(lines, line); ++number) {
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0))
        continue;
      size_t space = line.find(' ');
      if (space == std::string::npos)
        return Status::error(mergesPath, ":", number, ": malformed merge '",
                             line, "'");
      ROSE_RETURN_IF_ERROR(
          t->addMerge(line.substr(0, space), line.substr(space + 1),
                      mergesPath + ":" + std::to_string(number)));
    }
    ROSE_RETURN_IF_ERROR(t->addSplit(kPattern, /*literal=*/false, vocabPath));
  }
  if (t->encoder.empty())
    return Status::error(dir, ": the tokenizer's vocabulary is empty");
  t->isAdded.assign(t->decoder.size(), false);
  for (const auto &[content, id] : t->added)
    t->isAdded[id] = true;
  // Longest added token first, so "<|a|><|ab|>"-style overlaps split right.
  std::sort(t->added.begin(), t->added.end(), [](const auto &a, const auto &b) {
    return a.first.size() > b.first.size();
  });

  return std::unique_ptr<Tokenizer>(std::move(t));
}

Status ByteLevelBpe::bpe(const std::string &piece,
                         std::vector<int64_t> &out) const {
  std::string mapped;
  for (unsigned char c : piece)
    mapped += byteToChar[c];
  if (ignoreMerges)
    if (auto it = encoder.find(mapped); it != encoder.end()) {
      out.push_back(it->second);
      return Status::success();
    }
  std::vector<std::string> word = characters(mapped);
  while (word.size() > 1) {
    int64_t best = std::numeric_limits<int64_t>::max();
    size_t at = 0;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = ranks.find(word[i] + " " + word[i + 1]);
      if (it != ranks.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == std::numeric_limits<int64_t>::max())
      break;
    // Merge every occurrence of that pair, left to right.
    std::string first = word[at], second = word[at + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < word.size(); ++i) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        merged.push_back(first + second);
        ++i;
      } else {
        merged.push_back(word[i]);
      }
    }
    word = std::move(merged);
  }
  for (const std::string &token : word) {
    auto it = encoder.find(token);
    if (it == encoder.end())
      return Status::error("the vocabulary has no token for '", token,
                           "' (an incomplete byte-level vocabulary?)");
    out.push_back(it->second);
  }
  return Status::success();
}

/// Splits s (text[base, ...)) by `regex` as Split(behavior: Isolated) does:
/// each match and each stretch between matches is a piece; empty matches
/// split nothing.
static Status splitIsolated(const pcre2_code *regex, pcre2_match_data *match,
                            const std::string &s, size_t base,
                            std::vector<std::pair<size_t, std::string>> &out) {
  size_t at = 0, gap = 0;
  while (at < s.size()) {
    // The text was checked once (encode): no per-call UTF-8 scan of it.
    int rc = pcre2_match(regex, reinterpret_cast<PCRE2_SPTR>(s.data()),
                         s.size(), at, PCRE2_NO_UTF_CHECK, match, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH)
      break;
    if (rc < 0)
      return Status::error("pre-tokenization failed (PCRE2 error ", rc, ")");
    PCRE2_SIZE *span = pcre2_get_ovector_pointer(match);
    if (span[1] <= span[0]) { // empty: step over one code point
      at = span[0] + 1;
      while (at < s.size() &&
             (static_cast<unsigned char>(s[at]) & 0xc0) == 0x80)
        ++at;
      continue;
    }
    if (span[0] > gap)
      out.emplace_back(base + gap, s.substr(gap, span[0] - gap));
    out.emplace_back(base + span[0], s.substr(span[0], span[1] - span[0]));
    at = gap = span[1];
  }
  if (gap < s.size())
    out.emplace_back(base + gap, s.substr(gap));
  return Status::success();
}

StatusOr<std::vector<int64_t>>
ByteLevelBpe::encode(const std::string &text) const {
  std::vector<int64_t> ids = prefixIds;
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data *)> match(
      pcre2_match_data_create(16, nullptr), pcre2_match_data_free);
  if (!match)
    return Status::error("out of memory");
  // UTF-8 is checked once here; the pieces split from valid text at
  // character boundaries are valid too.
  if (!splits.empty()) {
    int rc = pcre2_match(splits[0], reinterpret_cast<PCRE2_SPTR>(text.data()),
                         text.size(), 0, 0, match.get(), nullptr);
    if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
      return Status::error("the text is not valid UTF-8 (at byte ",
                           pcre2_get_startchar(match.get()), ")");
  }
  auto withPrefix = [&](std::vector<std::pair<size_t, std::string>> &pieces) {
    for (auto &piece : pieces)
      if (piece.second[0] != ' ')
        piece.second.insert(piece.second.begin(), ' ');
  };
  // Pre-tokenizes and merges text[begin, end), which holds no added token.
  auto ordinary = [&](size_t begin, size_t end) -> Status {
    if (begin == end)
      return Status::success();
    std::vector<std::pair<size_t, std::string>> pieces{
        {begin, text.substr(begin, end - begin)}},
        next;
    for (size_t s = 0; s < splits.size(); ++s) {
      if (static_cast<int>(s) == prefixAt)
        withPrefix(pieces);
      next.clear();
      for (const auto &[at, piece] : pieces)
        ROSE_RETURN_IF_ERROR(
            splitIsolated(splits[s], match.get(), piece, at, next));
      pieces.swap(next);
    }
    if (prefixAt == static_cast<int>(splits.size()))
      withPrefix(pieces);
    for (const auto &piece : pieces)
      ROSE_RETURN_IF_ERROR(bpe(piece.second, ids));
    return Status::success();
  };
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const std::pair<std::string, int64_t> *hit = nullptr;
    for (const auto &a : added)
      if (text.compare(i, a.first.size(), a.first) == 0) {
        hit = &a;
        break;
      }
    if (!hit) {
      ++i;
      continue;
    }
    ROSE_RETURN_IF_ERROR(ordinary(start, i));
    ids.push_back(hit->second);
    i += hit->first.size();
    start = i;
  }
  ROSE_RETURN_IF_ERROR(ordinary(start, text.size()));
  ids.insert(ids.end(), suffixIds.begin(), suffixIds.end());
  return ids;
}

StatusOr<std::string>
ByteLevelBpe::decode(const std::vector<int64_t> &ids) const {
  std::string out;
  for (int64_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= decoder.size() ||
        decoder[id].empty())
      return Status::error("token id ", id, " is not in the vocabulary");
    if (isAdded[id]) {
      out += decoder[id];
      continue;
    }
    for (const std::string &c : characters(decoder[id])) {
      auto it = charToByte.find(c);
      if (it == charToByte.end())
        return Status::error("token id ", id, " ('", decoder[id],
                             "') is not byte-level BPE");
      out += static_cast<char>(it->second);
    }
  }
  return out;
}

StatusOr<std::unique_ptr<Tokenizer>>
rose::loadByteLevelBpe(const std::string &dir) {
  return ByteLevelBpe::load(dir);
}
