#include "base/crypto.h"

#include <gtest/gtest.h>

#include "base/encoding.h"

namespace sluice {
namespace {

TEST(Crypto, Xxh3_128IsCanonicalBigEndian) {
  // Reference values: XXH3_128bits() high64 then low64, as xxhsum -H2 prints them.
  EXPECT_EQ(to_hex(xxh3_128("")), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(to_hex(xxh3_128("abc")), "06b05ab6733a618578af5f94892f3950");
}

TEST(Crypto, IncrementalHashesMatchOneShot) {
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 ^ (i >> 11));
  for (auto [kind, one_shot] :
       {std::pair{hash_kind::md5, md5(data)}, std::pair{hash_kind::xxh3_128, xxh3_128(data)}}) {
    hasher h(kind);
    for (size_t pos = 0; pos < data.size(); pos += 100'003)
      h.update(std::string_view(data).substr(pos, 100'003));
    EXPECT_EQ(h.finish(), one_shot);
    // finish() resets: the hasher starts over.
    h.update(data);
    EXPECT_EQ(h.finish(), one_shot);
  }
}

}  // namespace
}  // namespace sluice
