//===- Safetensors.cpp - safetensors reading and writing
//-------------------===//
#include "runtime/Safetensors.h"
#include "runtime/Shape.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

using namespace rose;
using json = nlohmann::json;

// Headers of real checkpoints are a few hundred KiB; anything near this is a
// corrupt length field, and refusing it avoids a huge allocation.
static constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

int64_t TensorEntry::numElements() const { return rose::numElements(shape); }

const TensorEntry *SafetensorsFile::find(const std::string &name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

/// Parses one header entry; the JSON library runs without exceptions, so
/// every type is checked before it is read.
static StatusOr<TensorEntry> parseEntry(const std::string &name,
                                        const json &value, uint64_t dataSize) {
  auto fail = [&](const auto &...args) {
    return Status::error("tensor '", name, "': ", args...);
  };
  if (!value.is_object())
    return fail("header entry is not an object");
  auto dtypeIt = value.find("dtype");
  auto shapeIt = value.find("shape");
  auto offsetsIt = value.find("data_offsets");
  if (dtypeIt == value.end() || !dtypeIt->is_string())
    return fail("missing or non-string 'dtype'");
  if (shapeIt == value.end() || !shapeIt->is_array())
    return fail("missing or non-array 'shape'");
  if (offsetsIt == value.end() || !offsetsIt->is_array() ||
      offsetsIt->size() != 2)
    return fail("'data_offsets' must be [begin, end]");
  TensorEntry entry;
  std::optional<DType> dtype = parseDType(dtypeIt->get<std::string>());
  if (!dtype)
    return fail("unsupported dtype '", dtypeIt->get<std::string>(), "'");
  entry.dtype = *dtype;
  uint64_t elements = 1;
  for (const json &dim : *shapeIt) {
    if (!dim.is_number_unsigned())
      return fail("shape entries must be non-negative integers");
    uint64_t d = dim.get<uint64_t>();
    if (d != 0 && elements > std::numeric_limits<int64_t>::max() / d)
      return fail("shape overflows");
    elements *= d;
    entry.shape.push_back(static_cast<int64_t>(d));
  }
  for (const json &offset : *offsetsIt)
    if (!offset.is_number_unsigned())
      return fail("data_offsets must be non-negative integers");
  uint64_t begin = (*offsetsIt)[0].get<uint64_t>();
  uint64_t end = (*offsetsIt)[1].get<uint64_t>();
  if (begin > end || end > dataSize)
    return fail("data_offsets [", begin, ", ", end, ") out of bounds of the ",
                dataSize, "-byte data section");
  uint64_t size = dtypeSize(entry.dtype);
  if (elements > std::numeric_limits<uint64_t>::max() / size ||
      elements * size != end - begin)
    return fail("shape holds ", elements, " ", dtypeName(entry.dtype),
                " elements but data_offsets span ", end - begin, " bytes");
  entry.begin = begin;
  entry.end = end;
  return entry;
}

StatusOr<std::shared_ptr<SafetensorsFile>>
SafetensorsFile::open(const std::string &path, bool populate) {
  StatusOr<std::shared_ptr<MappedFile>> mapped =
      MappedFile::open(path, populate);
  if (!mapped)
    return mapped.status();
  auto result = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  result->file_ = mapped.take();
  const MappedFile &file = *result->file_;
  auto fail = [&](const auto &...args) {
    return Status::error(path, ": ", args...);
  };
  if (file.size() < 8)
    return fail("truncated safetensors file (", file.size(),
                " bytes, no header length)");
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | file.data()[i];
  if (headerSize > kMaxHeaderBytes || headerSize > file.size() - 8)
    return fail("header length ", headerSize, " exceeds the file size ",
                file.size());
  const char *headerText = reinterpret_cast<const char *>(file.data() + 8);
  json header = json::parse(headerText, headerText + headerSize, nullptr,
                            /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    return fail("header is not a JSON object");
  uint64_t dataSize = file.size() - 8 - headerSize;
  result->dataStart_ = file.data() + 8 + headerSize;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__")
      continue;
    StatusOr<TensorEntry> entry = parseEntry(it.key(), it.value(), dataSize);
    if (!entry)
      return entry.status().withContext(path);
    result->tensors_.emplace(it.key(), entry.take());
  }
  // Overlapping tensors would alias weights; the format forbids them.
  std::vector<std::pair<const std::string *, const TensorEntry *>> sorted;
  for (const auto &[name, entry] : result->tensors_)
    if (entry.end > entry.begin)
      sorted.emplace_back(&name, &entry);
  std::sort(sorted.begin(), sorted.end(), [](const auto &a, const auto &b) {
    return a.second->begin < b.second->begin;
  });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i].second->begin < sorted[i - 1].second->end)
      return fail("tensors '", *sorted[i - 1].first, "' and '",
                  *sorted[i].first, "' overlap");
  return result;
}

/// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code
/// points past U+10FFFF), which a JSON header needs.
static bool validUtf8(const std::string &s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = c < 0x80           ? 1
               : (c >> 5) == 0x6  ? 2
               : (c >> 4) == 0xe  ? 3
               : (c >> 3) == 0x1e ? 4
                                  : 0;
    if (n == 0 || i + n > s.size())
      return false;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n;
  }
  return true;
}

Status rose::writeSafetensors(const std::string &path,
                              const std::vector<TensorToWrite> &tensors) {
  for (const TensorToWrite &t : tensors)
    if (!validUtf8(t.name))
      return Status::error(path, ": a weight name is not valid UTF-8 (the "
                                 "safetensors header is JSON)");
  json header = json::object();
  std::vector<ByteChunk> chunks(1);
  size_t offset = 0;
  for (const TensorToWrite &t : tensors) {
    size_t bytes = dtypeSize(t.dtype);
    for (int64_t d : t.shape)
      bytes *= static_cast<size_t>(d);
    header[t.name] = {{"dtype", std::string(dtypeName(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    chunks.push_back({t.data, bytes});
    offset += bytes;
  }
  std::string text = header.dump();
  // Pad the header so the data section starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string prefix(8, '\0');
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i)
    prefix[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  prefix += text;
  chunks[0] = {prefix.data(), prefix.size()};
  return writeFileAtomically(path, chunks);
}
