// fastgpu-test-certs DIR: writes the TLS tests' certificates (test_certificates.h) into DIR, for
// the end-to-end scripts.
#include <cstdio>
#include <exception>

#include "tests/support/test_certificates.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    fastgpu::testing::writeTestCertificates(argv[1]);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", argv[0], error.what());
    return 1;
  }
  return 0;
}
