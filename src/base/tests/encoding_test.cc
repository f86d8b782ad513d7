#include "base/encoding.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/crypto.h"

namespace sluice {

TEST(Encoding, HexRoundTrip) {
  EXPECT_EQ(to_hex(std::string_view("\x01\xab\xff", 3)), "01abff");
  EXPECT_EQ(*from_hex("01ABff"), std::string("\x01\xab\xff", 3));
  EXPECT_FALSE(from_hex("0g"));
  EXPECT_FALSE(from_hex("abc"));
}

TEST(Encoding, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(*base64_decode("Zg=="), "f");
  EXPECT_EQ(*base64_decode("Zm8="), "fo");
  EXPECT_EQ(*base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_FALSE(base64_decode("Zm9"));
  EXPECT_FALSE(base64_decode("Zm9v!!!!"));
}

TEST(Encoding, UriEncodeFollowsSigV4) {
  EXPECT_EQ(uri_encode("a b/c~d*e"), "a%20b%2Fc~d%2Ae");
  EXPECT_EQ(uri_encode("a b/c", false), "a%20b/c");
  EXPECT_EQ(uri_encode("\xc3\xa9"), "%C3%A9");
}

TEST(Encoding, UriDecode) {
  EXPECT_EQ(*uri_decode("a%20b+c"), "a b+c");
  EXPECT_EQ(*uri_decode("a%20b+c", true), "a b c");
  EXPECT_FALSE(uri_decode("%2"));
  EXPECT_FALSE(uri_decode("%zz"));
  EXPECT_FALSE(uri_decode("abc%"));
}

TEST(Encoding, QueryEscapeMatchesGo) {
  EXPECT_EQ(query_escape("photos/my photo.jpg"), "photos%2Fmy+photo.jpg");
  EXPECT_EQ(query_escape("a b/c+d&e=f?g#h%i~j_k-l.m"), "a+b%2Fc%2Bd%26e%3Df%3Fg%23h%25i~j_k-l.m");
  EXPECT_EQ(query_escape("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(query_escape(""), "");
}

TEST(Encoding, Utf8) {
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9llo"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
}

TEST(Crypto, KnownDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  // RFC 4231 test case 2.
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 4231 test case 6: a key longer than the block is hashed first.
  EXPECT_EQ(
      to_hex(hmac_sha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // An empty key is a key of zeros, not "the previous key" (the context is reused per thread).
  EXPECT_EQ(to_hex(hmac_sha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // The same context from several threads at once.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")) !=
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
          ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Crypto, RandomTokensDiffer) {
  auto a = random_token(20), b = random_token(20);
  EXPECT_EQ(a.size(), 20u);
  EXPECT_NE(a, b);
  EXPECT_EQ(uuid_v4().size(), 36u);
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
}

}  // namespace sluice
