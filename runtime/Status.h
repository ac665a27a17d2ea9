//===- Status.h - runtime error type ----------------------------*- C++ -*-===//
//
// The runtime builds without LLVM, so it has its own small error type: a
// one-line message that names the thing and where. No exceptions: the runtime
// is also compiled with -fno-exceptions inside the compiler build.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_STATUS_H
#define ROSE_RUNTIME_STATUS_H

#include <cassert>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace rose {

/// Success, or a one-line error message.
class [[nodiscard]] Status {
public:
  Status() = default;
  static Status success() { return Status(); }
  /// Builds the message by streaming every argument.
  template <typename... Args> static Status error(const Args &...args) {
    std::ostringstream os;
    (os << ... << args);
    Status s;
    s.message_ = os.str();
    s.failed_ = true;
    return s;
  }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string &message() const { return message_; }

  /// Prefixes the message with context ("model.rose: ...").
  Status withContext(const std::string &context) const {
    if (ok())
      return *this;
    return error(context, ": ", message_);
  }

private:
  std::string message_;
  bool failed_ = false;
};

/// A value or the Status that explains why there is none.
template <typename T> class [[nodiscard]] StatusOr {
public:
  StatusOr(T value) : value_(std::move(value)) {}
  StatusOr(Status status) : status_(std::move(status)) {
    assert(!status_.ok() && "StatusOr built from a success status");
  }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status &status() const { return status_; }
  T &operator*() { return *value_; }
  const T &operator*() const { return *value_; }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }
  T take() { return std::move(*value_); }

private:
  std::optional<T> value_;
  Status status_;
};

} // namespace rose

/// Returns the failed Status of `expr` from the enclosing function.
#define ROSE_RETURN_IF_ERROR(expr)                                             \
  do {                                                                         \
    ::rose::Status roseStatus_ = (expr);                                       \
    if (!roseStatus_.ok())                                                     \
      return roseStatus_;                                                      \
  } while (false)

#endif // ROSE_RUNTIME_STATUS_H
