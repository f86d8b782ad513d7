#include "s3/auth/sigv4.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/crypto.h"
#include "base/encoding.h"

namespace sluice::s3::auth {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

// The credentials and time of every example in the S3 SigV4 documentation
// (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html,
// sigv4-query-string-auth.html, sigv4-streaming.html).
constexpr std::string_view kAccessKey = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kEmptySha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const sys_time kExampleTime = *parse_amz_date("20130524T000000Z");

secret_lookup example_secrets() {
  return [](std::string_view ak) -> std::optional<std::string> {
    if (ak == kAccessKey) return std::string(kSecret);
    return std::nullopt;
  };
}

std::string example_auth(std::string_view signed_headers, std::string_view signature) {
  return "AWS4-HMAC-SHA256 "
         "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=" +
         std::string(signed_headers) + ",Signature=" + std::string(signature);
}

// The "GET Object" example: first 10 bytes of test.txt.
http::fields get_object_headers(std::string_view signature) {
  http::fields h;
  h.set("Host", "examplebucket.s3.amazonaws.com");
  h.set("Range", "bytes=0-9");
  h.set("x-amz-content-sha256", kEmptySha);
  h.set("x-amz-date", "20130524T000000Z");
  h.set(http::field::authorization, example_auth("host;range;x-amz-content-sha256;x-amz-date", signature));
  return h;
}
constexpr std::string_view kGetObjectSig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

result<verified_request> verify_at(const request_view& r, sys_time now, verify_options opts = {}) {
  return verify(r, example_secrets(), now, opts);
}

// AWS's documented derivation example ("Examples of how to derive a signing
// key for Signature Version 4"), asked for repeatedly and between other
// scopes: the per-thread cache returns the key of the scope asked for, also
// past its size (it is then wiped and refilled).
TEST(SigV4, SigningKeyDerivationAndItsCache) {
  const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  const std::string want = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d";
  EXPECT_EQ(to_hex(derive_signing_key(secret, "20120215", "us-east-1", "iam")), want);
  std::set<std::string> others;
  for (int i = 0; i < 20; ++i) {
    others.insert(derive_signing_key(secret + std::to_string(i), "20120215", "us-east-1", "iam"));
    EXPECT_EQ(to_hex(derive_signing_key(secret, "20120215", "us-east-1", "iam")), want) << i;
  }
  EXPECT_EQ(others.size(), 20u);
  // Each part of the scope counts, including where one part ends.
  EXPECT_NE(derive_signing_key(secret, "20120216", "us-east-1", "iam"),
            derive_signing_key(secret, "20120215", "us-east-1", "iam"));
  EXPECT_NE(derive_signing_key(secret, "20120215", "us-east-2", "iam"),
            derive_signing_key(secret, "20120215", "us-east-1", "iam"));
  EXPECT_NE(derive_signing_key(secret, "20120215", "us-east-1", "s3"),
            derive_signing_key(secret, "20120215", "us-east-1", "iam"));
  EXPECT_NE(derive_signing_key("ab", "c", "us-east-1", "s3"),
            derive_signing_key("a", "bc", "us-east-1", "s3"));
}

TEST(SigV4, AwsGetObjectExample) {
  auto h = get_object_headers(kGetObjectSig);
  request_view r{"GET", "/test.txt", "", h};
  EXPECT_EQ(canonical_request(r, "host;range;x-amz-content-sha256;x-amz-date", kEmptySha, false),
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto v = verify_at(r, kExampleTime);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v.value().access_key, kAccessKey);
  EXPECT_FALSE(v.value().presigned);
  EXPECT_EQ(v.value().mode, payload_mode::signed_hash);
  EXPECT_EQ(v.value().payload_sha256, kEmptySha);
  EXPECT_EQ(v.value().signing.seed_signature, kGetObjectSig);
  EXPECT_EQ(v.value().signing.scope, "20130524/us-east-1/s3/aws4_request");
  EXPECT_EQ(v.value().signing.amz_date, "20130524T000000Z");
}

TEST(SigV4, AwsPutObjectExample) {
  http::fields h;
  h.set("Host", "examplebucket.s3.amazonaws.com");
  h.set("Date", "Fri, 24 May 2013 00:00:00 GMT");
  h.set("x-amz-date", "20130524T000000Z");
  h.set("x-amz-storage-class", "REDUCED_REDUNDANCY");
  h.set("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  h.set(http::field::authorization,
        example_auth("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"));
  // '$' is re-encoded in the canonical URI whether or not the client escaped it.
  for (std::string_view path : {"/test$file.text", "/test%24file.text"}) {
    request_view r{"PUT", path, "", h};
    auto v = verify_at(r, kExampleTime);
    ASSERT_TRUE(v) << path << ": " << v.error().message();
    EXPECT_EQ(v.value().mode, payload_mode::signed_hash);
    EXPECT_EQ(v.value().payload_sha256, sha256_hex("Welcome to Amazon S3."));
  }
}

TEST(SigV4, AwsGetBucketLifecycleAndListObjectsExamples) {
  http::fields h;
  h.set("Host", "examplebucket.s3.amazonaws.com");
  h.set("x-amz-date", "20130524T000000Z");
  h.set("x-amz-content-sha256", kEmptySha);
  h.set(http::field::authorization,
        example_auth("host;x-amz-content-sha256;x-amz-date",
                     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"));
  EXPECT_TRUE(verify_at({"GET", "/", "lifecycle", h}, kExampleTime));

  h.set(http::field::authorization,
        example_auth("host;x-amz-content-sha256;x-amz-date",
                     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
  EXPECT_TRUE(verify_at({"GET", "/", "max-keys=2&prefix=J", h}, kExampleTime));
  // Parameter order on the wire does not matter.
  EXPECT_TRUE(verify_at({"GET", "/", "prefix=J&max-keys=2", h}, kExampleTime));
}

constexpr std::string_view kPresignQuery =
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%"
    "2Faws4_"
    "request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

TEST(SigV4, AwsPresignedExample) {
  http::fields h;
  h.set("Host", "examplebucket.s3.amazonaws.com");
  request_view r{"GET", "/test.txt", kPresignQuery, h};
  EXPECT_TRUE(has_credentials(r));
  auto v = verify_at(r, kExampleTime + 3600s);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v.value().presigned);
  EXPECT_EQ(v.value().mode, payload_mode::unsigned_payload);
  EXPECT_EQ(v.value().access_key, kAccessKey);
  // X-Amz-Security-Token is part of what is signed, so adding it breaks the signature.
  std::string with_token = std::string(kPresignQuery) + "&X-Amz-Security-Token=abc";
  auto t = verify_at({"GET", "/test.txt", with_token, h}, kExampleTime);
  ASSERT_FALSE(t);
  EXPECT_TRUE(t.error().is(errc::signature_mismatch));
}

TEST(SigV4, PresignQueryReproducesAwsExample) {
  sign_input in;
  in.method = "GET";
  in.raw_path = "/test.txt";
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  in.access_key = kAccessKey;
  in.secret_key = kSecret;
  in.now = kExampleTime;
  EXPECT_EQ(presign_query(in, 86400s), kPresignQuery);
}

TEST(SigV4, PresignedExpiryAndNotYetValid) {
  http::fields h;
  h.set("Host", "examplebucket.s3.amazonaws.com");
  request_view r{"GET", "/test.txt", kPresignQuery, h};
  EXPECT_TRUE(verify_at(r, kExampleTime + 86400s));
  auto expired = verify_at(r, kExampleTime + 86401s);
  ASSERT_FALSE(expired);
  EXPECT_TRUE(expired.error().is(errc::request_expired));
  EXPECT_TRUE(verify_at(r, kExampleTime - 899s));  // within skew: clocks differ
  auto early = verify_at(r, kExampleTime - 901s);
  ASSERT_FALSE(early);
  EXPECT_TRUE(early.error().is(errc::request_not_yet_valid));
}

TEST(SigV4, PresignedBadParameters) {
  http::fields h;
  h.set("Host", "h");
  auto check = [&](std::string q, errc want) {
    auto v = verify_at({"GET", "/b/k", q, h}, kExampleTime);
    ASSERT_FALSE(v) << q;
    EXPECT_EQ(v.error().code(), make_error_code(want)) << q << ": " << v.error().message();
  };
  std::string base =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%"
      "2Faws4_"
      "request&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=" +
      std::string(64, '0');
  check(base, errc::authorization_query_malformed);  // no X-Amz-Expires
  check(base + "&X-Amz-Expires=0", errc::authorization_query_malformed);
  check(base + "&X-Amz-Expires=604801", errc::authorization_query_malformed);
  check(base + "&X-Amz-Expires=-5", errc::authorization_query_malformed);
  check(base + "&X-Amz-Expires=60&X-Amz-Expires=60", errc::authorization_query_malformed);
  check(base + "&X-Amz-Expires=60", errc::signature_mismatch);
  check(base + "&X-Amz-Expires=60&X-Amz-Content-Sha256=bogus", errc::invalid_content_sha256);
  std::string v2 = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1&Signature=abc";
  EXPECT_TRUE(has_credentials({"GET", "/b/k", v2, h}));
  check(v2, errc::unsupported_algorithm);
}

TEST(SigV4, HeaderAndPresignTogetherIsRejected) {
  auto h = get_object_headers(kGetObjectSig);
  auto v = verify_at({"GET", "/test.txt", kPresignQuery, h}, kExampleTime);
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(errc::authorization_query_malformed));
}

TEST(SigV4, SignReproducesAwsGetObjectExample) {
  sign_input in;
  in.method = "GET";
  in.raw_path = "/test.txt";
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}};
  in.payload_sha256 = kEmptySha;
  in.access_key = kAccessKey;
  in.secret_key = kSecret;
  in.now = kExampleTime;
  auto out = sign(in);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].first, "Authorization");
  EXPECT_EQ(out[0].second,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=" +
                std::string(kGetObjectSig));
  EXPECT_EQ(out[1], std::make_pair(std::string("x-amz-date"), std::string("20130524T000000Z")));
  EXPECT_EQ(out[2], std::make_pair(std::string("x-amz-content-sha256"), std::string(kEmptySha)));
}

