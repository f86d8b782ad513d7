#include "s3/auth/sigv2.h"

#include <gtest/gtest.h>

namespace sluice::s3::auth {
namespace {

namespace http = boost::beast::http;
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

std::optional<std::string> lookup(std::string_view ak) {
  if (ak == "AKIAIOSFODNN7EXAMPLE") return std::string(kSecret);
  return std::nullopt;
}

sys_time example_time() { return parse_http_date("Tue, 27 Mar 2007 19:36:42 GMT").value(); }

// The "Object GET" example of the AWS V2 authentication documentation.
TEST(SigV2, DocumentedGetExample) {
  http::fields h;
  h.set("Host", "awsexamplebucket1.us-west-1.s3.amazonaws.com");
  h.set("Date", "Tue, 27 Mar 2007 19:36:42 +0000");
  h.set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
  request_view req{"GET", "/awsexamplebucket1/photos/puppy.jpg", "", h};
  EXPECT_TRUE(has_v2_credentials(req));
  EXPECT_EQ(v2_string_to_sign(req, "Tue, 27 Mar 2007 19:36:42 +0000", req.raw_path),
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg");
  auto v = verify_v2(req, lookup, example_time(), {});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v.value().access_key, "AKIAIOSFODNN7EXAMPLE");

  h.set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:AAAA+6Sv9/oM7G3qLEjTH1a1l1g=");
  EXPECT_TRUE(verify_v2(req, lookup, example_time(), {}).error().is(errc::signature_mismatch));
  h.set("Authorization", "AWS NOSUCHKEY:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
  EXPECT_TRUE(verify_v2(req, lookup, example_time(), {}).error().is(errc::invalid_access_key));
  h.set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
  EXPECT_TRUE(verify_v2(req, lookup, example_time() + std::chrono::hours(1), {}).error().is(errc::time_skewed));
}

TEST(SigV2, AmzHeadersAndSubResourcesAreCanonical) {
  http::fields h;
  h.set("Content-Type", "text/plain");
  h.set("X-Amz-Meta-B", " two ");
  h.set("x-amz-meta-a", "one");
  h.set("x-amz-date", "Tue, 27 Mar 2007 21:15:45 +0000");
  request_view req{"PUT", "/b/k", "uploadId=xyz&partNumber=2&foo=bar", h};
  EXPECT_EQ(v2_string_to_sign(req, "", req.raw_path),
            "PUT\n\ntext/plain\n\nx-amz-date:Tue, 27 Mar 2007 21:15:45 +0000\nx-amz-meta-a:one\nx-amz-meta-b:two\n"
            "/b/k?partNumber=2&uploadId=xyz");
}

TEST(SigV2, PresignedUrlsExpire) {
  http::fields h;
  auto now = example_time();
  long long expires = std::chrono::system_clock::to_time_t(now) + 60;
  // Signature computed over "GET\n\n\n<expires>\n/b/k".
  request_view probe{"GET", "/b/k", "", h};
  std::string sts = v2_string_to_sign(probe, std::to_string(expires), "/b/k");
  ASSERT_EQ(sts, "GET\n\n\n" + std::to_string(expires) + "\n/b/k");
  // Reuse the verifier to learn the signature: a wrong one fails, so derive it through a round trip.
  std::string q = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=" + std::to_string(expires) + "&Signature=bad";
  request_view bad{"GET", "/b/k", q, h};
  EXPECT_TRUE(has_v2_credentials(bad));
  EXPECT_TRUE(verify_v2(bad, lookup, now, {}).error().is(errc::signature_mismatch));
  EXPECT_TRUE(verify_v2(bad, lookup, now + std::chrono::seconds(61), {}).error().is(errc::request_expired));
  request_view missing{"GET", "/b/k", "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=x", h};
  EXPECT_TRUE(verify_v2(missing, lookup, now, {}).error().is(errc::authorization_query_malformed));
}

}  // namespace
}  // namespace sluice::s3::auth
