#include <gtest/gtest.h>

#include "objstore/meta_file.h"
#include "objstore/object_layer.h"

namespace sluice::objstore {

TEST(Names, BucketRules) {
  EXPECT_TRUE(valid_bucket_name("images"));
  EXPECT_TRUE(valid_bucket_name("my-bucket.v2"));
  EXPECT_FALSE(valid_bucket_name("ab"));
  EXPECT_FALSE(valid_bucket_name("Images"));
  EXPECT_FALSE(valid_bucket_name("-abc"));
  EXPECT_FALSE(valid_bucket_name("abc-"));
  EXPECT_FALSE(valid_bucket_name("a..b"));
  EXPECT_FALSE(valid_bucket_name("a.-b"));
  EXPECT_FALSE(valid_bucket_name("192.168.1.1"));
  EXPECT_FALSE(valid_bucket_name(std::string(64, 'a')));
  EXPECT_FALSE(valid_bucket_name("a_b"));
}

TEST(Names, ObjectKeys) {
  EXPECT_FALSE(invalid_object_key("photos/my photo.jpg"));
  EXPECT_FALSE(invalid_object_key("dir/"));
  EXPECT_FALSE(invalid_object_key("\xc3\xa9t\xc3\xa9 100%.txt"));
  EXPECT_TRUE(invalid_object_key(""));
  EXPECT_TRUE(invalid_object_key("../etc/passwd"));
  EXPECT_TRUE(invalid_object_key("a/../../x"));
  EXPECT_TRUE(invalid_object_key("a/./b"));
  EXPECT_TRUE(invalid_object_key("a//b"));
  EXPECT_TRUE(invalid_object_key("/abs"));
  EXPECT_TRUE(invalid_object_key("x/.sluice.meta"));
  EXPECT_TRUE(invalid_object_key(std::string(1025, 'k')));
  EXPECT_TRUE(invalid_object_key("bad\xff"));
}

TEST(MetaFile, RoundTrip) {
  meta_file m;
  stored_version v;
  v.info.size = 5;
  v.info.etag = "abc";
  v.info.metadata["content-type"] = "text/plain";
  v.info.tags = "a=b";
  v.info.checksums["CRC32"] = "AAAAAA==";
  v.inline_data = true;
  m.inline_area = "hello";
  m.versions.push_back(v);
  auto enc = encode_meta(m);
  auto dec = decode_meta(enc);
  ASSERT_TRUE(dec) << dec.error().message();
  ASSERT_EQ(dec.value().versions.size(), 1u);
  EXPECT_EQ(dec.value().versions[0].info.metadata.at("content-type"), "text/plain");
  EXPECT_EQ(dec.value().inline_area, "hello");
  EXPECT_EQ(dec.value().versions[0].info.checksums.at("CRC32"), "AAAAAA==");
}

TEST(MetaFile, RejectsCorruption) {
  EXPECT_FALSE(decode_meta("garbage"));
  meta_file m;
  stored_version v;
  v.info.size = 10;
  v.inline_data = true;
  m.inline_area = "short";
  m.versions.push_back(v);
  EXPECT_FALSE(decode_meta(encode_meta(m)));  // inline area shorter than size
  auto enc = encode_meta(meta_file{{stored_version{}}, ""});
  enc[13] = '!';
  EXPECT_FALSE(decode_meta(enc));
}

}  // namespace sluice::objstore