TEST(SigV4, TimeSkew) {
  auto h = get_object_headers(kGetObjectSig);
  request_view r{"GET", "/test.txt", "", h};
  EXPECT_TRUE(verify_at(r, kExampleTime + 14min));
  EXPECT_TRUE(verify_at(r, kExampleTime - 14min));
  for (auto now : {kExampleTime + 16min, kExampleTime - 16min}) {
    auto v = verify_at(r, now);
    ASSERT_FALSE(v);
    EXPECT_TRUE(v.error().is(errc::time_skewed));
  }
  verify_options tight;
  tight.max_skew = 60s;
  EXPECT_FALSE(verify_at(r, kExampleTime + 2min, tight));
}

TEST(SigV4, MissingDateAndHttpDate) {
  http::fields h;
  h.set("Host", "h");
  h.set(http::field::authorization, example_auth("host", std::string(64, '0')));
  auto v = verify_at({"GET", "/b/k", "", h}, kExampleTime);
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(errc::missing_date));

  h.set("Date", "yesterday");
  v = verify_at({"GET", "/b/k", "", h}, kExampleTime);
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(errc::missing_date));

  // Only a Date header, in HTTP format: the string to sign carries it as 20130524T000000Z.
  h.set("Date", "Fri, 24 May 2013 00:00:00 GMT");
  request_view r{"GET", "/b/k", "", h};
  std::string key = derive_signing_key(kSecret, "20130524", "us-east-1", "s3");
  std::string sig =
      to_hex(hmac_sha256(key, string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                                             canonical_request(r, "date;host", kEmptySha, false))));
  h.set(http::field::authorization, example_auth("date;host", sig));
  v = verify_at(r, kExampleTime);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v.value().signing.amz_date, "20130524T000000Z");
}

