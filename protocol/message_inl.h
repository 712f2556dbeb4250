// Template definitions of message.h.
#pragma once

#include <kj/exception.h>

#include <string>

namespace fastgpu::protocol {

template <typename Body>
Status decodeSafely(const char* what, Body&& body) {
  Status status;
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&] { status = body(); });
  KJ_IF_MAYBE(exception, failure) {
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE,
                  std::string("malformed ") + what + ": " + exception->getDescription().cStr());
  }
  return status;
}

}  // namespace fastgpu::protocol
