#include "gateway/tls_context.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "gateway/self_signed_cert.h"
#include "gateway/server.h"
#include "tests/gateway/http_client_util.h"
#include "tests/gateway/test_handler_util.h"

namespace parapet::gateway {
namespace {

using testing::TestClient;
using testing::TestResponse;
using testing::TlsClientOptions;

// Runs a shell command; returns its exit status and puts stdout+stderr in *output.
int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) output->append(buf, n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

SelfSignedCert MustGenerate(const SelfSignedOptions& options = {}) {
  Result<SelfSignedCert> cert = GenerateSelfSigned(options);
  PARAPET_CHECK(cert.ok());
  return *cert;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = MustGenerate();
    Result<CertFiles> files = WriteCertFiles(cert_, dir_.path(), "server");
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    files_ = *files;
  }

  void StartServer(const std::string& client_ca_file = "", int handshake_timeout_ms = 10'000) {
    Result<std::shared_ptr<TlsContext>> tls =
        TlsContext::Create({files_.cert_file, files_.key_file, client_ca_file});
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    tls_ = *tls;
    ServerOptions o;
    o.listen_port = 0;
    o.io_threads = 2;
    o.close_linger_ms = 200;
    o.handshake_timeout_ms = handshake_timeout_ms;
    Result<std::unique_ptr<Server>> server = Server::Start(o, tls_, handler_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  TlsClientOptions Verifying() const {
    TlsClientOptions o;
    o.ca_file = files_.cert_file;
    return o;
  }

  // Overwrites the server's certificate and key files.
  void Replace(const SelfSignedCert& cert, const SelfSignedCert& key) {
    SelfSignedCert mixed{cert.cert_pem, key.key_pem, ""};
    ASSERT_TRUE(WriteCertFiles(mixed, dir_.path(), "server").ok());
  }

  std::string SClient(const std::string& args, int* rc) {
    std::string out;
    *rc = RunCommand(
        "timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(server_->port()) +
            " -servername localhost " + args + " </dev/null",
        &out);
    return out;
  }

  testing::TempDir dir_;
  SelfSignedCert cert_;
  CertFiles files_;
  std::shared_ptr<testing::TestHandler> handler_ = std::make_shared<testing::TestHandler>();
  std::shared_ptr<TlsContext> tls_;
  std::unique_ptr<Server> server_;
};

TEST_F(TlsTest, SelfSignedCertificateForLocalhost) {
  Result<std::string> fingerprint = CertFingerprint(cert_.cert_pem);
  ASSERT_TRUE(fingerprint.ok());
  EXPECT_EQ(*fingerprint, cert_.sha256_fingerprint);
  EXPECT_EQ(cert_.sha256_fingerprint.size(), 32u * 3 - 1);
  std::string text;
  ASSERT_EQ(RunCommand("openssl x509 -noout -text -in " + files_.cert_file, &text), 0);
  EXPECT_NE(text.find("CN = localhost"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:localhost"), std::string::npos);
  EXPECT_NE(text.find("IP Address:127.0.0.1"), std::string::npos);
  EXPECT_NE(text.find("IP Address:0:0:0:0:0:0:0:1"), std::string::npos);
  EXPECT_NE(text.find("prime256v1"), std::string::npos);
  EXPECT_NE(text.find("TLS Web Server Authentication"), std::string::npos);
}

TEST_F(TlsTest, CreateNamesTheFileAndTheReason) {
  Result<std::shared_ptr<TlsContext>> missing =
      TlsContext::Create({dir_.path() + "/absent.crt", files_.key_file, ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("absent.crt"), std::string::npos);

  SelfSignedOptions old;
  old.not_before_offset_s = -90LL * 86400;
  Replace(MustGenerate(old), cert_);  // expired 60 days ago (key mismatch too, checked later)
  Result<std::shared_ptr<TlsContext>> expired =
      TlsContext::Create({files_.cert_file, files_.key_file, ""});
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
  EXPECT_NE(expired.status().message().find(files_.cert_file), std::string::npos);

  Replace(MustGenerate(), cert_);  // valid certificate, someone else's key
  Result<std::shared_ptr<TlsContext>> mismatch =
      TlsContext::Create({files_.cert_file, files_.key_file, ""});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("does not match"), std::string::npos)
      << mismatch.status().ToString();
}

TEST_F(TlsTest, ClientVerifiesTheCertificateAndGetsHsts) {
  StartServer();
  std::string error;
  auto client = TestClient::ConnectTls(server_->port(), Verifying(), &error);
  ASSERT_NE(client, nullptr) << error;
  EXPECT_EQ(client->NegotiatedAlpn(), "http/1.1");
  EXPECT_EQ(client->NegotiatedVersion(), "TLSv1.3");
  EXPECT_EQ(client->PeerFingerprint(), cert_.sha256_fingerprint);
  EXPECT_EQ(tls_->fingerprint(), cert_.sha256_fingerprint);
  ASSERT_TRUE(client->Send("GET /peer HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  std::optional<TestResponse> r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.substr(r->body.find('|')), "|tls|");
  EXPECT_EQ(r->header("strict-transport-security"), "max-age=31536000");

  TlsClientOptions tls12 = Verifying();
  tls12.max_version = TLS1_2_VERSION;
  auto client12 = TestClient::ConnectTls(server_->port(), tls12, &error);
  ASSERT_NE(client12, nullptr) << error;
  EXPECT_EQ(client12->NegotiatedVersion(), "TLSv1.2");
}

TEST_F(TlsTest, OpenSslCliRefusesTls11AndOldCiphersAcceptsTls13) {
  StartServer();
  int rc = 0;
  std::string out = SClient("-tls1_3 -CAfile " + files_.cert_file + " -verify_return_error", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("TLSv1.3"), std::string::npos) << out;
  EXPECT_NE(out.find("Verify return code: 0 (ok)"), std::string::npos) << out;

  // SECLEVEL=0 lets the client really offer TLS 1.1, so the refusal is the server's.
  out = SClient("-tls1_1 -cipher DEFAULT@SECLEVEL=0", &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("alert protocol version"), std::string::npos) << out;

  out = SClient("-tls1_2 -cipher AES128-SHA", &rc);  // CBC, RSA key exchange: not intermediate
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("alert handshake failure"), std::string::npos) << out;
  EXPECT_GE(server_->stats().tls_handshake_failures, 2u);
}

TEST_F(TlsTest, ReloadKeepsTheOldCertificateOnBadFilesAndSwapsOnGoodOnes) {
  StartServer();
  std::string error;
  auto before = TestClient::ConnectTls(server_->port(), Verifying(), &error);
  ASSERT_NE(before, nullptr) << error;

  SelfSignedOptions old;
  old.not_before_offset_s = -90LL * 86400;
  SelfSignedCert expired = MustGenerate(old);
  Replace(expired, expired);
  Status s = tls_->Reload();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("expired"), std::string::npos) << s.ToString();

  SelfSignedCert fresh = MustGenerate();
  Replace(fresh, cert_);  // new certificate, old key
  s = tls_->Reload();
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.ToString();
  EXPECT_EQ(tls_->fingerprint(), cert_.sha256_fingerprint);
  auto still_old = TestClient::ConnectTls(server_->port(), TlsClientOptions(), &error);
  ASSERT_NE(still_old, nullptr) << error;
  EXPECT_EQ(still_old->PeerFingerprint(), cert_.sha256_fingerprint);

  Replace(fresh, fresh);
  ASSERT_TRUE(tls_->Reload().ok());
  EXPECT_EQ(tls_->fingerprint(), fresh.sha256_fingerprint);
  auto after = TestClient::ConnectTls(server_->port(), TlsClientOptions(), &error);
  ASSERT_NE(after, nullptr) << error;
  EXPECT_EQ(after->PeerFingerprint(), fresh.sha256_fingerprint);

  // The connection made before the reload keeps working on its old context.
  ASSERT_TRUE(before->Send("GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  std::optional<TestResponse> r = before->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(before->PeerFingerprint(), cert_.sha256_fingerprint);
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificateAndReportsItsSubject) {
  SelfSignedOptions client_options;
  client_options.common_name = "client-1";
  client_options.dns_names.clear();
  client_options.ip_addresses.clear();
  client_options.client_auth = true;
  SelfSignedCert client_cert = MustGenerate(client_options);
  Result<CertFiles> client_files = WriteCertFiles(client_cert, dir_.path(), "client");
  ASSERT_TRUE(client_files.ok());
  StartServer(client_files->cert_file);  // the client's own certificate is the CA

  // Without a certificate: TLS 1.3 fails the handshake after the client's Finished, so the
  // failure shows on the first read at the latest.
  std::string error;
  auto anonymous = TestClient::ConnectTls(server_->port(), Verifying(), &error);
  if (anonymous != nullptr) {
    anonymous->Send("GET /peer HTTP/1.1\r\nHost: localhost\r\n\r\n");
    EXPECT_FALSE(anonymous->ReadResponse(2000).has_value());
  }
  EXPECT_EQ(handler_->requests(), 0);

  TlsClientOptions with_cert = Verifying();
  with_cert.cert_file = client_files->cert_file;
  with_cert.key_file = client_files->key_file;
  auto client = TestClient::ConnectTls(server_->port(), with_cert, &error);
  ASSERT_NE(client, nullptr) << error;
  ASSERT_TRUE(client->Send("GET /peer HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  std::optional<TestResponse> r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body.substr(r->body.find('|')), "|tls|CN=client-1");
}

TEST_F(TlsTest, StreamingAndDisconnectDetectionWorkOverTls) {
  StartServer();
  std::string error;
  auto client = TestClient::ConnectTls(server_->port(), Verifying(), &error);
  ASSERT_NE(client, nullptr) << error;
  ASSERT_TRUE(client->Send("GET /stream?n=20&delay_ms=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  std::optional<TestResponse> r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->chunks.size(), 20u);
  EXPECT_EQ(r->chunks.back(), "chunk-19\n");

  ASSERT_TRUE(client->Send("GET /hold-stream HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  ASSERT_TRUE(client->ReadHead().has_value());
  EXPECT_EQ(client->ReadChunk().value_or("?"), "first");
  int64_t start = testing::NowMs();
  client->Close();
  ASSERT_TRUE(handler_->WaitAborts(1, 2000));
  EXPECT_LE(handler_->last_abort_ms() - start, 100);
}

TEST_F(TlsTest, TransportErrorsOverTlsArriveBeforeTheClose) {
  StartServer();
  std::string error;
  auto client = TestClient::ConnectTls(server_->port(), Verifying(), &error);
  ASSERT_NE(client, nullptr) << error;
  ASSERT_TRUE(client->Send("BROKEN\r\n\r\n"));
  std::optional<TestResponse> r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("strict-transport-security"), "max-age=31536000");
  EXPECT_TRUE(client->WaitClosed(2000));
}

TEST_F(TlsTest, SilentClientHitsTheHandshakeDeadline) {
  StartServer("", /*handshake_timeout_ms=*/300);
  auto client = TestClient::Connect(server_->port());  // TCP only, no ClientHello
  ASSERT_NE(client, nullptr);
  int64_t start = testing::NowMs();
  EXPECT_TRUE(client->WaitClosed(3000));
  int64_t elapsed = testing::NowMs() - start;
  EXPECT_GE(elapsed, 250);
  EXPECT_LE(elapsed, 1500);
  EXPECT_EQ(server_->stats().timeouts_handshake, 1u);
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortIsAHandshakeFailure) {
  StartServer();
  auto client = TestClient::Connect(server_->port());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send("GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  EXPECT_TRUE(client->WaitClosed(2000));
  EXPECT_EQ(handler_->requests(), 0);
  EXPECT_EQ(server_->stats().tls_handshake_failures, 1u);
}

}  // namespace
}  // namespace parapet::gateway
