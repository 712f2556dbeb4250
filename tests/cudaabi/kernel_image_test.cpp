// Parsing nvcc-built images: fatbins (compressed and not), cubins and PTX, plus damaged ones; and
// choosing what of a fatbin a set of devices can use.
#include "cudaabi/kernel_image.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>

#include <gtest/gtest.h>

#include "cudaabi/fatbin_selection.h"

namespace fastgpu::cudaabi {
namespace {

std::vector<std::uint8_t> readTestFile(const std::string& name) {
  std::ifstream file(std::string(FASTGPU_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(file.good()) << "missing test image " << name;
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (name.ends_with(".ptx")) bytes.push_back(0);
  return bytes;
}

void expectTestKernels(const KernelImage& image) {
  const KernelInfo* append = image.findKernel("appendValue");
  ASSERT_NE(append, nullptr);
  ASSERT_EQ(append->params.size(), 3u);
  EXPECT_EQ(append->params[0].offset, 0u);
  EXPECT_EQ(append->params[0].size, 8u);
  EXPECT_EQ(append->params[1].offset, 8u);
  EXPECT_EQ(append->params[2].offset, 16u);
  EXPECT_EQ(append->params[2].size, 4u);
  EXPECT_EQ(append->paramBytes, 20u);

  // mixedParams(char c, Pair pair, const int* pointer, short s), Pair = {double; char[12]}.
  const KernelInfo* mixed = image.findKernel("_Z11mixedParamsc4PairPKis");
  ASSERT_NE(mixed, nullptr);
  ASSERT_EQ(mixed->params.size(), 4u);
  EXPECT_EQ(mixed->params[0].offset, 0u);
  EXPECT_EQ(mixed->params[0].size, 1u);
  EXPECT_EQ(mixed->params[1].offset, 8u);
  EXPECT_EQ(mixed->params[1].size, 24u);
  EXPECT_EQ(mixed->params[2].offset, 32u);
  EXPECT_EQ(mixed->params[2].size, 8u);
  EXPECT_EQ(mixed->params[3].offset, 40u);
  EXPECT_EQ(mixed->params[3].size, 2u);

  const KernelInfo* spin = image.findKernel("fastgpu_spin");
  ASSERT_NE(spin, nullptr);
  EXPECT_EQ(spin->params.size(), 1u);

  const GlobalVariable* counter = image.findGlobal("deviceCounter");
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ(counter->size, 4u);
  ASSERT_GE(counter->initialBytes.size(), 1u);
  EXPECT_EQ(counter->initialBytes[0], 5);
  const GlobalVariable* table = image.findGlobal("deviceTable");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->size, 32u);
}

TEST(KernelImage, ParsesACompressedFatbin) {
  auto bytes = readTestFile("test_kernels.fatbin");
  auto entries = parseFatbin(bytes);
  ASSERT_TRUE(entries) << entries.status().message();
  bool sawCompressed = false;
  for (const auto& entry : *entries) sawCompressed |= entry.wasCompressed;
  EXPECT_TRUE(sawCompressed) << "nvcc compresses PTX in fatbins by default";
  auto image = parseKernelImage(bytes);
  ASSERT_TRUE(image) << image.status().message();
  expectTestKernels(*image);
}

TEST(KernelImage, ParsesAnUncompressedFatbin) {
  auto bytes = readTestFile("test_kernels_nocompress.fatbin");
  auto entries = parseFatbin(bytes);
  ASSERT_TRUE(entries) << entries.status().message();
  for (const auto& entry : *entries) EXPECT_FALSE(entry.wasCompressed);
  auto image = parseKernelImage(bytes);
  ASSERT_TRUE(image) << image.status().message();
  expectTestKernels(*image);
}

TEST(KernelImage, ParsesACubin) {
  auto image = parseKernelImage(readTestFile("test_kernels.cubin"));
  ASSERT_TRUE(image) << image.status().message();
  expectTestKernels(*image);
}

TEST(KernelImage, ParsesPtx) {
  auto image = parseKernelImage(readTestFile("test_kernels.ptx"));
  ASSERT_TRUE(image) << image.status().message();
  expectTestKernels(*image);
}

TEST(KernelImage, ParsesFatbinsBackToBack) {
  auto first = readTestFile("test_kernels.fatbin");
  auto both = first;
  auto second = readTestFile("test_kernels_nocompress.fatbin");
  both.insert(both.end(), second.begin(), second.end());
  auto entries = parseFatbin(both);
  ASSERT_TRUE(entries);
  EXPECT_EQ(entries->size(), 2 * parseFatbin(first)->size());
}

TEST(KernelImage, FindsTheExtentOfAnImageFromItsPointer) {
  auto fatbin = readTestFile("test_kernels.fatbin");
  auto span = imageBytesFromPointer(fatbin.data());
  ASSERT_TRUE(span);
  EXPECT_EQ(span->size(), fatbin.size());
  auto cubin = readTestFile("test_kernels.cubin");
  auto cubinSpan = imageBytesFromPointer(cubin.data());
  ASSERT_TRUE(cubinSpan);
  EXPECT_EQ(cubinSpan->size(), cubin.size());
  // A __fatBinC_Wrapper_t leads to its fatbin.
  struct {
    int magic, version;
    const void* data;
    void* unused;
  } wrapper{0x466243B1, 1, fatbin.data(), nullptr};
  auto wrapped = imageBytesFromPointer(&wrapper);
  ASSERT_TRUE(wrapped);
  EXPECT_EQ(wrapped->data(), fatbin.data());
}

// Damaged images fail with a reason, never by reading out of bounds.
TEST(KernelImage, RejectsEveryTruncationOfAFatbin) {
  auto bytes = readTestFile("test_kernels_nocompress.fatbin");
  for (std::size_t length = 1; length < bytes.size(); length += 13) {
    std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    auto image = parseKernelImage(cut);
    EXPECT_FALSE(image) << "a fatbin cut to " << length << " bytes parsed";
    if (!image) {
      EXPECT_FALSE(image.status().message().empty());
    }
  }
}

TEST(KernelImage, RejectsEveryTruncationOfACubin) {
  auto bytes = readTestFile("test_kernels.cubin");
  for (std::size_t length = 64; length < bytes.size(); length += 97) {
    std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_FALSE(parseCubin(cut)) << "a cubin cut to " << length << " bytes parsed";
  }
}

TEST(KernelImage, RejectsACorruptCompressedEntry) {
  auto bytes = readTestFile("test_kernels.fatbin");
  // Flip bytes in the middle of the first entry's payload (the compressed PTX).
  for (std::size_t i = 16 + 80 + 8; i < 16 + 80 + 40; ++i) bytes[i] ^= 0x5a;
  EXPECT_FALSE(parseKernelImage(bytes));
}

TEST(KernelImage, RejectsGarbage) {
  std::vector<std::uint8_t> garbage(256, 0xab);
  EXPECT_FALSE(parseKernelImage(garbage));
  EXPECT_FALSE(parseKernelImage({}));
}

}  // namespace
}  // namespace fastgpu::cudaabi

namespace fastgpu::cudaabi {
namespace {

// The (kind, SM version) of every entry of a fat binary.
std::vector<std::pair<std::uint16_t, std::uint32_t>> entriesOf(std::span<const std::uint8_t> bytes) {
  std::vector<std::pair<std::uint16_t, std::uint32_t>> kinds;
  auto raw = rawFatbinEntries(bytes);
  EXPECT_TRUE(raw) << raw.status().message();
  if (raw) {
    for (const auto& entry : *raw) kinds.emplace_back(entry.kind, entry.smVersion);
  }
  return kinds;
}

using Kinds = std::vector<std::pair<std::uint16_t, std::uint32_t>>;
constexpr std::uint16_t kPtx = 1, kSass = 2;

// The driver's choice, made before sending: a device's own SASS, else SASS of its major with a
// lower minor, else the newest PTX it can compile.
TEST(FatbinSelection, KeepsWhatEachDeviceWouldRun) {
  std::vector<FatbinEntry> all = {{kSass, 80, false, {1, 2, 3}}, {kSass, 90, false, {4, 5}},
                                  {kSass, 100, false, {6}},      {kPtx, 80, false, {'a', 0}},
                                  {kPtx, 90, false, {'b', 0}}};
  auto image = writeFatbin(all);
  auto pick = [&](std::vector<std::uint32_t> devices) -> std::optional<Kinds> {
    auto kept = fatbinForDevices(image, devices);
    if (!kept) return std::nullopt;
    return entriesOf(*kept);
  };
  EXPECT_EQ(pick({90}), (Kinds{{kSass, 90}}));
  EXPECT_EQ(pick({86}), (Kinds{{kSass, 80}})) << "sm_80 SASS runs on 8.6";
  EXPECT_EQ(pick({120}), (Kinds{{kPtx, 90}})) << "no SASS of major 12: the newest PTX";
  EXPECT_EQ(pick({90, 80}), (Kinds{{kSass, 80}, {kSass, 90}})) << "every device's";
  EXPECT_EQ(pick({75}), std::nullopt) << "nothing 7.5 can run: the driver says so, with the whole image";
  EXPECT_EQ(pick({}), std::nullopt);
  std::vector<FatbinEntry> one = {{kSass, 90, false, {7}}};
  EXPECT_EQ(fatbinForDevices(writeFatbin(one), std::vector<std::uint32_t>{90}), std::nullopt) << "nothing left out";
  std::vector<std::uint8_t> cubin = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
  EXPECT_EQ(fatbinForDevices(cubin, std::vector<std::uint32_t>{90}), std::nullopt) << "not a fat binary";
}

// nvcc's fat binary: what is kept is byte for byte what was there (compressed stays compressed),
// and still holds every kernel.
TEST(FatbinSelection, KeptEntriesAreTheOriginalBytes) {
  auto bytes = readTestFile("test_kernels.fatbin");
  auto original = rawFatbinEntries(bytes);
  ASSERT_TRUE(original);
  for (std::uint32_t device : {90u, 100u}) {
    auto kept = fatbinForDevices(bytes, std::vector<std::uint32_t>{device});
    ASSERT_TRUE(kept) << device;
    EXPECT_LT(kept->size(), bytes.size());
    auto entries = rawFatbinEntries(*kept);
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->size(), 1u);
    std::uint16_t wanted = device == 90 ? kSass : kPtx;  // Blackwell gets the PTX
    auto same = std::find_if(original->begin(), original->end(), [&](const RawFatbinEntry& e) { return e.kind == wanted; });
    ASSERT_NE(same, original->end());
    EXPECT_TRUE(std::equal(same->bytes.begin(), same->bytes.end(), (*entries)[0].bytes.begin(), (*entries)[0].bytes.end()));
    auto image = parseKernelImage(*kept);
    ASSERT_TRUE(image) << image.status().message();
    expectTestKernels(*image);
  }
}

}  // namespace
}  // namespace fastgpu::cudaabi
