// Linking code at run time (cuLinkCreate, AddData, Complete, Destroy) with the server's driver,
// which knows its GPU: the client sends its inputs, gets the linked image back and loads it as
// any module. A link is the session's (its id refused elsewhere); its inputs are charged as code
// bytes while it lives, its count bounded (kMaxLinks). The driver's error log goes back in the
// error's message, bounded.
#include <fmt/format.h>

#include "cudaabi/error_strings.h"
#include "protocol/frame.h"
#include "server/session.h"

namespace fastgpu::server {

namespace {

// The input types a client may send: images, not host objects or archives named by the server's
// paths (CU_JIT_INPUT_* values; NVVM IR needs link-time optimization options the wire does not
// carry).
bool acceptedInput(std::uint32_t type) {
  return type == CU_JIT_INPUT_CUBIN || type == CU_JIT_INPUT_PTX || type == CU_JIT_INPUT_FATBINARY ||
         type == CU_JIT_INPUT_OBJECT || type == CU_JIT_INPUT_LIBRARY;
}

// The first line(s) of a driver's log, bounded and without control characters, for a message.
std::string logExcerpt(const std::array<char, 8192>& log) {
  std::string text;
  for (char c : log) {
    if (c == '\0' || text.size() >= 512) break;
    text.push_back(c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f) ? c : '?');
  }
  return text;
}

Status linkFailure(CUresult result, const char* what, const LinkInProgress& link) {
  return Status(result, fmt::format("{}: {}: {}", what, cudaabi::errorNameOrNumber(result), logExcerpt(link.errors)));
}

}  // namespace

Status Session::executeLinkCall(wire::Call::Reader call, Answer& answer) {
  SessionState& state = *state_;
  switch (call.which()) {
    case wire::Call::LINK_CREATE: {
      if (state.current() == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
      auto link = std::make_unique<LinkInProgress>();
      CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
      void* values[] = {link->errors.data(), reinterpret_cast<void*>(link->errors.size() - 1)};
      if (Status room = state.roomFor(HandleKind::kLink); !room) return room;
      CUresult result = driver_.cuLinkCreate_v2(2, options, values, &link->state);
      if (result != CUDA_SUCCESS) return driverResult(result, "cuLinkCreate");
      answer.setHandle(state.addLink(std::move(link)));
      return Status::ok();
    }
    case wire::Call::LINK_ADD_DATA: {
      auto input = call.getLinkAddData();
      LinkInProgress* link = state.link(input.getLink());
      if (link == nullptr) return Status(CUDA_ERROR_INVALID_HANDLE, "not a link of this session");
      if (!acceptedInput(input.getType())) return Status(CUDA_ERROR_INVALID_VALUE, "not an input type FastGPU links");
      auto data = input.getData();
      if (data.size() == 0) return Status(CUDA_ERROR_INVALID_VALUE, "an empty input");
      if (Status room = state.roomForCode(data.size()); !room) return room;
      std::string name(input.getName().cStr(), std::min<std::size_t>(input.getName().size(), 256));
      // The message goes after this call; the driver may read the input until it completes.
      link->inputs.emplace_back(data.begin(), data.end());
      link->errors.fill('\0');
      CUresult result = driver_.cuLinkAddData_v2(link->state, static_cast<CUjitInputType>(input.getType()),
                                                 link->inputs.back().data(), data.size(), name.c_str(), 0, nullptr,
                                                 nullptr);
      if (result != CUDA_SUCCESS) {
        link->inputs.pop_back();
        return linkFailure(result, "cuLinkAddData", *link);
      }
      state.chargeCode(input.getLink(), data.size());
      return Status::ok();
    }
    case wire::Call::LINK_COMPLETE: {
      LinkInProgress* link = state.link(call.getLinkComplete());
      if (link == nullptr) return Status(CUDA_ERROR_INVALID_HANDLE, "not a link of this session");
      void* image = nullptr;
      std::size_t bytes = 0;
      link->errors.fill('\0');
      CUresult result = driver_.cuLinkComplete(link->state, &image, &bytes);
      if (result != CUDA_SUCCESS) {
        return linkFailure(result, "cuLinkComplete", *link);
      }
      if (image == nullptr || bytes == 0 || bytes > protocol::kMaxFrameBytes / 2) {
        return Status(CUDA_ERROR_NOT_SUPPORTED, "the linked image is larger than one reply");
      }
      answer.kind = Answer::Kind::kData;
      const auto* first = static_cast<const std::uint8_t*>(image);
      answer.data.assign(first, first + bytes);
      return Status::ok();
    }
    case wire::Call::LINK_DESTROY: {
      if (state.link(call.getLinkDestroy()) == nullptr) {
        return Status(CUDA_ERROR_INVALID_HANDLE, "not a link of this session");
      }
      state.destroyLink(call.getLinkDestroy());
      return Status::ok();
    }
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not a link call");
  }
}

}  // namespace fastgpu::server
