// OpenSSL helper implementation.
#include "gateway/internal/openssl_util.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace parapet::gateway::internal {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr MemBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

std::string TimeString(const ASN1_TIME* t) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), t);
  return BioText(bio.get());
}

}  // namespace

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error details" : out;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string reason = std::strerror(err);
    if (err == ENOENT) return NotFoundError(path + ": " + reason);
    return UnavailableError(path + ": " + reason);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<X509Ptr> ParseCertPem(std::string_view pem, std::string_view what) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return InvalidArgumentError(std::string(what) + ": no PEM certificate (" + OpenSslErrors() +
                                ")");
  }
  return cert;
}

Result<PkeyPtr> ParseKeyPem(std::string_view pem, std::string_view what) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  // An empty passphrase callback result makes an encrypted key fail instead of prompting.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    return InvalidArgumentError(std::string(what) + ": no usable PEM private key (" +
                                OpenSslErrors() + ")");
  }
  return key;
}

Status CheckValidNow(X509* cert, std::string_view what) {
  const ASN1_TIME* not_before = X509_get0_notBefore(cert);
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  if (X509_cmp_current_time(not_before) >= 0) {
    return InvalidArgumentError(std::string(what) + ": certificate is not valid before " +
                                TimeString(not_before));
  }
  if (X509_cmp_current_time(not_after) <= 0) {
    return InvalidArgumentError(std::string(what) + ": certificate expired at " +
                                TimeString(not_after));
  }
  return Status::Ok();
}

std::string Sha256Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    if (i > 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string SubjectString(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  return BioText(bio.get());
}

}  // namespace parapet::gateway::internal
