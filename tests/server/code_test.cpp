// Modules and libraries on the server: loading, their kernels and globals, and what unloading
// takes away.
#include "session_test_support.h"

namespace fastgpu::server {
namespace {

std::span<const std::uint8_t> asBytes(const int& value) {
  return {reinterpret_cast<const std::uint8_t*>(&value), sizeof(value)};
}

// appendValue(int* log, int* length, int value): log[(*length)++] = value.
std::vector<std::uint8_t> appendParams(std::uint64_t log, std::uint64_t length, int value) {
  std::vector<std::uint8_t> params(8 + 8 + 4);  // offsets 0, 8, 16
  std::memcpy(params.data(), &log, 8);
  std::memcpy(params.data() + 8, &length, 8);
  std::memcpy(params.data() + 16, &value, 4);
  return params;
}

// Unloads a module or library; returns the result.
CUresult unload(RawClient& client, std::uint64_t handle, bool library) {
  return client
      .call([&](wire::Call::Builder c) {
        if (library) {
          c.setLibraryUnload(handle);
        } else {
          c.setModuleUnload(handle);
        }
      })
      .first;
}

// Loads the test kernels as a module or library in `owner`, takes the address of a global,
// unloads, and has `other` allocate until it gets that address: the stale global must then be
// refused, and the other session's memory stay untouched.
void expectStaleGlobalRefused(RawClient& owner, RawClient& other, bool library, const char* name, std::uint64_t size) {
  auto code = owner.load(library);
  ASSERT_EQ(code.result, CUDA_SUCCESS);
  auto [found, address, bytes] = owner.global(code.handle, name, library);
  ASSERT_EQ(found, CUDA_SUCCESS);
  ASSERT_EQ(bytes, size);
  EXPECT_EQ(owner.write(address, std::vector<std::uint8_t>(bytes, 0x22)), CUDA_SUCCESS) << "while loaded";
  EXPECT_EQ(unload(owner, code.handle, library), CUDA_SUCCESS);
  // Another session's allocations land where the global was (cudasim reuses the address).
  std::vector<std::uint64_t> theirs;
  for (int i = 0; i < 64 && (theirs.empty() || theirs.back() != address); ++i) theirs.push_back(other.allocate(bytes));
  ASSERT_EQ(theirs.back(), address) << "the test needs the address reused";
  for (std::uint64_t base : theirs) ASSERT_EQ(other.write(base, std::vector<std::uint8_t>(bytes, 0xee)), CUDA_SUCCESS);
  // Receive a write and a read through the stale global. Expect: CUDA_ERROR_INVALID_VALUE.
  EXPECT_EQ(owner.write(address, std::vector<std::uint8_t>(bytes, 0x11)), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(owner.read(address, bytes).first, CUDA_ERROR_INVALID_VALUE);
  for (std::uint64_t base : theirs) {
    EXPECT_EQ(other.read(base, bytes).second, std::vector<std::uint8_t>(bytes, 0xee)) << std::hex << base;
  }
}

// Launch attributes arrive as raw bytes: an event in them is the client's id for it, which the
// server must translate (the driver would otherwise be handed a forged pointer) or refuse. (On
// cudasim a session's ids and the driver's handles may coincide; LaunchAttributes.* checks the
// translation itself.)
TEST_F(ServerTest, LaunchAttributesThatCarryEventsAreTranslatedOrRefused) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t spin = client.loadSpinKernel();
  std::uint64_t start = 0, completed = 0;
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.setEventCreate(0); }, &start).first, CUDA_SUCCESS);
  ASSERT_EQ(client.call([](wire::Call::Builder c) { c.setEventCreate(0); }, &completed).first, CUDA_SUCCESS);
  client.call([&](wire::Call::Builder c) {
    auto record = c.initEventRecord();
    record.setEvent(start);
  });
  std::uint64_t micros = 2000;
  std::span<const std::uint8_t> params(reinterpret_cast<const std::uint8_t*>(&micros), sizeof(micros));
  CUlaunchAttribute attribute{};
  attribute.id = CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT;
  attribute.value.launchCompletionEvent.event = reinterpret_cast<CUevent>(static_cast<std::uintptr_t>(completed));
  client.launch(spin, params, 0, {&attribute, 1});
  ASSERT_EQ(client.synchronize(), CUDA_SUCCESS);
  ASSERT_EQ(client.deferred, CUDA_SUCCESS) << client.deferredMessage;
  auto [elapsed, bits] = client.call([&](wire::Call::Builder c) {
    auto pair = c.initEventElapsed();
    pair.setStart(start);
    pair.setEnd(completed);
  });
  EXPECT_EQ(elapsed, CUDA_SUCCESS) << "the completion event was not recorded through its id";

  struct Forgery {
    CUlaunchAttributeID id;
    std::uintptr_t event;
    std::size_t valueBytes;
    CUresult expected;
  } forgeries[] = {
      {CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT, 0x7f0000001000, sizeof(CUlaunchAttributeValue), CUDA_ERROR_INVALID_HANDLE},
      {CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT, start + 1000, sizeof(CUlaunchAttributeValue), CUDA_ERROR_INVALID_HANDLE},
      {static_cast<CUlaunchAttributeID>(99), 0, sizeof(CUlaunchAttributeValue), CUDA_ERROR_INVALID_VALUE},
      {CU_LAUNCH_ATTRIBUTE_PRIORITY, 0, 4096, CUDA_ERROR_INVALID_VALUE},
      {CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE, 0, sizeof(CUlaunchAttributeValue), CUDA_ERROR_NOT_SUPPORTED},
  };
  for (const auto& forgery : forgeries) {
    CUlaunchAttribute forged{};
    forged.id = forgery.id;
    forged.value.launchCompletionEvent.event = reinterpret_cast<CUevent>(forgery.event);
    client.launch(spin, params, 0, {&forged, 1}, forgery.valueBytes);
    EXPECT_EQ(client.synchronize(), CUDA_SUCCESS);
    EXPECT_EQ(client.deferred, forgery.expected) << "attribute " << forgery.id << ": " << client.deferredMessage;
  }
  // The session goes on.
  client.spin(spin, 10);
  EXPECT_EQ(client.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(client.deferred, CUDA_SUCCESS);
}

