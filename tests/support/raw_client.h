// A client that speaks FastGPU's wire protocol by hand, for tests that play a client (or an
// attacker) without the interposer: every field of every call is the test's to choose.
#pragma once

#include <capnp/message.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/call_kinds.h"
#include "protocol/message.h"
#include "protocol/transport/transport.h"

namespace fastgpu::testing {

inline constexpr std::uint64_t kMiB = 1ULL << 20;

// A client that speaks the protocol by hand.
class RawClient {
 public:
  explicit RawClient(const std::string& url, const std::string& vgpu = "", const std::string& token = "",
                     const std::string& host = "test", const protocol::ConnectOptions& options = {}) {
    auto connected = protocol::connect(url, options);
    EXPECT_TRUE(connected) << connected.status().message();
    connection_ = std::move(*connected);
    capnp::MallocMessageBuilder hello;
    auto root = hello.initRoot<wire::Hello>();
    root.setProtocolVersion(wire::PROTOCOL_VERSION);
    root.setPid(1);
    root.setHost(host);
    root.setVgpu(vgpu);
    root.setToken(token);
    std::vector<std::uint8_t> bytes;
    protocol::appendMessage(hello, bytes);
    EXPECT_TRUE(connection_->send(bytes));
    EXPECT_TRUE(connection_->receive(welcomeBytes_));
    protocol::MessageCursor cursor(welcomeBytes_);
    EXPECT_TRUE(cursor.next(welcomeReader_));
  }

  // A client of a session served over `connection` in this process (the login already done):
  // it takes the Welcome.
  explicit RawClient(std::unique_ptr<protocol::Connection> connection) : connection_(std::move(connection)) {
    EXPECT_TRUE(connection_->receive(welcomeBytes_));
    protocol::MessageCursor cursor(welcomeBytes_);
    EXPECT_TRUE(cursor.next(welcomeReader_));
  }

  wire::Welcome::Reader welcome() { return welcomeReader_->getRoot<wire::Welcome>(); }

  // A reply, with the buffer it was read from.
  struct Answered {
    std::vector<std::uint8_t> payload;
    std::optional<capnp::FlatArrayMessageReader> reader;
    std::span<const std::uint8_t> bulk;
    std::span<const std::uint8_t> delivered;  // the bytes of the reply's deliveries, back to back
    wire::Reply::Reader reply() { return reader->getRoot<wire::Reply>(); }
  };

  // Sends one call (with bulk bytes after it). For a call that gets a reply, returns it, and
  // records the deferred error it carried; null for a posted call (`posted` says which) or a
  // broken connection.
  template <typename Build>
  std::unique_ptr<Answered> send(Build&& build, std::span<const std::uint8_t> bulk = {}, bool* posted = nullptr) {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<wire::Call>();
    root.setContext(context);
    build(root);
    std::vector<std::uint8_t> bytes;
    protocol::appendMessage(message, bytes);
    std::span<const std::uint8_t> parts[] = {bytes, bulk, protocol::bulkPadding(bulk.size())};
    if (posted != nullptr) *posted = !protocol::expectsReply(root.asReader());
    if (!connection_->send(parts)) return nullptr;
    if (!protocol::expectsReply(root.asReader())) return nullptr;
    auto answered = std::make_unique<Answered>();
    do {  // empty frames are the server's heartbeats during a long call
      if (!connection_->receive(answered->payload)) return nullptr;
      if (answered->payload.empty()) ++heartbeats;
    } while (answered->payload.empty());
    protocol::MessageCursor cursor(answered->payload);
    if (!cursor.next(answered->reader)) return nullptr;
    auto reply = answered->reply();
    deferred = static_cast<CUresult>(reply.getDeferredError());
    deferredMessage = reply.getDeferredMessage().cStr();
    if (reply.getBulkBytes() > 0) {
      auto taken = cursor.takeBulk(reply.getBulkBytes());
      if (!taken) return nullptr;
      answered->bulk = *taken;
    }
    std::uint64_t delivered = 0;
    for (auto delivery : reply.getDeliveries()) delivered += delivery.getBytes();
    if (delivered > 0) {
      auto taken = cursor.takeBulk(delivered);
      if (!taken) return nullptr;
      answered->delivered = *taken;
    }
    return answered;
  }

