#include "iam/policy.h"

#include <gtest/gtest.h>

namespace sluice::iam {

TEST(Policy, PublicDownload) {
  // What `mc anonymous set download` writes.
  auto p = parse_bucket_policy(R"({"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetBucketLocation","s3:ListBucket"],"Resource":["arn:aws:s3:::processed"]},
    {"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::processed/*"]}]})",
                               "processed");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(allows_anonymous(p.value(), "s3:GetObject", "arn:aws:s3:::processed/a/b.jpg"));
  EXPECT_TRUE(allows_anonymous(p.value(), "s3:ListBucket", "arn:aws:s3:::processed"));
  EXPECT_FALSE(allows_anonymous(p.value(), "s3:PutObject", "arn:aws:s3:::processed/a"));
  EXPECT_FALSE(allows_anonymous(p.value(), "s3:DeleteObject", "arn:aws:s3:::processed/a"));
}

TEST(Policy, DenyWinsAndConditionsDoNotGrant) {
  auto p = parse_bucket_policy(R"({"Statement":[
    {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
    {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"},
    {"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"1.2.3.4/32"}}}]})",
                               "b");
  ASSERT_TRUE(p);
  EXPECT_TRUE(allows_anonymous(p.value(), "s3:GetObject", "arn:aws:s3:::b/public.txt"));
  EXPECT_FALSE(allows_anonymous(p.value(), "s3:GetObject", "arn:aws:s3:::b/secret/x"));
  EXPECT_FALSE(allows_anonymous(p.value(), "s3:PutObject", "arn:aws:s3:::b/x"));
}

TEST(Policy, Validation) {
  EXPECT_FALSE(parse_bucket_policy("not json", "b"));
  EXPECT_FALSE(parse_bucket_policy(R"({"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b"}]})", "b"));
  EXPECT_FALSE(parse_bucket_policy(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::other/*"}]})", "b"));
  EXPECT_FALSE(parse_bucket_policy(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:*","Resource":"arn:aws:s3:::b"}]})", "b"));
}

}  // namespace sluice::iam
