//===- Npy.cpp - NumPy .npy files for tokens and logits
//--------------------===//
#include "runtime/Npy.h"
#include "runtime/MappedFile.h"

#include <cstdlib>
#include <cstring>
#include <regex>

using namespace rose;

StatusOr<std::vector<int64_t>>
rose::readTokensNpy(const std::string &path, int64_t &rows, int64_t &cols) {
  auto file = MappedFile::open(path);
  if (!file)
    return file.status();
  const uint8_t *p = (*file)->data();
  size_t size = (*file)->size();
  if (size < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0)
    return Status::error(path, ": not a .npy file");
  int major = p[6];
  size_t headerLen, start;
  if (major == 1) {
    headerLen = p[8] | (p[9] << 8);
    start = 10;
  } else if (size >= 12) {
    headerLen = p[8] | (p[9] << 8) | (p[10] << 16) | (size_t(p[11]) << 24);
    start = 12;
  } else {
    return Status::error(path, ": truncated .npy header");
  }
  if (start + headerLen > size)
    return Status::error(path, ": truncated .npy header");
  std::string header(reinterpret_cast<const char *>(p + start), headerLen);
  std::smatch m;
  if (!std::regex_search(header, m,
                         std::regex("'descr':\\s*'([<>|]?)([a-z])(\\d+)'")))
    return Status::error(path, ": .npy header has no descr");
  std::string order = m[1], kind = m[2];
  // Digit strings can be arbitrarily long: parse with a bound, not stoll
  // (which throws, and the runtime has no exceptions).
  auto number = [](const std::string &digits, int64_t &out) {
    if (digits.size() > 12)
      return false;
    out = std::strtoll(digits.c_str(), nullptr, 10);
    return true;
  };
  int64_t bytes = 0;
  if (!number(m[3], bytes))
    bytes = 0;
  if (kind != "i" || (bytes != 8 && bytes != 4) || order == ">")
    return Status::error(path,
                         ": token ids must be little-endian int64 or "
                         "int32, got '",
                         order, kind, bytes, "'");
  if (std::regex_search(header, std::regex("'fortran_order':\\s*True")))
    return Status::error(path, ": token ids must be in C order");
  if (!std::regex_search(header, m,
                         std::regex("'shape':\\s*\\(\\s*(\\d+)\\s*,\\s*(\\d+)"
                                    "\\s*,?\\s*\\)")))
    return Status::error(path, ": token ids must be 2-D [batch, seq]");
  if (!number(m[1], rows) || !number(m[2], cols) ||
      (rows > 0 && cols > (int64_t(1) << 40) / rows))
    return Status::error(path, ": shape (", m[1].str().substr(0, 20), ", ",
                         m[2].str().substr(0, 20), ") is too large");
  if (rows <= 0 || cols <= 0)
    return Status::error(path, ": token ids must not be empty");
  size_t count = static_cast<size_t>(rows * cols);
  size_t dataStart = start + headerLen;
  if (size - dataStart != count * bytes)
    return Status::error(path, ": holds ", size - dataStart,
                         " bytes of data, shape needs ", count * bytes);
  std::vector<int64_t> out(count);
  for (size_t i = 0; i < count; ++i) {
    if (bytes == 8) {
      std::memcpy(&out[i], p + dataStart + 8 * i, 8);
    } else {
      int32_t v;
      std::memcpy(&v, p + dataStart + 4 * i, 4);
      out[i] = v;
    }
  }
  return out;
}

static Status writeNpy(const std::string &path, const char *descr,
                       const void *data, size_t elementBytes,
                       const std::vector<int64_t> &shape) {
  std::string dims;
  size_t count = 1;
  for (int64_t d : shape) {
    dims += std::to_string(d) + ", ";
    count *= d;
  }
  if (shape.size() > 1)
    dims.resize(dims.size() - 2);
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad so the data starts at a multiple of 64 bytes (header ends in \n).
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string prefix = "\x93NUMPY\x01";
  prefix.push_back('\0');
  prefix.push_back(static_cast<char>(header.size() & 0xff));
  prefix.push_back(static_cast<char>(header.size() >> 8));
  prefix += header;
  return writeFileAtomically(
      path, {{prefix.data(), prefix.size()}, {data, count * elementBytes}});
}

Status rose::writeFloatNpy(const std::string &path, const float *data,
                           const std::vector<int64_t> &shape) {
  return writeNpy(path, "<f4", data, sizeof(float), shape);
}

Status rose::writeInt64Npy(const std::string &path, const int64_t *data,
                           const std::vector<int64_t> &shape) {
  return writeNpy(path, "<i8", data, sizeof(int64_t), shape);
}