  // Sends one call (with bulk bytes after it); when it gets a reply, returns the result, the
  // values, and the reply's bulk bytes in `bulkBack`. A posted call gives CUDA_SUCCESS.
  template <typename Build>
  std::pair<CUresult, std::vector<std::int64_t>> call(Build&& build, std::uint64_t* handle = nullptr,
                                                      std::span<const std::uint8_t> bulk = {},
                                                      std::vector<std::uint8_t>* bulkBack = nullptr) {
    bool posted = false;
    auto answered = send(build, bulk, &posted);
    if (posted) return {CUDA_SUCCESS, {}};
    if (answered == nullptr) return {CUDA_ERROR_DEVICE_UNAVAILABLE, {}};
    auto reply = answered->reply();
    std::vector<std::int64_t> values;
    if (reply.isValues()) {
      for (auto value : reply.getValues()) values.push_back(value);
    }
    if (reply.isHandle() && handle != nullptr) *handle = reply.getHandle();
    if (bulkBack != nullptr) bulkBack->assign(answered->bulk.begin(), answered->bulk.end());
    return {static_cast<CUresult>(reply.getResult()), values};
  }

  // A call answered with data: the result and the bytes.
  template <typename Build>
  std::pair<CUresult, std::vector<std::uint8_t>> callForData(Build&& build) {
    bool posted = false;
    auto answered = send(build, {}, &posted);
    if (answered == nullptr) return {CUDA_ERROR_DEVICE_UNAVAILABLE, {}};
    auto reply = answered->reply();
    std::vector<std::uint8_t> data;
    if (reply.isData()) data.assign(reply.getData().begin(), reply.getData().end());
    return {static_cast<CUresult>(reply.getResult()), data};
  }

  void retainPrimary() {
    ASSERT_EQ(call([](wire::Call::Builder c) { c.setPrimaryRetain(0); }, &context).first, CUDA_SUCCESS);
  }

  std::uint64_t allocate(std::uint64_t bytes, CUresult expected = CUDA_SUCCESS) {
    std::uint64_t base = 0;
    EXPECT_EQ(call([&](wire::Call::Builder c) { c.setMemAlloc(bytes); }, &base).first, expected);
    return base;
  }

  std::uint64_t freeMemory() { return memoryInfo().first; }

  std::pair<std::uint64_t, std::uint64_t> memoryInfo() {
    auto [result, values] = call([](wire::Call::Builder c) { c.setMemGetInfo(); });
    EXPECT_EQ(result, CUDA_SUCCESS);
    if (values.size() != 2) return {0, 0};
    return {static_cast<std::uint64_t>(values[0]), static_cast<std::uint64_t>(values[1])};
  }

  // Writes `bytes` to device memory at `address` (a synchronous copy); returns its result.
  CUresult write(std::uint64_t address, std::span<const std::uint8_t> bytes) {
    return call(
               [&](wire::Call::Builder c) {
                 auto copy = c.initCopy();
                 copy.setDst(address);
                 copy.setBytes(bytes.size());
               },
               nullptr, bytes)
        .first;
  }

  // Reads `bytes` bytes of device memory at `address`; returns the result and the bytes.
  std::pair<CUresult, std::vector<std::uint8_t>> read(std::uint64_t address, std::uint64_t bytes) {
    std::vector<std::uint8_t> back;
    CUresult result = call(
                          [&](wire::Call::Builder c) {
                            auto copy = c.initCopy();
                            copy.setSrc(address);
                            copy.setBytes(bytes);
                          },
                          nullptr, {}, &back)
                          .first;
    return {result, back};
  }

