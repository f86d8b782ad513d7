#include "base/config.h"

#include <gtest/gtest.h>

namespace sluice::config {

TEST(Config, DefaultsAndOverrides) {
  settings s;
  EXPECT_EQ(s.get("s3.region"), "us-east-1");
  ASSERT_TRUE(s.set("s3.region", "eu-west-1"));
  EXPECT_EQ(s.get("s3.region"), "eu-west-1");
  auto bad = s.set("no.such.key", "1");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(errc::unknown_key));
}

TEST(Config, Families) {
  settings s;
  ASSERT_TRUE(s.set("iam.user.alice", "secret1234"));
  ASSERT_TRUE(s.set("iam.user.bob", "secret5678"));
  auto users = s.family("iam.user.");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users["alice"], "secret1234");
}

TEST(Config, Sizes) {
  EXPECT_EQ(parse_bytes("5MiB").value(), 5u << 20);
  EXPECT_EQ(parse_bytes("1 GiB").value(), 1ull << 30);
  EXPECT_EQ(parse_bytes("4096").value(), 4096u);
  EXPECT_FALSE(parse_bytes("lots"));
  EXPECT_FALSE(parse_bytes("5 parsecs"));
  // Not numbers, or past 2^64 bytes: errors, not exceptions or wrapped sizes.
  for (const char* bad :
       {".", "..", "1.2.3", "1..5MiB", "99999999999999999999", "17179869184 GiB", "1e400"}) {
    EXPECT_FALSE(parse_bytes(bad)) << bad;
  }
  EXPECT_EQ(parse_bytes("1.5KiB").value(), 1536u);
  EXPECT_EQ(parse_bytes("16777215 TiB").value(), 16777215ull << 40);
}

}  // namespace sluice::config

namespace sluice::config {

TEST(Config, EnvironmentBeatsFileAndOverrideBeatsEnvironment) {
  settings s;
  ASSERT_TRUE(s.set("s3.region", "from-file"));
  ::setenv("SLUICE_REGION", "from-env", 1);
  s.apply_env();
  EXPECT_EQ(s.get("s3.region"), "from-env");
  ASSERT_TRUE(s.set("s3.region", "from-override"));
  EXPECT_EQ(s.get("s3.region"), "from-override");
  ::unsetenv("SLUICE_REGION");
}

}  // namespace sluice::config
