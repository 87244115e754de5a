// TlsContext: builds and swaps OpenSSL server contexts (see tls_context.h for the settings).
#include "gateway/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <cstring>

#include "gateway/internal/openssl_util.h"

namespace parapet::gateway {
namespace {

namespace ssl = boost::asio::ssl;
using internal::OpenSslErrors;

// Mozilla intermediate (v5.7), TLS 1.2 part; TLS 1.3 keeps OpenSSL's default suites.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";
constexpr unsigned char kSessionIdContext[] = "parapet";

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// Selects "http/1.1" when the client offers it; otherwise continues without ALPN.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

Status ConfigureProtocol(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return InternalError("TLS protocol versions: " + OpenSslErrors());
  }
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return InternalError("TLS 1.2 cipher list: " + OpenSslErrors());
  }
  if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    return InternalError("TLS groups " + std::string(kGroups) + ": " + OpenSslErrors());
  }
  SSL_CTX_set_dh_auto(ctx, 1);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  // Mozilla intermediate leaves the choice to the client (it knows whether it has AES hardware).
  SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof(kSessionIdContext) - 1);
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
  return Status::Ok();
}

// Certificate chain and key: the key must match the leaf and the leaf must be valid now.
Status LoadIdentity(SSL_CTX* ctx, const TlsOptions& o) {
  PARAPET_ASSIGN_OR_RETURN(std::string cert_pem, internal::ReadFile(o.cert_file));
  PARAPET_ASSIGN_OR_RETURN(std::string key_pem, internal::ReadFile(o.key_file));
  PARAPET_ASSIGN_OR_RETURN(internal::X509Ptr leaf, internal::ParseCertPem(cert_pem, o.cert_file));
  PARAPET_ASSIGN_OR_RETURN(internal::PkeyPtr key, internal::ParseKeyPem(key_pem, o.key_file));
  PARAPET_RETURN_IF_ERROR(internal::CheckValidNow(leaf.get(), o.cert_file));
  ERR_clear_error();
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    return InvalidArgumentError(o.key_file + ": private key does not match the certificate in " +
                                o.cert_file + " (" + OpenSslErrors() + ")");
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1) {
    return InvalidArgumentError(o.cert_file + ": " + OpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return InvalidArgumentError(o.key_file + ": " + OpenSslErrors());
  }
  return Status::Ok();
}

Status LoadClientCa(SSL_CTX* ctx, const std::string& ca_file) {
  PARAPET_RETURN_IF_ERROR(internal::ReadFile(ca_file).status());
  ERR_clear_error();
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
  if (names == nullptr || SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
    return InvalidArgumentError(ca_file + ": no usable CA certificates (" + OpenSslErrors() + ")");
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return Status::Ok();
}

Result<std::shared_ptr<ssl::context>> Build(const TlsOptions& o) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return InternalError("SSL_CTX_new: " + OpenSslErrors());
  PARAPET_RETURN_IF_ERROR(ConfigureProtocol(ctx.get()));
  PARAPET_RETURN_IF_ERROR(LoadIdentity(ctx.get(), o));
  if (!o.client_ca_file.empty()) PARAPET_RETURN_IF_ERROR(LoadClientCa(ctx.get(), o.client_ca_file));
  return std::make_shared<ssl::context>(ctx.release());  // takes ownership
}

}  // namespace

TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsOptions& options) {
  std::shared_ptr<TlsContext> tls(new TlsContext(options));
  PARAPET_RETURN_IF_ERROR(tls->Reload());
  return tls;
}

Status TlsContext::Reload() {
  PARAPET_ASSIGN_OR_RETURN(std::shared_ptr<ssl::context> fresh, Build(options_));
  X509* leaf = SSL_CTX_get0_certificate(fresh->native_handle());
  std::string fingerprint = internal::Sha256Fingerprint(leaf);
  std::lock_guard<std::mutex> lock(mu_);
  context_ = std::move(fresh);
  fingerprint_ = std::move(fingerprint);
  return Status::Ok();
}

std::shared_ptr<boost::asio::ssl::context> TlsContext::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return context_;
}

std::string TlsContext::fingerprint() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fingerprint_;
}

}  // namespace parapet::gateway
