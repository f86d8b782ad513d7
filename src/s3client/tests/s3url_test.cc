#include "s3client/s3url.h"

#include <gtest/gtest.h>

namespace sluice::s3client {
namespace {

constexpr const char* kFull =
    "s3://s3.us-east-1.amazonaws.com?s3-access-key=AKIA0123&s3-secret-key=abc/def+ghi&s3-region=us-east-1"
    "&s3-endpoint-protocol=https&s3-data-bucket=data-b&s3-path-style=false&s3-ops-bucket=ops-b"
    "&cluster-id=5a0f7d7e-8c2b-4f3c-9d61-2f0c5b7a1e11";

std::string error_of(std::string_view url) {
  auto r = parse_s3url(url);
  EXPECT_FALSE(r) << url;
  if (r) return {};
  EXPECT_TRUE(r.error().is(errc::invalid_argument));
  return r.error().message();
}

TEST(S3Url, ParsesEveryKey) {
  auto r = parse_s3url(kFull);
  ASSERT_TRUE(r) << r.error().message();
  const s3url& u = r.value();
  EXPECT_EQ(u.endpoint, "s3.us-east-1.amazonaws.com");
  EXPECT_EQ(u.access_key, "AKIA0123");
  EXPECT_EQ(u.secret_key, "abc/def+ghi");  // verbatim, as AutoMQ: no percent- or plus-decoding
  EXPECT_EQ(u.region, "us-east-1");
  EXPECT_TRUE(u.https);
  EXPECT_EQ(u.data_bucket, "data-b");
  EXPECT_EQ(u.ops_bucket, "ops-b");
  EXPECT_FALSE(u.path_style);
  EXPECT_EQ(u.cluster_id, "5a0f7d7e-8c2b-4f3c-9d61-2f0c5b7a1e11");
}

TEST(S3Url, FormatsInAutoMqOrderAndRoundTrips) {
  auto u = parse_s3url(kFull).value();
  auto f = format_s3url(u);
  ASSERT_TRUE(f);
  EXPECT_EQ(f.value(), kFull);
  auto again = parse_s3url(f.value());
  ASSERT_TRUE(again);
  EXPECT_EQ(format_s3url(again.value()).value(), kFull);
}

TEST(S3Url, DefaultsAndPort) {
  auto r = parse_s3url("s3://127.0.0.1:9000?s3-access-key=a&s3-secret-key=b&s3-region=r&s3-data-bucket=d");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value().endpoint, "127.0.0.1:9000");
  EXPECT_TRUE(r.value().https);
  EXPECT_FALSE(r.value().path_style);
  EXPECT_TRUE(r.value().ops_bucket.empty());
  EXPECT_TRUE(r.value().cluster_id.empty());
  auto c = to_client_config(r.value());
  ASSERT_TRUE(c);
  EXPECT_EQ(c.value().host, "127.0.0.1");
  EXPECT_EQ(c.value().port, 9000);
  EXPECT_TRUE(c.value().https);
  // Optional empty values are left out when formatting.
  EXPECT_EQ(format_s3url(r.value()).value(),
            "s3://127.0.0.1:9000?s3-access-key=a&s3-secret-key=b&s3-region=r&s3-endpoint-protocol=https"
            "&s3-data-bucket=d&s3-path-style=false");
}

TEST(S3Url, PathStyleAndProtocolValues) {
  auto r = parse_s3url(
      "s3://minio:9000?s3-access-key=a&s3-secret-key=b&s3-region=r&s3-data-bucket=d&s3-path-style=TRUE"
      "&s3-endpoint-protocol=http");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r.value().path_style);
  EXPECT_FALSE(r.value().https);
  EXPECT_NE(error_of("s3://h?s3-access-key=a&s3-secret-key=b&s3-region=r&s3-data-bucket=d&s3-path-style=yes")
                .find("s3-path-style must be true or false"),
            std::string::npos);
  EXPECT_NE(
      error_of("s3://h?s3-access-key=a&s3-secret-key=b&s3-region=r&s3-data-bucket=d&s3-endpoint-protocol=ftp")
          .find("s3-endpoint-protocol must be http or https"),
      std::string::npos);
}