TEST(SigV4, Region) {
  auto h = get_object_headers(kGetObjectSig);
  request_view r{"GET", "/test.txt", "", h};
  verify_options eu;
  eu.region = "eu-west-1";
  auto v = verify_at(r, kExampleTime, eu);
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(errc::bad_region));
  verify_options any;
  any.region = "";
  EXPECT_TRUE(verify_at(r, kExampleTime, any));
  verify_options us;
  us.region = "US";  // old clients' name for us-east-1
  EXPECT_TRUE(verify_at(r, kExampleTime, us));
}

TEST(SigV4, WrongSecretAndUnknownKey) {
  auto h = get_object_headers(kGetObjectSig);
  request_view r{"GET", "/test.txt", "", h};
  auto wrong = verify(r, [](std::string_view) -> std::optional<std::string> { return "not-the-secret"; },
                      kExampleTime, {});
  ASSERT_FALSE(wrong);
  EXPECT_TRUE(wrong.error().is(errc::signature_mismatch));
  auto unknown = verify(r, [](std::string_view) -> std::optional<std::string> { return std::nullopt; },
                        kExampleTime, {});
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(unknown.error().is(errc::invalid_access_key));
}

TEST(SigV4, TamperedRequestFails) {
  auto h = get_object_headers(kGetObjectSig);
  EXPECT_FALSE(verify_at({"GET", "/test2.txt", "", h}, kExampleTime));
  EXPECT_FALSE(verify_at({"HEAD", "/test.txt", "", h}, kExampleTime));
  EXPECT_FALSE(verify_at({"GET", "/test.txt", "x=1", h}, kExampleTime));
  h.set("Range", "bytes=0-10");
  auto v = verify_at({"GET", "/test.txt", "", h}, kExampleTime);
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(errc::signature_mismatch));
  // Upper-case hex in the supplied signature is the same signature.
  auto h2 = get_object_headers("F0E8BDB87C964420E857BD35B5D6ED310BD44F0170ABA48DD91039C6036BDB41");
  EXPECT_TRUE(verify_at({"GET", "/test.txt", "", h2}, kExampleTime));
}

