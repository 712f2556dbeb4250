// The interposer tests' main: one server and one loaded interposer for the whole process.
#include "tests/interposer/interposer_test_support.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new fastgpu::interposer::InterposerEnvironment);
  return RUN_ALL_TESTS();
}
