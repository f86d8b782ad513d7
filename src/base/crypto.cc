#include "base/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
// Debian's libxxhash picks the widest SIMD at run time (see objstore/erasure/bitrot.cc).
#include <xxh_x86dispatch.h>
#else
#include <xxhash.h>
#endif

#include <cstring>
#include <memory>
#include <stdexcept>

#include "base/encoding.h"

namespace sluice {

// One of: an OpenSSL digest (md set) or an XXH3-128 state (xxh set).
struct hasher::impl {
  EVP_MD_CTX* ctx = nullptr;
  const EVP_MD* md = nullptr;
  XXH3_state_t* xxh = nullptr;
  ~impl() {
    EVP_MD_CTX_free(ctx);
    if (xxh) XXH3_freeState(xxh);
  }
};

namespace {
// Digests fetched from the provider once. With the legacy handles
// (EVP_sha256() …) OpenSSL 3 looks the algorithm up again on every
// EVP_DigestInit_ex, and HMAC() fetches a MAC and a digest on every call: in
// a profile of 4 KiB GETs that lookup work was most of libcrypto's ~15% of
// the server's CPU (OpenSSL's migration guide recommends explicit fetching
// for this reason). Kept for the life of the process.
const EVP_MD* fetch_once(const char* name, const EVP_MD* legacy) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md ? md : legacy;  // e.g. MD5 without the default provider: the legacy handle fails later, as before
}
const EVP_MD* sha256_md() {
  static const EVP_MD* md = fetch_once("SHA2-256", EVP_sha256());
  return md;
}
const EVP_MD* md_for(hash_kind k) {
  switch (k) {
    case hash_kind::md5: {
      static const EVP_MD* md = fetch_once("MD5", EVP_md5());
      return md;
    }
    case hash_kind::sha1: {
      static const EVP_MD* md = fetch_once("SHA1", EVP_sha1());
      return md;
    }
    case hash_kind::sha256:
      return sha256_md();
    case hash_kind::xxh3_128:
      return nullptr;
  }
  return sha256_md();
}
}  // namespace

hasher::hasher(hash_kind kind) : impl_(std::make_unique<impl>()) {
  impl_->md = md_for(kind);
  if (!impl_->md) {
    impl_->xxh = XXH3_createState();
    if (!impl_->xxh || XXH3_128bits_reset(impl_->xxh) != XXH_OK) throw std::runtime_error("XXH3 init");
    return;
  }
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, impl_->md, nullptr) != 1) throw std::runtime_error("EVP init");
}
hasher::hasher(hasher&&) noexcept = default;
hasher& hasher::operator=(hasher&&) noexcept = default;
hasher::~hasher() = default;

void hasher::update(std::string_view data) {
  if (impl_->xxh) {
    XXH3_128bits_update(impl_->xxh, data.data(), data.size());
  } else {
    EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
  }
}

std::string hasher::finish() {
  if (impl_->xxh) {
    XXH128_canonical_t c;  // big-endian: high 64 bits first, as xxhsum prints it
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(impl_->xxh));
    XXH3_128bits_reset(impl_->xxh);
    return std::string(reinterpret_cast<const char*>(c.digest), sizeof(c.digest));
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(impl_->ctx, out, &n);
  EVP_DigestInit_ex(impl_->ctx, impl_->md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

namespace {
// A one-shot digest on a context kept per thread (a new EVP_MD_CTX per call
// was ~2% of a small GET's CPU: SigV4 hashes its canonical request).
std::string one_shot(const EVP_MD* md, std::string_view data) {
  struct ctx_holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~ctx_holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local ctx_holder h;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!h.ctx || EVP_DigestInit_ex(h.ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(h.ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(h.ctx, out, &n) != 1) {
    throw std::runtime_error("EVP digest failed");
  }
  return std::string(reinterpret_cast<char*>(out), n);
}
}  // namespace

std::string sha256(std::string_view data) {
  return one_shot(md_for(hash_kind::sha256), data);
}
std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }
std::string md5(std::string_view data) {
  return one_shot(md_for(hash_kind::md5), data);
}
std::string xxh3_128(std::string_view data) {
  hasher h(hash_kind::xxh3_128);
  h.update(data);
  return h.finish();
}

// One HMAC-SHA256 context per thread, its MAC and digest fetched once; each
// call only sets the key (EVP_MAC_init without parameters keeps the digest).
std::string hmac_sha256(std::string_view key, std::string_view data) {
  struct mac_ctx {
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* ctx = nullptr;
    mac_ctx() {
      mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
      ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
      char digest[] = "SHA2-256";
      const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                   OSSL_PARAM_construct_end()};
      if (!ctx || EVP_MAC_CTX_set_params(ctx, params) != 1)
        throw std::runtime_error("HMAC-SHA256 setup failed");
    }
    ~mac_ctx() {
      EVP_MAC_CTX_free(ctx);
      EVP_MAC_free(mac);
    }
  };
  thread_local mac_ctx m;
  // A non-null pointer for an empty key (EVP_MAC_init takes NULL as "keep the last key").
  static const unsigned char kEmpty = 0;
  const auto* k = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t n = 0;
  if (EVP_MAC_init(m.ctx, k, key.size(), nullptr) != 1 ||
      EVP_MAC_update(m.ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(m.ctx, out, &n, sizeof out) != 1) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<char*>(out), n);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string random_token(size_t n) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    for (unsigned char c : random_bytes(n)) {
      if (c < 248 && out.size() < n) out.push_back(alphabet[c % 62]);  // 248 = 4*62: no modulo bias
    }
  }
  return out;
}

std::string uuid_v4() {
  std::string b = random_bytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  std::string h = to_hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

}  // namespace sluice