TEST(SigV4, AuthorizationHeaderParsing) {
  auto check = [](std::string auth, std::optional<errc> want) {
    auto h = get_object_headers(kGetObjectSig);
    h.set(http::field::authorization, auth);
    auto v = verify_at({"GET", "/test.txt", "", h}, kExampleTime);
    if (!want) {
      EXPECT_TRUE(v) << auth << ": " << v.error().message();
    } else {
      ASSERT_FALSE(v) << auth;
      EXPECT_EQ(v.error().code(), make_error_code(*want)) << auth << ": " << v.error().message();
    }
  };
  const std::string cred = "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";
  const std::string sh = "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date";
  const std::string sig = "Signature=" + std::string(kGetObjectSig);
  check("AWS4-HMAC-SHA256 " + cred + "," + sh + "," + sig, std::nullopt);
  check("AWS4-HMAC-SHA256 " + cred + ", " + sh + ",  " + sig, std::nullopt);
  check("AWS4-HMAC-SHA256   " + sig + ", " + cred + ", " + sh + " ", std::nullopt);  // any order
  check("AWS4-HMAC-SHA256 " + cred + "," + sh, errc::authorization_header_malformed);
  check("AWS4-HMAC-SHA256 " + cred + "," + sh + "," + sig + "," + sig, errc::authorization_header_malformed);
  check("AWS4-HMAC-SHA256 " + cred + "," + sh + ",Signature=abc", errc::authorization_header_malformed);
  check("AWS4-HMAC-SHA256 " + cred + "," + sh + "," + sig + ",Foo=bar", errc::authorization_header_malformed);
  check("AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=range;x-amz-date," + sig,
        errc::authorization_header_malformed);
  check("AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host;;range," + sig,
        errc::authorization_header_malformed);
  check("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3," + sh + "," + sig,
        errc::authorization_header_malformed);
  check("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/ec2/aws4_request," + sh + "," +
            sig,
        errc::authorization_header_malformed);
  check(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2013052x/us-east-1/s3/aws4_request," + sh + "," + sig,
      errc::authorization_header_malformed);
  // The scope date must be the request's date.
  check(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130523/us-east-1/s3/aws4_request," + sh + "," + sig,
      errc::authorization_header_malformed);
  check("AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request," + sh + "," + sig,
        errc::authorization_header_malformed);
  check("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", errc::unsupported_algorithm);
  check("AWS4-HMAC-SHA256X " + cred + "," + sh + "," + sig, errc::unsupported_algorithm);
  check("AWS4-ECDSA-P256-SHA256 " + cred + "," + sh + "," + sig, errc::unsupported_algorithm);
  check("", errc::authorization_header_malformed);
  // A signed header the request lacks.
  check("AWS4-HMAC-SHA256 " + cred +
            ",SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-amz-meta-a," + sig,
        errc::authorization_header_malformed);
}