TEST(S3Url, Ipv6Endpoint) {
  auto r = parse_s3url("s3://[::1]:9000?s3-access-key=a&s3-secret-key=b&s3-region=r&s3-data-bucket=d");
  ASSERT_TRUE(r) << r.error().message();
  auto c = to_client_config(r.value()).value();
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 9000);
}

TEST(S3Url, RejectsUnknownRepeatedAndMalformedParameters) {
  const std::string base = "s3://h?s3-access-key=a&s3-secret-key=b&s3-region=r&s3-data-bucket=d";
  EXPECT_NE(error_of(base + "&s3-bucket=x").find("unknown parameter 's3-bucket'"), std::string::npos);
  EXPECT_NE(error_of(base + "&s3-region=again").find("s3-region given twice"), std::string::npos);
  EXPECT_NE(error_of(base + "&cluster-id=a=b").find("not key=value"), std::string::npos);
  EXPECT_NE(error_of(base + "&cluster-id").find("not key=value"), std::string::npos);
  EXPECT_NE(error_of(base + "&").find("not key=value"), std::string::npos);
  EXPECT_NE(error_of(base + "&cluster-id=").find("empty value"), std::string::npos);
  EXPECT_NE(error_of(base + "&=x").find("not key=value"), std::string::npos);
}

TEST(S3Url, RejectsMissingRequiredKeys) {
  std::string m = error_of("s3://h?s3-access-key=a&s3-region=r");
  EXPECT_NE(m.find("missing required parameter(s) s3-secret-key, s3-data-bucket"), std::string::npos) << m;
  EXPECT_NE(error_of("s3://h?s3-secret-key=b&s3-region=r&s3-data-bucket=d").find("s3-access-key"),
            std::string::npos);
}

TEST(S3Url, RejectsBadEndpoints) {
  const std::string q = "?s3-access-key=a&s3-secret-key=b&s3-region=r&s3-data-bucket=d";
  EXPECT_NE(error_of("http://h" + q).find("must start with s3://"), std::string::npos);
  EXPECT_NE(error_of("s3://h").find("no '?'"), std::string::npos);
  EXPECT_NE(error_of("s3://" + q).find("is empty"), std::string::npos);
  EXPECT_NE(error_of("s3://http://h" + q).find("must not carry a scheme"), std::string::npos);
  EXPECT_NE(error_of("s3://h:0" + q).find("bad port"), std::string::npos);
  EXPECT_NE(error_of("s3://h:70000" + q).find("bad port"), std::string::npos);
  EXPECT_NE(error_of("s3://h:" + q).find("empty port"), std::string::npos);
  EXPECT_NE(error_of("s3://h/path" + q).find("host[:port]"), std::string::npos);
  EXPECT_NE(error_of("s3://::1" + q).find("several ':'"), std::string::npos);
  EXPECT_FALSE(parse_s3url(""));
}

TEST(S3Url, FormatRejectsValuesThatWouldNotParse) {
  s3url u;
  u.endpoint = "h:1";
  u.access_key = "a";
  u.secret_key = "b&c";
  u.region = "r";
  u.data_bucket = "d";
  EXPECT_FALSE(format_s3url(u));
  u.secret_key = "b=c";
  EXPECT_FALSE(format_s3url(u));
  u.secret_key = "b";
  EXPECT_TRUE(format_s3url(u));
  u.region.clear();
  EXPECT_FALSE(format_s3url(u));
  u.region = "r";
  u.endpoint = "https://h";
  EXPECT_FALSE(format_s3url(u));
}

}  // namespace
}  // namespace sluice::s3client
