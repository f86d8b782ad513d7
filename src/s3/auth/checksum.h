#pragma once
// The S3 additional checksums: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.
// Values travel base64-encoded (big-endian for the CRCs) in x-amz-checksum-<alg>.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::s3::auth {

enum class checksum_algorithm { crc32, crc32c, crc64nvme, sha1, sha256 };

// "CRC32" / "crc32" etc.
std::optional<checksum_algorithm> parse_checksum_algorithm(std::string_view name);
std::string_view checksum_name(checksum_algorithm a);         // "CRC32"
std::string checksum_header(checksum_algorithm a);            // "x-amz-checksum-crc32"
// Raw digest length in bytes: 4 (CRC32, CRC32C), 8 (CRC64NVME), 20 (SHA1), 32 (SHA256).
size_t checksum_digest_size(checksum_algorithm a);

class checksummer {
 public:
  explicit checksummer(checksum_algorithm a);
  ~checksummer();
  checksummer(checksummer&&) noexcept;
  void update(std::string_view data);
  // The value as sent in x-amz-checksum-*; resets the state, like hasher::finish().
  std::string finish_base64();
  checksum_algorithm algorithm() const { return alg_; }

 private:
  struct impl;
  checksum_algorithm alg_;
  std::unique_ptr<impl> impl_;
};

std::string checksum_base64(checksum_algorithm a, std::string_view data);

}  // namespace sluice::s3::auth
