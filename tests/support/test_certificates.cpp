// See test_certificates.h.
#include "tests/support/test_certificates.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>

namespace fastgpu::testing {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;

[[noreturn]] void fail(const std::string& what) {
  char reason[256] = "?";
  ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
  throw std::runtime_error(what + ": " + reason);
}

Key newKey() {
  Key key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) fail("EC key");
  return key;
}

void addExtension(X509* certificate, X509V3_CTX& context, int nid, const char* value) {
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr || X509_add_ext(certificate, extension, -1) != 1) fail(std::string("extension ") + value);
  X509_EXTENSION_free(extension);
}

enum class Role { kCa, kServer, kClient };

// A certificate for `key` named `commonName`, signed by `issuer` (itself when null).
Certificate makeCertificate(EVP_PKEY* key, const char* commonName, Role role, const char* altNames, X509* issuer,
                            EVP_PKEY* issuerKey) {
  static long serial = 1;
  Certificate certificate(X509_new(), X509_free);
  X509* made = certificate.get();
  X509_set_version(made, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(made), serial++);
  X509_gmtime_adj(X509_getm_notBefore(made), -3600);
  X509_gmtime_adj(X509_getm_notAfter(made), 30L * 86400);
  X509_set_pubkey(made, key);
  X509_NAME* name = X509_get_subject_name(made);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("FastGPU tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(commonName), -1, -1, 0);
  X509_set_issuer_name(made, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer != nullptr ? issuer : made, made, nullptr, nullptr, 0);
  addExtension(made, context, NID_subject_key_identifier, "hash");
  addExtension(made, context, NID_authority_key_identifier, "keyid:always");
  if (role == Role::kCa) {
    addExtension(made, context, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(made, context, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(made, context, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(made, context, NID_key_usage, "critical,digitalSignature");
    addExtension(made, context, NID_ext_key_usage, role == Role::kServer ? "serverAuth" : "clientAuth");
  }
  if (altNames != nullptr) addExtension(made, context, NID_subject_alt_name, altNames);
  if (X509_sign(made, issuerKey != nullptr ? issuerKey : key, EVP_sha256()) <= 0) fail("signing");
  return certificate;
}

void writeFile(const std::string& path, const std::function<int(FILE*)>& write) {
  std::unique_ptr<FILE, decltype(&fclose)> file(std::fopen(path.c_str(), "w"), fclose);
  if (!file || write(file.get()) != 1) throw std::runtime_error("cannot write " + path);
}

void writeKey(const std::string& path, EVP_PKEY* key) {
  writeFile(path, [&](FILE* file) { return PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr); });
}

void writeCertificates(const std::string& path, std::initializer_list<X509*> chain) {
  writeFile(path, [&](FILE* file) {
    for (X509* certificate : chain) {
      if (PEM_write_X509(file, certificate) != 1) return 0;
    }
    return 1;
  });
}

}  // namespace

TestCertificates writeTestCertificates(const std::string& directory) {
  TestCertificates files;
  auto path = [&](const char* name) { return directory + "/" + name; };
  Key caKey = newKey(), otherCaKey = newKey();
  Certificate ca = makeCertificate(caKey.get(), "FastGPU test CA", Role::kCa, nullptr, nullptr, nullptr);
  Certificate otherCa = makeCertificate(otherCaKey.get(), "Someone else's CA", Role::kCa, nullptr, nullptr, nullptr);
  writeCertificates(files.ca = path("ca.pem"), {ca.get()});
  writeCertificates(files.otherCa = path("other-ca.pem"), {otherCa.get()});

  struct Leaf {
    const char* name;
    const char* commonName;
    Role role;
    const char* altNames;
    X509* issuer;
    EVP_PKEY* issuerKey;
    std::string* certificate;
    std::string* key;
  };
  const Leaf leaves[] = {
      {"server", "fastgpu-server", Role::kServer, "IP:127.0.0.1,IP:::1,DNS:localhost", ca.get(), caKey.get(),
       &files.serverCert, &files.serverKey},
      {"client", "test-client", Role::kClient, nullptr, ca.get(), caKey.get(), &files.clientCert, &files.clientKey},
      {"other-host", "gpu.example.invalid", Role::kServer, "DNS:gpu.example.invalid", ca.get(), caKey.get(),
       &files.otherHostCert, &files.otherHostKey},
      {"rogue-client", "rogue-client", Role::kClient, nullptr, otherCa.get(), otherCaKey.get(), &files.rogueClientCert,
       &files.rogueClientKey},
  };
  for (const Leaf& leaf : leaves) {
    Key key = newKey();
    Certificate certificate = makeCertificate(key.get(), leaf.commonName, leaf.role, leaf.altNames, leaf.issuer,
                                              leaf.issuerKey);
    writeCertificates(*leaf.certificate = path((std::string(leaf.name) + ".pem").c_str()), {certificate.get(), leaf.issuer});
    writeKey(*leaf.key = path((std::string(leaf.name) + ".key").c_str()), key.get());
  }
  return files;
}

}  // namespace fastgpu::testing
