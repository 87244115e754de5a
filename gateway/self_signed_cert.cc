// Self-signed certificate generation (OpenSSL 3 EVP/X509, no shelling out).
#include "gateway/self_signed_cert.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "gateway/internal/openssl_util.h"

namespace parapet::gateway {
namespace {

using internal::OpenSslErrors;
using internal::PkeyPtr;
using internal::X509Ptr;

Status Fail(std::string_view step) {
  return InternalError("self-signed certificate: " + std::string(step) + ": " + OpenSslErrors());
}

Status AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return Fail("extension " + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status::Ok() : Fail("add extension");
}

std::string SubjectAltNames(const SelfSignedOptions& o) {
  std::string out;
  for (const auto& d : o.dns_names) out += (out.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : o.ip_addresses) out += (out.empty() ? "IP:" : ",IP:") + ip;
  return out;
}

Status SetSerialAndValidity(X509* cert, const SelfSignedOptions& o) {
  BIGNUM* bn = BN_new();
  bool ok = bn != nullptr && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  if (!ok) return Fail("serial number");
  if (X509_gmtime_adj(X509_getm_notBefore(cert), o.not_before_offset_s) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert), o.valid_days, o.not_before_offset_s, nullptr) ==
          nullptr) {
    return Fail("validity");
  }
  return Status::Ok();
}

Status FillCertificate(X509* cert, EVP_PKEY* key, const SelfSignedOptions& o) {
  if (X509_set_version(cert, 2) != 1) return Fail("version");
  PARAPET_RETURN_IF_ERROR(SetSerialAndValidity(cert, o));
  X509_NAME* name = X509_get_subject_name(cert);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(o.common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, key) != 1) {
    return Fail("subject");
  }
  PARAPET_RETURN_IF_ERROR(AddExtension(cert, NID_basic_constraints, "critical,CA:FALSE"));
  PARAPET_RETURN_IF_ERROR(AddExtension(cert, NID_key_usage, "critical,digitalSignature"));
  PARAPET_RETURN_IF_ERROR(
      AddExtension(cert, NID_ext_key_usage, o.client_auth ? "clientAuth" : "serverAuth"));
  PARAPET_RETURN_IF_ERROR(AddExtension(cert, NID_subject_key_identifier, "hash"));
  std::string san = SubjectAltNames(o);
  if (!san.empty()) PARAPET_RETURN_IF_ERROR(AddExtension(cert, NID_subject_alt_name, san));
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return Fail("sign");
  return Status::Ok();
}

Result<std::string> ToPem(X509* cert, EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  int ok = cert != nullptr
               ? PEM_write_bio_X509(bio.get(), cert)
               : PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  if (ok != 1) return Fail("PEM encoding");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Status WriteFile(const std::string& path, const std::string& data, bool secret) {
  std::filesystem::remove(path);  // so a fresh file gets the mode below; absence is fine
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (secret) ::chmod(path.c_str(), 0600);
  out << data;
  out.close();
  if (!out) return UnavailableError(path + ": cannot write");
  return Status::Ok();
}

}  // namespace

Result<SelfSignedCert> GenerateSelfSigned(const SelfSignedOptions& options) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Fail("P-256 key");
  X509Ptr cert(X509_new());
  if (!cert) return Fail("X509_new");
  PARAPET_RETURN_IF_ERROR(FillCertificate(cert.get(), key.get(), options));
  SelfSignedCert out;
  PARAPET_ASSIGN_OR_RETURN(out.cert_pem, ToPem(cert.get(), nullptr));
  PARAPET_ASSIGN_OR_RETURN(out.key_pem, ToPem(nullptr, key.get()));
  out.sha256_fingerprint = internal::Sha256Fingerprint(cert.get());
  return out;
}

Result<CertFiles> WriteCertFiles(const SelfSignedCert& cert, const std::string& dir,
                                 std::string_view stem) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return UnavailableError(dir + ": " + ec.message());
  CertFiles files;
  files.cert_file = dir + "/" + std::string(stem) + ".crt";
  files.key_file = dir + "/" + std::string(stem) + ".key";
  PARAPET_RETURN_IF_ERROR(WriteFile(files.key_file, cert.key_pem, /*secret=*/true));
  PARAPET_RETURN_IF_ERROR(WriteFile(files.cert_file, cert.cert_pem, /*secret=*/false));
  return files;
}

Result<std::string> CertFingerprint(std::string_view cert_pem) {
  PARAPET_ASSIGN_OR_RETURN(internal::X509Ptr cert, internal::ParseCertPem(cert_pem, "certificate"));
  return internal::Sha256Fingerprint(cert.get());
}

}  // namespace parapet::gateway
