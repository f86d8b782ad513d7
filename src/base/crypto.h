#pragma once
// Hashes and MACs over OpenSSL 3 (EVP), and XXH3-128 (libxxhash) for checks
// that need no cryptographic strength. Incremental hashers are move-only and
// single-threaded.
#include <array>
#include <memory>
#include <string>
#include <string_view>

namespace sluice {

// xxh3_128: 16 bytes, big-endian (the canonical form xxhsum prints).
enum class hash_kind { md5, sha1, sha256, xxh3_128 };

class hasher {
 public:
  explicit hasher(hash_kind kind);
  hasher(hasher&&) noexcept;
  hasher& operator=(hasher&&) noexcept;
  ~hasher();
  void update(std::string_view data);
  void update(const void* data, size_t n) { update(std::string_view(static_cast<const char*>(data), n)); }
  // Raw digest bytes; the hasher is reset afterwards.
  std::string finish();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

std::string sha256(std::string_view data);  // raw 32 bytes
std::string sha256_hex(std::string_view data);
std::string md5(std::string_view data);  // raw 16 bytes
std::string xxh3_128(std::string_view data);                           // raw 16 bytes, canonical (big-endian)
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes

// Compares in time independent of where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// Cryptographically strong random bytes.
std::string random_bytes(size_t n);
// Random string over [A-Za-z0-9] of length n (for generated credentials).
std::string random_token(size_t n);
// RFC 4122 version 4 UUID, lower-case with dashes.
std::string uuid_v4();

}  // namespace sluice