// Signs with sign() and verifies the request as a server would receive it.
result<verified_request> round_trip(sign_input in, http::fields received, std::string_view received_path,
                                    std::string_view received_query) {
  in.access_key = kAccessKey;
  in.secret_key = kSecret;
  in.now = kExampleTime;
  for (const auto& [k, v] : sign(in)) received.set(k, v);
  return verify_at({in.method, received_path, received_query, received}, kExampleTime);
}

TEST(SigV4, HeaderWhitespaceIsFolded) {
  sign_input in;
  in.method = "PUT";
  in.raw_path = "/b/k";
  in.headers = {{"host", "h:9000"}, {"x-amz-meta-note", "a b c"}, {"x-amz-meta-x", "v"}};
  in.payload_sha256 = "UNSIGNED-PAYLOAD";
  http::fields got;
  got.set("Host", "h:9000");
  got.set("X-Amz-Meta-Note", "  a   b \t c  ");
  got.set("x-amz-meta-x", "v");
  auto v = round_trip(in, got, "/b/k", "");
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v.value().mode, payload_mode::unsigned_payload);

  got.set("X-Amz-Meta-Note", "a bc");
  auto bad = round_trip(in, got, "/b/k", "");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(errc::signature_mismatch));
}

TEST(SigV4, RepeatedHeadersAreCommaJoined) {
  http::fields h;
  h.insert("Host", "h");
  h.insert("x-amz-meta-a", " one ");
  h.insert("x-amz-meta-a", "two  three");
  EXPECT_EQ(canonical_request({"GET", "/", "", h}, "host;x-amz-meta-a", "UNSIGNED-PAYLOAD", false),
            "GET\n/\n\nhost:h\nx-amz-meta-a:one,two three\n\nhost;x-amz-meta-a\nUNSIGNED-PAYLOAD");
}

