// Self-signed certificates made in process with OpenSSL 3's EVP/X509 APIs: what `parapet serve`
// uses when it is given no certificate files (a P-256 key, CN=localhost, SANs for localhost,
// 127.0.0.1 and ::1, valid 30 days), and what the tests use to make good, expired and client
// certificates. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parapet::gateway {

struct SelfSignedOptions {
  // Subject and issuer common name.
  std::string common_name = "localhost";
  // subjectAltName entries.
  std::vector<std::string> dns_names = {"localhost"};
  std::vector<std::string> ip_addresses = {"127.0.0.1", "::1"};
  // Validity length in days, counted from notBefore.
  int valid_days = 30;
  // notBefore relative to now, in seconds: slightly in the past against clock skew; tests put it
  // far in the past to make an expired certificate.
  int64_t not_before_offset_s = -300;
  // Extended key usage clientAuth (an mTLS client certificate) instead of serverAuth.
  bool client_auth = false;
};

struct SelfSignedCert {
  std::string cert_pem;
  std::string key_pem;             // unencrypted PKCS#8
  std::string sha256_fingerprint;  // "AB:CD:..." over the certificate's DER form
};

// A fresh key pair and a certificate signed by it. Internal error with OpenSSL's reason.
Result<SelfSignedCert> GenerateSelfSigned(const SelfSignedOptions& options = {});

struct CertFiles {
  std::string cert_file;
  std::string key_file;
};

// Writes `cert` as <dir>/<stem>.crt and <dir>/<stem>.key (the key with mode 0600), creating
// `dir` if needed. Unavailable naming the path on failure.
Result<CertFiles> WriteCertFiles(const SelfSignedCert& cert, const std::string& dir,
                                 std::string_view stem = "parapet-selfsigned");

// The SHA-256 fingerprint of the first certificate in `cert_pem`.
Result<std::string> CertFingerprint(std::string_view cert_pem);

}  // namespace parapet::gateway
