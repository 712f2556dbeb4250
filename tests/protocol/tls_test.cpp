// What TLS adds over TCP: the server proves who it is, optionally the client too, and nothing on
// the wire can be read or changed unnoticed. Failures are clear, bounded in time and never hang.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "protocol/transport/tls_connection.h"
#include "protocol/transport/transport.h"
#include "tests/protocol/tls_fixture.h"
#include "tests/support/byte_pattern.h"

namespace fastgpu::protocol {
namespace {

using testing::testCertificates;
using testing::tlsPair;
using Clock = std::chrono::steady_clock;

std::vector<std::uint8_t> bytes(std::size_t count, std::uint8_t seed) {
  std::vector<std::uint8_t> data(count);
  for (std::size_t i = 0; i < count; ++i) data[i] = testing::patternByte(i, seed);
  return data;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Tls, AServerWhoseCertificateDoesNotChainToTheTrustedCaIsRefused) {
  TlsClientSettings trustingSomeoneElse{testCertificates().otherCa, "", ""};
  Status connected;
  auto [client, server] = tlsPair(testCertificates().serverSettings(), trustingSomeoneElse, nullptr, &connected);
  EXPECT_FALSE(client);
  EXPECT_EQ(connected.kind(), ErrorKind::kFailed);
  EXPECT_TRUE(contains(connected.message(), "TLS handshake with tls://127.0.0.1:")) << connected.message();
  EXPECT_TRUE(contains(connected.message(), "certificate verify failed")) << connected.message();
}

TEST(Tls, AServerCertificateForAnotherNameIsRefused) {
  const auto& files = testCertificates();
  Status connected;
  auto [client, server] = tlsPair({files.otherHostCert, files.otherHostKey, ""}, files.clientSettings(), nullptr, &connected);
  EXPECT_FALSE(client);
  EXPECT_TRUE(contains(connected.message(), "certificate verify failed")) << connected.message();
  EXPECT_TRUE(contains(connected.message(), "IP address mismatch")) << connected.message();
}

TEST(Tls, FramesTravelAndTheServerSeesTheClientsCertificate) {
  const auto& files = testCertificates();
  TlsServerSettings requiring{files.serverCert, files.serverKey, files.ca};
  Status handshake;
  auto [client, server] = tlsPair(requiring, {files.ca, files.clientCert, files.clientKey}, &handshake);
  ASSERT_TRUE(client && server) << handshake.message();
  EXPECT_TRUE(handshake) << handshake.message();
  EXPECT_TRUE(contains(server->peerIdentity(), "CN=test-client")) << server->peerIdentity();
  EXPECT_TRUE(contains(client->peerIdentity(), "CN=fastgpu-server")) << client->peerIdentity();
  ASSERT_TRUE(client->send(bytes(100, 1)));
  std::vector<std::uint8_t> payload;
  ASSERT_TRUE(server->receive(payload));
  EXPECT_EQ(payload, bytes(100, 1));
}

// The server requires a client certificate: a client without one, or with one from another CA,
// gets no session, and both sides learn it at once.
void expectRefusedClient(const TlsClientSettings& client, const std::string& serverReason) {
  const auto& files = testCertificates();
  TlsServerSettings requiring{files.serverCert, files.serverKey, files.ca};
  Status handshake;
  auto [connection, server] = tlsPair(requiring, client, &handshake);
  EXPECT_FALSE(handshake);
  EXPECT_TRUE(contains(handshake.message(), serverReason)) << handshake.message();
  if (!connection) return;  // TLS 1.2 fails in connect; TLS 1.3 at the client's first read
  std::vector<std::uint8_t> payload;
  connection->setIdleTimeout(std::chrono::seconds(10));
  Status received = connection->receive(payload);
  EXPECT_FALSE(received);
  EXPECT_NE(received.code(), CUDA_ERROR_TIMEOUT) << received.message();
}

TEST(Tls, AClientWithoutACertificateIsRefusedWhenOneIsRequired) {
  expectRefusedClient(testCertificates().clientSettings(), "peer did not return a certificate");
}

TEST(Tls, AClientCertificateFromAnotherCaIsRefused) {
  const auto& files = testCertificates();
  expectRefusedClient({files.ca, files.rogueClientCert, files.rogueClientKey}, "certificate verify failed");
}

TEST(Tls, MissingOrMismatchedFilesAreRefusedNamingTheFile) {
  const auto& files = testCertificates();
  auto missing = listen("tls://127.0.0.1:0", {{files.serverCert, "/nonexistent/server.key", ""}});
  ASSERT_FALSE(missing);
  EXPECT_TRUE(contains(missing.status().message(), "/nonexistent/server.key")) << missing.status().message();
  auto mismatched = listen("tls://127.0.0.1:0", {{files.serverCert, files.clientKey, ""}});
  ASSERT_FALSE(mismatched);
  EXPECT_TRUE(contains(mismatched.status().message(), files.clientKey) &&
              contains(mismatched.status().message(), "mismatch"))
      << mismatched.status().message();
  auto noCertificate = listen("tls://127.0.0.1:0", {});
  ASSERT_FALSE(noCertificate);
  EXPECT_TRUE(contains(noCertificate.status().message(), "tls_cert")) << noCertificate.status().message();
  auto badCa = connect("tls://127.0.0.1:1", {std::chrono::seconds(1), {"/nonexistent/ca.pem", "", ""}});
  ASSERT_FALSE(badCa);
  EXPECT_TRUE(contains(badCa.status().message(), "/nonexistent/ca.pem")) << badCa.status().message();
}

// A raw TCP client: speaks no TLS, or nothing at all.
int rawConnect(const std::string& url) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))));
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  return fd;
}

