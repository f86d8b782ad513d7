#pragma once
// SipHash-2-4 (Aumasson & Bernstein, https://131002.net/siphash/siphash.pdf),
// 64-bit output, the keyed hash MinIO uses to place objects on erasure sets.
// Keyed so that object names cannot be chosen to pile onto one set without
// knowing the deployment id.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sluice::objstore::erasure::internal {

inline uint64_t siphash24(uint64_t k0, uint64_t k1, std::span<const std::byte> m) {
  uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
  auto round = [&] {
    v0 += v1, v1 = std::rotl(v1, 13), v1 ^= v0, v0 = std::rotl(v0, 32);
    v2 += v3, v3 = std::rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = std::rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = std::rotl(v1, 17), v1 ^= v2, v2 = std::rotl(v2, 32);
  };
  auto le64 = [](const std::byte* p, size_t n) {  // little-endian load of n <= 8 bytes
    uint64_t w = 0;
    for (size_t i = 0; i < n; ++i) w |= uint64_t(p[i]) << (8 * i);
    return w;
  };
  const size_t full = m.size() / 8 * 8;
  for (size_t i = 0; i < full; i += 8) {
    const uint64_t w = le64(m.data() + i, 8);
    v3 ^= w, round(), round(), v0 ^= w;
  }
  const uint64_t last = (uint64_t(m.size()) << 56) | le64(m.data() + full, m.size() - full);
  v3 ^= last, round(), round(), v0 ^= last;
  v2 ^= 0xff;
  round(), round(), round(), round();
  return v0 ^ v1 ^ v2 ^ v3;
}

}  // namespace sluice::objstore::erasure::internal