TEST_F(ServerTest, AGlobalOfAnUnloadedModuleIsRefusedWhenAnotherSessionGetsItsAddress) {
  RawClient owner(url), other(url);
  owner.retainPrimary();
  other.retainPrimary();
  expectStaleGlobalRefused(owner, other, false, "deviceCounter", sizeof(int));
}

TEST_F(ServerTest, AGlobalOfAnUnloadedLibraryIsRefusedWhenAnotherSessionGetsItsAddress) {
  RawClient owner(url), other(url);
  owner.retainPrimary();
  other.retainPrimary();
  expectStaleGlobalRefused(owner, other, true, "deviceTable", 8 * sizeof(float));
}

TEST_F(ServerTest, AGlobalStartsWithItsInitialValue) {
  RawClient client(url);
  client.retainPrimary();
  auto module = client.load();
  ASSERT_EQ(module.result, CUDA_SUCCESS);
  auto [found, address, bytes] = client.global(module.handle, "deviceCounter");
  ASSERT_EQ(found, CUDA_SUCCESS);
  EXPECT_EQ(client.read(address, bytes).second, std::vector<std::uint8_t>({5, 0, 0, 0}));
  // An unknown name: CUDA_ERROR_NOT_FOUND, and nothing becomes accessible.
  EXPECT_EQ(std::get<0>(client.global(module.handle, "noSuchGlobal")), CUDA_ERROR_NOT_FOUND);
}

TEST_F(ServerTest, ALibrarysKernelsLaunchAndItsModuleAndFunctionsResolve) {
  RawClient client(url);
  client.retainPrimary();
  auto library = client.load(true);
  ASSERT_EQ(library.result, CUDA_SUCCESS);
  ASSERT_TRUE(library.kernels.count("appendValue"));
  std::uint64_t log = client.allocate(64), length = client.allocate(4);
  ASSERT_EQ(client.write(length, std::vector<std::uint8_t>(4, 0)), CUDA_SUCCESS);
  // Launch the library's kernel, then the function it resolves to.
  client.launch(library.kernels.at("appendValue"), appendParams(log, length, 41));
  std::uint64_t function = 0;
  ASSERT_EQ(client.call([&](wire::Call::Builder c) { c.setKernelGetFunction(library.kernels.at("appendValue")); },
                        &function)
                .first,
            CUDA_SUCCESS);
  client.launch(function, appendParams(log, length, 42));
  ASSERT_EQ(client.synchronize(), CUDA_SUCCESS);
  EXPECT_EQ(client.deferred, CUDA_SUCCESS) << client.deferredMessage;
  auto [result, values] = client.read(log, 8);
  ASSERT_EQ(result, CUDA_SUCCESS);
  int first = 0, second = 0;
  std::memcpy(&first, values.data(), 4);
  std::memcpy(&second, values.data() + 4, 4);
  EXPECT_EQ(first, 41);
  EXPECT_EQ(second, 42);
  // The library's module: a handle of the module kind.
  std::uint64_t module = 0;
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.setLibraryGetModule(library.handle); }, &module).first,
            CUDA_SUCCESS);
  EXPECT_EQ(SessionState::kindOf(module), HandleKind::kModule);
}