TEST(Tls, APlaintextClientOrASilentOneIsRefusedWithinTheHandshakeDeadline) {
  auto listener = listen("tls://127.0.0.1:0", {testCertificates().serverSettings()});
  ASSERT_TRUE(listener);
  for (bool silent : {false, true}) {
    int raw = rawConnect((*listener)->url());
    if (!silent) {
      const char hello[] = "FGPU this is not a TLS ClientHello";
      ASSERT_GT(::send(raw, hello, sizeof(hello), MSG_NOSIGNAL), 0);
    }
    auto accepted = (*listener)->accept();
    ASSERT_TRUE(accepted);
    auto started = Clock::now();
    (*accepted)->setReceiveDeadline(started + std::chrono::milliseconds(300));
    std::vector<std::uint8_t> payload;
    Status status = (*accepted)->receive(payload);
    EXPECT_FALSE(status);
    EXPECT_LT(Clock::now() - started, std::chrono::seconds(5));
    if (silent) {
      EXPECT_EQ(status.code(), CUDA_ERROR_TIMEOUT) << status.message();
    } else {
      EXPECT_TRUE(contains(status.message(), "TLS handshake with tls://127.0.0.1:")) << status.message();
    }
    ::close(raw);
  }
}

TEST(Tls, ATlsClientOfAPlainServerFailsClearlyInConnect) {
  auto listener = listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(listener);
  std::thread server([&] {
    auto accepted = (*listener)->accept();
    if (!accepted) return;
    std::vector<std::uint8_t> payload;
    (void)(*accepted)->receive(payload);  // a ClientHello is no frame: the server hangs up
  });
  std::string url = "tls" + (*listener)->url().substr(3);
  auto connected = connect(url, {std::chrono::seconds(10), testCertificates().clientSettings()});
  server.join();
  ASSERT_FALSE(connected);
  EXPECT_TRUE(contains(connected.status().message(), "is it a TLS endpoint")) << connected.status().message();
}

// A man in the middle that flips one byte of the client's traffic once told to: the server must
// notice instead of acting on changed bytes.
class TamperingProxy {
 public:
  explicit TamperingProxy(const std::string& target) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(listener_, 1), 0);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    url = "tls://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
    thread_ = std::thread([this, target] { run(target); });
  }
  ~TamperingProxy() {
    thread_.join();
    ::close(listener_);
  }
  std::string url;
  std::atomic<bool> tamper{false};

 private:
  void pump(int from, int to, bool mayTamper) {
    std::uint8_t buffer[65536];
    for (;;) {
      ssize_t got = ::recv(from, buffer, sizeof(buffer), 0);
      if (got <= 0) break;
      if (mayTamper && tamper.exchange(false)) buffer[got - 1] ^= 0x01;
      if (::send(to, buffer, static_cast<std::size_t>(got), MSG_NOSIGNAL) != got) break;
    }
    ::shutdown(to, SHUT_RDWR);
    ::shutdown(from, SHUT_RDWR);
  }
  void run(const std::string& target) {
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    int server = rawConnect(target);
    std::thread back([&] { pump(server, client, false); });
    pump(client, server, true);
    back.join();
    ::close(client);
    ::close(server);
  }
  int listener_;
  std::thread thread_;
};

