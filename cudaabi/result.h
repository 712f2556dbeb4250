// Expected failures, returned by value.
//
// Bugs go through FASTGPU_CHECK (check.h). Everything a caller can cause -- bad input, a dead
// peer, an exhausted resource -- comes back as a Status or a Result<T> that carries the CUresult
// to report and a message for people. Both are [[nodiscard]].
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "cudaabi/cuda_api.h"

namespace fastgpu {

// What a caller should do about a failure.
enum class ErrorKind {
  kFailed,         // this request failed; others may succeed
  kOverloaded,     // try again later
  kDisconnected,   // the peer or connection is gone; nothing more will arrive on it
  kUnimplemented,  // the operation is not supported
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(CUresult code, std::string message) : code_(code), message_(std::move(message)) {}
  Status(ErrorKind kind, CUresult code, std::string message)
      : code_(code), kind_(kind), message_(std::move(message)) {}
  static Status ok() { return {}; }

  bool isOk() const { return code_ == CUDA_SUCCESS; }
  explicit operator bool() const { return isOk(); }
  CUresult code() const { return code_; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }

 private:
  CUresult code_ = CUDA_SUCCESS;
  ErrorKind kind_ = ErrorKind::kFailed;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool isOk() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return isOk(); }
  T& value() { return std::get<T>(state_); }
  const T& value() const { return std::get<T>(state_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The failure; a success reads as Status::ok().
  Status status() const { return isOk() ? Status::ok() : std::get<Status>(state_); }
  CUresult code() const { return isOk() ? CUDA_SUCCESS : std::get<Status>(state_).code(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace fastgpu