  // A module (or library) of the test kernels, loaded: its id and its kernels' ids by name.
  struct LoadedCode {
    CUresult result = CUDA_ERROR_UNKNOWN;
    std::uint64_t handle = 0;
    std::map<std::string, std::uint64_t> kernels;
  };
  LoadedCode load(bool library = false, const std::string& file = "test_kernels.fatbin") {
    std::ifstream in(std::string(FASTGPU_TEST_DATA_DIR) + "/" + file, std::ios::binary);
    std::vector<std::uint8_t> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(image.empty()) << file;
    return loadImage(image, library);
  }
  // Loads `image`, sent whole.
  LoadedCode loadImage(std::span<const std::uint8_t> image, bool library = false) {
    return loadedFrom(send([&](wire::Call::Builder c) {
      auto bytes = kj::arrayPtr(image.data(), image.size());
      if (library) {
        c.setLibraryLoad(bytes);
      } else {
        c.setModuleLoad(bytes);
      }
    }));
  }
  // Loads the image whose digest is `digest` from the server's module cache.
  LoadedCode loadCached(std::span<const std::uint8_t> digest, bool library = false) {
    return loadedFrom(send([&](wire::Call::Builder c) {
      auto cached = c.initCodeLoadCached();
      cached.setDigest(kj::arrayPtr(digest.data(), digest.size()));
      cached.setLibrary(library);
    }));
  }
  static LoadedCode loadedFrom(std::unique_ptr<Answered> answered) {
    LoadedCode loaded;
    if (answered == nullptr) return loaded;
    auto reply = answered->reply();
    loaded.result = static_cast<CUresult>(reply.getResult());
    if (!reply.isModule()) return loaded;
    loaded.handle = reply.getModule().getHandle();
    for (auto kernel : reply.getModule().getKernels()) loaded.kernels[kernel.getName().cStr()] = kernel.getHandle();
    return loaded;
  }

  // Loads the test kernels and returns the id of fastgpu_spin.
  std::uint64_t loadSpinKernel() {
    auto loaded = load();
    EXPECT_EQ(loaded.result, CUDA_SUCCESS);
    auto it = loaded.kernels.find("fastgpu_spin");
    if (it == loaded.kernels.end()) {
      ADD_FAILURE() << "no fastgpu_spin in the test kernels";
      return 0;
    }
    return it->second;
  }

  // A global of a module or library: (result, address, bytes).
  std::tuple<CUresult, std::uint64_t, std::uint64_t> global(std::uint64_t owner, const std::string& name,
                                                            bool library = false) {
    auto [result, values] = call([&](wire::Call::Builder c) {
      auto symbol = library ? c.initLibraryGetGlobal() : c.initModuleGetGlobal();
      symbol.setOwner(owner);
      symbol.setName(name);
    });
    if (values.size() != 2) return {result, 0, 0};
    return {result, static_cast<std::uint64_t>(values[0]), static_cast<std::uint64_t>(values[1])};
  }

  // Posts a launch of `kernel` with the packed parameters `params` on `stream`, with `attributes`
  // as a client would send them (values as raw bytes; `valueBytes` to send other sizes).
  void launch(std::uint64_t kernel, std::span<const std::uint8_t> params, std::uint64_t stream = 0,
              std::span<const CUlaunchAttribute> attributes = {}, std::size_t valueBytes = sizeof(CUlaunchAttributeValue)) {
    call([&](wire::Call::Builder c) {
      auto launch = c.initLaunch();
      auto sent = launch.initAttributes(static_cast<unsigned>(attributes.size()));
      std::vector<std::uint8_t> value(valueBytes);
      for (unsigned i = 0; i < attributes.size(); ++i) {
        sent[i].setId(static_cast<std::uint32_t>(attributes[i].id));
        std::memcpy(value.data(), &attributes[i].value, std::min(valueBytes, sizeof(CUlaunchAttributeValue)));
        sent[i].setValue(kj::arrayPtr(value.data(), value.size()));
      }
      launch.setFunction(kernel);
      auto grid = launch.initGrid(3);
      auto block = launch.initBlock(3);
      for (unsigned i = 0; i < 3; ++i) {
        grid.set(i, 1);
        block.set(i, 1);
      }
      launch.setStream(stream);
      launch.setParams(kj::arrayPtr(params.data(), params.size()));
    });
  }

  // Posts a launch of fastgpu_spin(micros) on the default stream.
  void spin(std::uint64_t kernel, std::uint64_t micros) {
    launch(kernel, {reinterpret_cast<const std::uint8_t*>(&micros), sizeof(micros)});
  }

  CUresult synchronize() {
    return call([](wire::Call::Builder c) { c.setContextSynchronize(0); }).first;
  }

  protocol::Connection& connection() { return *connection_; }
  std::uint64_t context = 0;
  // Empty frames (heartbeats) received while waiting for replies.
  int heartbeats = 0;
  // The deferred error (and its message) the latest reply carried.
  CUresult deferred = CUDA_SUCCESS;
  std::string deferredMessage;

 private:
  std::unique_ptr<protocol::Connection> connection_;
  std::vector<std::uint8_t> welcomeBytes_;
  std::optional<capnp::FlatArrayMessageReader> welcomeReader_;
};

}  // namespace fastgpu::testing