TEST(SigV4, QueryCanonicalisation) {
  http::fields h;
  h.set("Host", "h");
  auto canon_query = [&](std::string_view q, bool presigned = false) {
    std::string c = canonical_request({"GET", "/", q, h}, "host", "UNSIGNED-PAYLOAD", presigned);
    size_t a = c.find('\n', c.find('\n') + 1) + 1;
    return c.substr(a, c.find('\n', a) - a);
  };
  EXPECT_EQ(canon_query(""), "");
  EXPECT_EQ(canon_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(canon_query("uploads"), "uploads=");
  EXPECT_EQ(canon_query("acl&&versionId="), "acl=&versionId=");
  EXPECT_EQ(canon_query("p=%7e%2f%41"), "p=~%2FA");  // unreserved decoded, others upper-case escapes
  EXPECT_EQ(canon_query("p=a b*"), "p=a%20b%2A");
  EXPECT_EQ(canon_query("p=a+b&q=a%2Bb"), "p=a%20b&q=a%2Bb");  // bare '+' is a space (as MinIO/Go)
  EXPECT_EQ(canon_query("%41=1&B=2&a=3"), "A=1&B=2&a=3");      // sorted by encoded name (byte order)
  EXPECT_EQ(canon_query("X-Amz-Signature=abc&x=1", true), "x=1");
  EXPECT_EQ(canon_query("X-Amz-Signature=abc&x=1", false), "X-Amz-Signature=abc&x=1");

  // A client that escapes differently from us still verifies.
  sign_input in;
  in.method = "GET";
  in.raw_path = "/b";
  in.raw_query = "prefix=a%20b%2Fc&list-type=2&delimiter=%2F";
  in.headers = {{"host", "h"}};
  http::fields got;
  got.set("Host", "h");
  EXPECT_TRUE(round_trip(in, got, "/b", "delimiter=/&list-type=2&prefix=a+b/c"));
  EXPECT_FALSE(round_trip(in, got, "/b", "delimiter=/&list-type=2&prefix=a+b/d"));
}

TEST(SigV4, PathCanonicalisation) {
  http::fields h;
  h.set("Host", "h");
  auto canon_path = [&](std::string_view p) {
    std::string c = canonical_request({"GET", p, "", h}, "host", "UNSIGNED-PAYLOAD", false);
    size_t a = c.find('\n') + 1;
    return c.substr(a, c.find('\n', a) - a);
  };
  EXPECT_EQ(canon_path(""), "/");
  EXPECT_EQ(canon_path("/"), "/");
  EXPECT_EQ(canon_path("/b/a b"), "/b/a%20b");
  EXPECT_EQ(canon_path("/b/a%20b"), "/b/a%20b");
  EXPECT_EQ(canon_path("/b/a+b"), "/b/a%2Bb");
  EXPECT_EQ(canon_path("/b/a%2Bb"), "/b/a%2Bb");
  EXPECT_EQ(canon_path("/b/a%2fb"), "/b/a%2Fb");        // an escaped slash stays escaped
  EXPECT_EQ(canon_path("/b//./../k/"), "/b//./../k/");  // S3 does not normalise
  EXPECT_EQ(canon_path("/b/%E2%82%AC~"), "/b/%E2%82%AC~");
  EXPECT_EQ(canon_path("/b/\xe2\x82\xac"), "/b/%E2%82%AC");

  sign_input in;
  in.method = "GET";
  in.raw_path = "/b/dir/a b+c";
  in.headers = {{"host", "h"}};
  http::fields got;
  got.set("Host", "h");
  EXPECT_TRUE(round_trip(in, got, "/b/dir/a%20b%2Bc", ""));
  EXPECT_TRUE(round_trip(in, got, "/b/dir/a%20b+c", ""));
  EXPECT_FALSE(round_trip(in, got, "/b/dir/a%20b%20c", ""));
}

TEST(SigV4, ContentSha256Values) {
  auto mode_of = [](std::optional<std::string> value) -> result<verified_request> {
    sign_input in;
    in.method = "PUT";
    in.raw_path = "/b/k";
    in.headers = {{"host", "h"}};
    in.payload_sha256 = value.value_or("");
    http::fields got;
    got.set("Host", "h");
    in.access_key = kAccessKey;
    in.secret_key = kSecret;
    in.now = kExampleTime;
    for (const auto& [k, v] : sign(in)) got.set(k, v);
    return verify_at({"PUT", "/b/k", "", got}, kExampleTime);
  };
  EXPECT_EQ(mode_of("UNSIGNED-PAYLOAD").value().mode, payload_mode::unsigned_payload);
  EXPECT_EQ(mode_of("STREAMING-AWS4-HMAC-SHA256-PAYLOAD").value().mode, payload_mode::streaming_signed);
  EXPECT_EQ(mode_of("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER").value().mode,
            payload_mode::streaming_signed_trailer);
  EXPECT_EQ(mode_of("STREAMING-UNSIGNED-PAYLOAD-TRAILER").value().mode,
            payload_mode::streaming_unsigned_trailer);
  auto upper = mode_of(to_hex(sha256("x")).substr(0, 60) + "ABCD");
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper.value().mode, payload_mode::signed_hash);
  EXPECT_EQ(upper.value().payload_sha256, to_hex(sha256("x")).substr(0, 60) + "abcd");
  for (const char* bad : {"unsigned-payload", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "abc"}) {
    auto v = mode_of(bad);
    ASSERT_FALSE(v);
    EXPECT_TRUE(v.error().is(errc::invalid_content_sha256)) << bad;
  }
}