TEST(Tls, ABitFlippedOnTheWireEndsTheConnectionInsteadOfBeingDelivered) {
  auto listener = listen("tls://127.0.0.1:0", {testCertificates().serverSettings()});
  ASSERT_TRUE(listener);
  TamperingProxy proxy((*listener)->url());
  std::unique_ptr<Connection> server;
  std::thread acceptor([&] {
    auto accepted = (*listener)->accept();
    ASSERT_TRUE(accepted);
    server = std::move(*accepted);
    std::vector<std::uint8_t> payload;
    ASSERT_TRUE(server->receive(payload));  // the handshake, then an untouched frame
    EXPECT_EQ(payload, bytes(64, 1));
  });
  auto client = connect(proxy.url, {std::chrono::seconds(10), testCertificates().clientSettings()});
  ASSERT_TRUE(client) << client.status().message();
  ASSERT_TRUE((*client)->send(bytes(64, 1)));
  acceptor.join();
  proxy.tamper = true;
  ASSERT_TRUE((*client)->send(bytes(64, 2)));
  std::vector<std::uint8_t> payload;
  Status status = server->receive(payload);
  EXPECT_FALSE(status);
  EXPECT_EQ(status.kind(), ErrorKind::kFailed);
  EXPECT_TRUE(contains(status.message(), "bad record mac") || contains(status.message(), "decryption failed"))
      << status.message();
  client->reset();
  server.reset();
}

// A TLS client and the server's end handed to a "worker" as a session's is: through the relay.
class TlsRelaySession : public ::testing::Test {
 protected:
  void SetUp() override {
    std::tie(client, server) = tlsPair(testCertificates().serverSettings(), testCertificates().clientSettings());
    ASSERT_TRUE(client && server);
    int plain = server->detach();
    ASSERT_GE(plain, 0);
    worker = adoptStream(plain, "worker");
  }
  std::unique_ptr<Connection> client, server, worker;
};

TEST_F(TlsRelaySession, TheLastWordsArriveThenTheStreamEnds) {
  ASSERT_TRUE(worker->send(bytes(1000, 3)));
  worker.reset();  // the worker's end closes: the relay flushes, then tells the client the stream ended
  std::vector<std::uint8_t> payload;
  ASSERT_TRUE(client->receive(payload));
  EXPECT_EQ(payload, bytes(1000, 3));
  Status ended = client->receive(payload);
  EXPECT_EQ(ended.kind(), ErrorKind::kDisconnected) << ended.message();
}

TEST_F(TlsRelaySession, AClientThatReadsNothingHoldsTheRelayNoLongerThanItsFlushBound) {
  worker->setIdleTimeout(std::chrono::milliseconds(200));
  auto big = bytes(4 << 20, 4);
  Status sent;
  for (int i = 0; i < 64 && sent; ++i) sent = worker->send(big);  // fills every buffer on the way
  EXPECT_EQ(sent.code(), CUDA_ERROR_TIMEOUT) << sent.message();
  worker.reset();
  auto started = Clock::now();
  server.reset();  // the relay gives up on the stuck client
  EXPECT_LT(Clock::now() - started, TlsRelay::kFlushSeconds + std::chrono::seconds(2));
}

TEST_F(TlsRelaySession, AClientThatLeavesEndsTheWorkersStream) {
  ASSERT_TRUE(client->send(bytes(10, 5)));
  client.reset();
  std::vector<std::uint8_t> payload;
  ASSERT_TRUE(worker->receive(payload));
  EXPECT_EQ(payload, bytes(10, 5));
  Status ended = worker->receive(payload);
  EXPECT_EQ(ended.kind(), ErrorKind::kDisconnected) << ended.message();
}

}  // namespace
}  // namespace fastgpu::protocol
