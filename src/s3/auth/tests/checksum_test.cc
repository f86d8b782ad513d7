#include "s3/auth/checksum.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "base/crypto.h"
#include "base/encoding.h"

namespace sluice::s3::auth {
namespace {

template <class T>
std::string b64_be(T v) {
  std::string raw(sizeof(T), '\0');
  for (size_t i = 0; i < sizeof(T); ++i) raw[i] = static_cast<char>(v >> (8 * (sizeof(T) - 1 - i)));
  return base64_encode(raw);
}

// Bit-at-a-time CRC64NVME, the definition the table version must agree with.
uint64_t crc64nvme_reference(std::string_view data) {
  uint64_t crc = ~0ULL;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x9A6C9329AC4BC9B5ULL : crc >> 1;
  }
  return ~crc;
}

std::string random_string(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

constexpr checksum_algorithm kAll[] = {checksum_algorithm::crc32, checksum_algorithm::crc32c,
                                       checksum_algorithm::crc64nvme, checksum_algorithm::sha1,
                                       checksum_algorithm::sha256};

TEST(Checksum, CheckValues) {
  EXPECT_EQ(checksum_base64(checksum_algorithm::crc32, "123456789"), b64_be<uint32_t>(0xCBF43926));
  EXPECT_EQ(checksum_base64(checksum_algorithm::crc32, "123456789"), "y/Q5Jg==");
  EXPECT_EQ(checksum_base64(checksum_algorithm::crc32c, "123456789"), b64_be<uint32_t>(0xE3069283));
  EXPECT_EQ(checksum_base64(checksum_algorithm::crc64nvme, "123456789"),
            b64_be<uint64_t>(0xAE8B14860A799888ULL));
  EXPECT_EQ(checksum_base64(checksum_algorithm::sha1, "abc"), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
  EXPECT_EQ(checksum_base64(checksum_algorithm::sha256, "abc"), base64_encode(sha256("abc")));
}

TEST(Checksum, EmptyInput) {
  EXPECT_EQ(checksum_base64(checksum_algorithm::crc32, ""), "AAAAAA==");
  EXPECT_EQ(checksum_base64(checksum_algorithm::crc32c, ""), "AAAAAA==");
  EXPECT_EQ(checksum_base64(checksum_algorithm::crc64nvme, ""), "AAAAAAAAAAA=");
  EXPECT_EQ(checksum_base64(checksum_algorithm::sha256, ""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST(Checksum, Crc64MatchesBitwiseDefinition) {
  for (size_t n : {1u, 7u, 8u, 9u, 63u, 64u, 1000u, 4097u}) {
    std::string s = random_string(n, static_cast<uint32_t>(n));
    EXPECT_EQ(checksum_base64(checksum_algorithm::crc64nvme, s), b64_be(crc64nvme_reference(s))) << n;
  }
}

TEST(Checksum, IncrementalEqualsOneShot) {
  std::string data = random_string(100000, 7);
  for (auto a : kAll) {
    checksummer c(a);
    size_t pos = 0, step = 1;
    while (pos < data.size()) {
      size_t k = std::min(step, data.size() - pos);
      c.update(std::string_view(data).substr(pos, k));
      pos += k;
      step = step * 3 + 1;
    }
    EXPECT_EQ(c.finish_base64(), checksum_base64(a, data)) << checksum_name(a);
    // finish resets: the next value is a fresh one.
    c.update("123456789");
    EXPECT_EQ(c.finish_base64(), checksum_base64(a, "123456789")) << checksum_name(a);
  }
}

TEST(Checksum, DigestSizesMatchOutput) {
  for (auto a : kAll) {
    EXPECT_EQ(base64_decode(checksum_base64(a, "x"))->size(), checksum_digest_size(a)) << checksum_name(a);
  }
}

TEST(Checksum, Names) {
  EXPECT_EQ(parse_checksum_algorithm("CRC32"), checksum_algorithm::crc32);
  EXPECT_EQ(parse_checksum_algorithm("crc32c"), checksum_algorithm::crc32c);
  EXPECT_EQ(parse_checksum_algorithm("Crc64Nvme"), checksum_algorithm::crc64nvme);
  EXPECT_EQ(parse_checksum_algorithm("sha1"), checksum_algorithm::sha1);
  EXPECT_EQ(parse_checksum_algorithm("SHA256"), checksum_algorithm::sha256);
  EXPECT_FALSE(parse_checksum_algorithm("MD5"));
  EXPECT_FALSE(parse_checksum_algorithm(""));
  EXPECT_EQ(checksum_name(checksum_algorithm::crc64nvme), "CRC64NVME");
  EXPECT_EQ(checksum_header(checksum_algorithm::crc32c), "x-amz-checksum-crc32c");
  EXPECT_EQ(checksum_header(checksum_algorithm::sha256), "x-amz-checksum-sha256");
  for (auto a : kAll) EXPECT_EQ(parse_checksum_algorithm(checksum_name(a)), a);
}

}  // namespace
}  // namespace sluice::s3::auth
