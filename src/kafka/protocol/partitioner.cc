#include "kafka/protocol/partitioner.h"

namespace sluice::kafka::protocol {

int32_t murmur2(std::string_view data) {
  // Unsigned arithmetic gives Java's wrapping int multiplication; >> on
  // uint32_t is Java's >>>.
  constexpr uint32_t seed = 0x9747b28c, m = 0x5bd1e995;
  constexpr int r = 24;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  uint32_t h = seed ^ static_cast<uint32_t>(n);
  for (size_t i = 0; i + 4 <= n; i += 4) {
    uint32_t k = uint32_t{p[i]} | uint32_t{p[i + 1]} << 8 | uint32_t{p[i + 2]} << 16 | uint32_t{p[i + 3]} << 24;
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const size_t tail = n & ~size_t{3};
  switch (n % 4) {
    case 3:
      h ^= uint32_t{p[tail + 2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t{p[tail + 1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t{p[tail]};
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t partition_for_key(std::string_view key, int32_t partitions) {
  return static_cast<int32_t>((static_cast<uint32_t>(murmur2(key)) & 0x7fffffffu) %
                              static_cast<uint32_t>(partitions));
}

}  // namespace sluice::kafka::protocol
