// Small OpenSSL 3 helpers shared by the TLS context and the self-signed certificate generator:
// owning pointers, the error-queue text, PEM reading and certificate facts. No Asio here.
// Thread-safety: free functions over caller-owned objects; OpenSSL's error queue is per thread.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace parapet::gateway::internal {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Drains this thread's OpenSSL error queue into "error:...; error:..." ("no OpenSSL error
// details" when empty).
std::string OpenSslErrors();

// Reads a whole file; NotFound/Unavailable naming `path` and the OS reason.
Result<std::string> ReadFile(const std::string& path);

// The first certificate of a PEM text; InvalidArgument naming `what` when there is none.
Result<X509Ptr> ParseCertPem(std::string_view pem, std::string_view what);
// A PEM private key (unencrypted); InvalidArgument naming `what` on failure.
Result<PkeyPtr> ParseKeyPem(std::string_view pem, std::string_view what);

// OK if now is within [notBefore, notAfter]; else InvalidArgument naming `what` and the date.
Status CheckValidNow(X509* cert, std::string_view what);
// "AB:CD:..." (32 upper-case hex pairs): the SHA-256 of the certificate's DER form.
std::string Sha256Fingerprint(X509* cert);
// The subject as an RFC 2253 string ("CN=client,O=Example").
std::string SubjectString(X509* cert);

}  // namespace parapet::gateway::internal