TEST_F(ServerTest, UnloadingTakesTheKernelsWithIt) {
  RawClient client(url);
  client.retainPrimary();
  for (bool library : {false, true}) {
    auto code = client.load(library);
    ASSERT_EQ(code.result, CUDA_SUCCESS);
    std::uint64_t failWith = code.kernels.at("failWith");
    EXPECT_EQ(unload(client, code.handle, library), CUDA_SUCCESS);
    // Receive a launch of an unloaded kernel. Expect: CUDA_ERROR_INVALID_HANDLE, deferred.
    int zero = 0;
    client.launch(failWith, asBytes(zero));
    EXPECT_EQ(client.synchronize(), CUDA_SUCCESS);
    EXPECT_EQ(client.deferred, CUDA_ERROR_INVALID_HANDLE) << (library ? "library" : "module");
    // Unloading twice is refused the same way.
    EXPECT_EQ(unload(client, code.handle, library), CUDA_ERROR_INVALID_HANDLE);
  }
}

TEST_F(ServerTest, ModuleGlobalsCountAgainstTheQuotaUntilUnloaded) {
  start(R"(
[[vgpu]]
name = "small"
memory = "1MiB"
tokens = ["t"]
)");
  RawClient client(url, "small", "t");
  client.retainPrimary();
  std::uint64_t freeBefore = client.freeMemory();
  auto module = client.load();
  ASSERT_EQ(module.result, CUDA_SUCCESS);
  std::uint64_t freeLoaded = client.freeMemory();
  EXPECT_LT(freeLoaded, freeBefore) << "the module's globals were not charged";
  EXPECT_EQ(unload(client, module.handle, false), CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), freeBefore);
}

// A tensor-map request whose lists do not match its rank would have the driver read past them:
// refused before the driver sees it, and the session goes on.
TEST_F(ServerTest, TensorMapRequestsWhoseListsDoNotMatchTheirRankAreRefused) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t base = client.allocate(1 << 20);
  auto request = [&](unsigned rank, unsigned dims, std::uint8_t kind, unsigned box) {
    return client
        .call([&](wire::Call::Builder c) {
          auto m = c.initTensorMapEncode();
          m.setKind(kind);
          m.setDataType(CU_TENSOR_MAP_DATA_TYPE_FLOAT32);
          m.setRank(rank);
          m.setGlobalAddress(base);
          auto d = m.initGlobalDim(dims);
          for (unsigned i = 0; i < dims; ++i) d.set(i, 64);
          auto s = m.initGlobalStrides(rank > 0 ? rank - 1 : 0);
          for (unsigned i = 0; i + 1 < rank; ++i) s.set(i, 256);
          auto e = m.initElementStrides(rank);
          for (unsigned i = 0; i < rank; ++i) e.set(i, 1);
          auto b = m.initBoxDim(box);
          for (unsigned i = 0; i < box; ++i) b.set(i, 16);
        })
        .first;
  };
  EXPECT_EQ(request(2, 2, 0, 2), CUDA_SUCCESS) << "a well-formed request";
  EXPECT_EQ(request(2, 1, 0, 2), CUDA_ERROR_INVALID_VALUE) << "globalDim shorter than the rank";
  EXPECT_EQ(request(2, 2, 0, 1), CUDA_ERROR_INVALID_VALUE) << "boxDim shorter than the rank";
  EXPECT_EQ(request(200, 200, 0, 200), CUDA_ERROR_INVALID_VALUE) << "rank 200";
  EXPECT_EQ(request(2, 2, 7, 2), CUDA_ERROR_INVALID_VALUE) << "an unknown kind";
  EXPECT_EQ(request(3, 3, 1, 0), CUDA_ERROR_INVALID_VALUE) << "im2col without its corners";
  auto shortMap = client.call([&](wire::Call::Builder c) {
    auto m = c.initTensorMapReplaceAddress();
    std::vector<std::uint8_t> bytes(64, 0);
    m.setMap(kj::arrayPtr(bytes.data(), bytes.size()));
    m.setAddress(base);
  });
  EXPECT_EQ(shortMap.first, CUDA_ERROR_INVALID_VALUE) << "a map that is not 128 bytes";
  EXPECT_GT(client.freeMemory(), 0u) << "the session still serves";
}

TEST_F(ServerTest, AnImageThatIsNotCodeIsRefusedAndTheSessionGoesOn) {
  RawClient client(url);
  client.retainPrimary();
  std::vector<std::uint8_t> junk(256, 0x5a);
  auto answered = client.send([&](wire::Call::Builder c) { c.setModuleLoad(kj::arrayPtr(junk.data(), junk.size())); });
  ASSERT_NE(answered, nullptr);
  EXPECT_NE(answered->reply().getResult(), CUDA_SUCCESS);
  EXPECT_GT(client.freeMemory(), 0u);
}

}  // namespace
}  // namespace fastgpu::server