TEST(SigV4, MissingContentSha256MeansEmptyBody) {
  // Signed over the empty-body hash, without an x-amz-content-sha256 header.
  http::fields h;
  h.set("Host", "h");
  h.set("x-amz-date", "20130524T000000Z");
  request_view r{"PUT", "/b/k", "", h};
  std::string key = derive_signing_key(kSecret, "20130524", "us-east-1", "s3");
  std::string canonical = canonical_request(r, "host;x-amz-date", kEmptySha, false);
  std::string sig = to_hex(
      hmac_sha256(key, string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", canonical)));
  h.set(http::field::authorization, example_auth("host;x-amz-date", sig));
  auto v = verify_at(r, kExampleTime);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v.value().mode, payload_mode::signed_hash);
  EXPECT_EQ(v.value().payload_sha256, kEmptySha);
}

TEST(SigV4, AwsChunkedUploadSeedSignature) {
  http::fields h;
  h.set("Host", "s3.amazonaws.com");
  h.set("x-amz-date", "20130524T000000Z");
  h.set("x-amz-storage-class", "REDUCED_REDUNDANCY");
  h.set("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
  h.set("Content-Encoding", "aws-chunked");
  h.set("x-amz-decoded-content-length", "66560");
  h.set("Content-Length", "66824");
  h.set(http::field::authorization,
        example_auth(
            "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-"
            "length;x-amz-storage-class",
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"));
  auto v = verify_at({"PUT", "/examplebucket/chunkObject.txt", "", h}, kExampleTime);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v.value().mode, payload_mode::streaming_signed);
  const auto& ctx = v.value().signing;
  EXPECT_EQ(ctx.seed_signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  EXPECT_EQ(ctx.signing_key, derive_signing_key(kSecret, "20130524", "us-east-1", "s3"));
  // The published chunk signatures, chained from the seed.
  std::string s1 = chunk_signature(ctx, ctx.seed_signature, std::string(65536, 'a'));
  EXPECT_EQ(s1, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
  std::string s2 = chunk_signature(ctx, s1, std::string(1024, 'a'));
  EXPECT_EQ(s2, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
  EXPECT_EQ(chunk_signature(ctx, s2, ""), "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
}

TEST(SigV4, AnonymousRequests) {
  http::fields h;
  h.set("Host", "h");
  request_view r{"GET", "/b/k", "versionId=1&x-id=GetObject", h};
  EXPECT_FALSE(has_credentials(r));
  auto v = verify_at(r, kExampleTime);
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(errc::missing_security_header));
  h.set(http::field::authorization, "AWS4-HMAC-SHA256 junk");
  EXPECT_TRUE(has_credentials(r));
}

TEST(SigV4, ErrorCategoryNamesEveryCode) {
  for (int c = 1; c <= static_cast<int>(errc::policy_violation); ++c) {
    EXPECT_EQ(std::string(category().message(c)).find("s3auth error"), std::string::npos) << c;
  }
}

}  // namespace
}  // namespace sluice::s3::auth
