// Certificates for TLS tests, made fresh (EC P-256, SHA-256) so that nothing secret or expiring
// is checked in.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "protocol/transport/tls_settings.h"

namespace fastgpu::testing {

struct TestCertificates {
  std::string ca;          // the CA that signed the server and client certificates
  std::string serverCert;  // for 127.0.0.1, ::1 and localhost, chain included
  std::string serverKey;
  std::string clientCert;  // CN=test-client, for client authentication
  std::string clientKey;
  std::string otherCa;        // a CA that signed nothing here: trusting it must fail
  std::string otherHostCert;  // signed by `ca`, for gpu.example.invalid only
  std::string otherHostKey;
  std::string rogueClientCert;  // CN=rogue-client, signed by `otherCa`
  std::string rogueClientKey;
};

// Writes the files (PEM) into `directory`, which must exist; throws std::runtime_error with
// OpenSSL's reason when it cannot.
TestCertificates writeTestCertificates(const std::string& directory);

// The certificates with the settings a server and a client that trusts its CA use.
struct CertificateFiles : TestCertificates {
  std::string directory;
  protocol::TlsServerSettings serverSettings() const { return {serverCert, serverKey, ""}; }
  protocol::TlsClientSettings clientSettings() const { return {ca, "", ""}; }
  ~CertificateFiles() {
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
};

// Written once per test process, into a directory removed at exit.
inline const CertificateFiles& testCertificates() {
  static const CertificateFiles files = [] {
    CertificateFiles made;
    std::string pattern = (std::filesystem::temp_directory_path() / "fastgpu-tls-XXXXXX").string();
    made.directory = ::mkdtemp(pattern.data());
    static_cast<TestCertificates&>(made) = writeTestCertificates(made.directory);
    return made;
  }();
  return files;
}

}  // namespace fastgpu::testing
