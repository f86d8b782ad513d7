#include "s3client/errors.h"

#include <gtest/gtest.h>

#include "s3client/internal/xml.h"

namespace sluice::s3client {
namespace {

TEST(Errors, ParsesS3ErrorDocument) {
  auto e = parse_error(404,
                       "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                       "<Message>The specified key does not exist.</Message><Key>a/b</Key>"
                       "<RequestId>4442587FB7D0A2F9</RequestId><HostId>x</HostId></Error>",
                       "HEADER-ID");
  EXPECT_EQ(e.status, 404u);
  EXPECT_EQ(e.code, "NoSuchKey");
  EXPECT_EQ(e.message, "The specified key does not exist.");
  EXPECT_EQ(e.request_id, "4442587FB7D0A2F9");  // the body wins over the header
  EXPECT_EQ(e.resource, "a/b");
  EXPECT_EQ(classify(e), errc::no_such_key);
  auto err = to_error(e);
  EXPECT_TRUE(err.is(errc::no_such_key));
  EXPECT_EQ(err.message(),
            "NoSuchKey: The specified key does not exist. (HTTP 404, request id 4442587FB7D0A2F9)");
}

TEST(Errors, BodylessAnswersAreNamedByStatus) {
  auto e = parse_error(404, "", "RID");
  EXPECT_EQ(e.code, "NotFound");
  EXPECT_EQ(e.request_id, "RID");
  EXPECT_EQ(classify(e), errc::no_such_key);
  EXPECT_EQ(classify(parse_error(403, "")), errc::access_denied);
  EXPECT_EQ(classify(parse_error(503, "")), errc::unavailable);
  EXPECT_EQ(classify(parse_error(500, "")), errc::unavailable);
  EXPECT_EQ(classify(parse_error(429, "")), errc::slow_down);
  EXPECT_EQ(classify(parse_error(400, "")), errc::request_rejected);
  EXPECT_EQ(classify(parse_error(416, "")), errc::invalid_range);
  EXPECT_EQ(classify(parse_error(412, "")), errc::precondition_failed);
}

TEST(Errors, NonXmlBodyIsKeptShortAndSingleLine) {
  auto e = parse_error(502, "<html>\n<body>Bad gateway</body></html>" + std::string(500, 'x'));
  EXPECT_EQ(e.code, "BadGateway");
  EXPECT_EQ(e.message.size(), 200u);
  EXPECT_EQ(e.message.find('\n'), std::string::npos);
  EXPECT_EQ(classify(e), errc::unavailable);
}

TEST(Errors, ClassifiesCodes) {
  auto c = [](const char* code, unsigned status) {
    s3_error e;
    e.code = code;
    e.status = status;
    return classify(e);
  };
  EXPECT_EQ(c("NoSuchBucket", 404), errc::no_such_bucket);
  EXPECT_EQ(c("NoSuchUpload", 404), errc::no_such_upload);
  EXPECT_EQ(c("SignatureDoesNotMatch", 403), errc::invalid_credentials);
  EXPECT_EQ(c("InvalidAccessKeyId", 403), errc::invalid_credentials);
  EXPECT_EQ(c("AccessDenied", 403), errc::access_denied);
  EXPECT_EQ(c("SlowDown", 503), errc::slow_down);
  EXPECT_EQ(c("ServiceUnavailable", 503), errc::unavailable);
  EXPECT_EQ(c("InternalError", 500), errc::unavailable);
  EXPECT_EQ(c("RequestTimeout", 400), errc::timeout);
  EXPECT_EQ(c("BucketAlreadyOwnedByYou", 409), errc::bucket_exists);
  EXPECT_EQ(c("EntityTooSmall", 400), errc::request_rejected);
  EXPECT_EQ(c("NotImplemented", 501), errc::request_rejected);
}

TEST(Errors, Retryable) {
  EXPECT_TRUE(is_retryable(error(errc::slow_down)));
  EXPECT_TRUE(is_retryable(error(errc::unavailable)));
  EXPECT_TRUE(is_retryable(error(errc::timeout)));
  EXPECT_TRUE(is_retryable(error(errc::network)));
  EXPECT_TRUE(is_retryable(error(errc::connection_refused)));
  EXPECT_FALSE(is_retryable(error(errc::no_such_key)));
  EXPECT_FALSE(is_retryable(error(errc::unknown_host)));
  EXPECT_FALSE(is_retryable(error(errc::invalid_credentials)));
  EXPECT_FALSE(is_retryable(error(std::make_error_code(std::errc::timed_out))));  // other categories
}

TEST(Xml, ErrorInsideA200) {
  EXPECT_TRUE(
      internal::is_error_document("<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code></Error>"));
  EXPECT_FALSE(internal::is_error_document(
      "<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>"));
  EXPECT_FALSE(internal::is_error_document("not xml"));
}

TEST(Xml, RequestBodiesEscapeKeys) {
  std::string d = internal::delete_objects_body({"a&b", "<c>"}, true);
  EXPECT_NE(d.find("<Quiet>true</Quiet>"), std::string::npos);
  EXPECT_NE(d.find("<Object><Key>a&amp;b</Key></Object><Object><Key>&lt;c&gt;</Key></Object>"),
            std::string::npos);
  std::string c = internal::complete_multipart_body({{1, "\"e1\""}, {2, "\"e2\""}});
  EXPECT_NE(c.find("<Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part><Part><PartNumber>2</"
                   "PartNumber>"),
            std::string::npos);
  EXPECT_EQ(internal::create_bucket_body("us-east-1"), "");
  EXPECT_NE(
      internal::create_bucket_body("eu-west-1").find("<LocationConstraint>eu-west-1</LocationConstraint>"),
      std::string::npos);
}

TEST(Xml, ParsesListV2WithUrlEncoding) {
  auto r = internal::parse_list_v2(
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
      "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>tok+/=</NextContinuationToken>"
      "<Contents><Key>a+b%2Bc%2F%E2%82%AC</Key><Size>12</Size><ETag>&quot;e&quot;</ETag></Contents>"
      "<CommonPrefixes><Prefix>dir%20x/</Prefix></CommonPrefixes></ListBucketResult>",
      true);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r.value().objects.size(), 1u);
  EXPECT_EQ(r.value().objects[0].key, "a b+c/\xE2\x82\xAC");
  EXPECT_EQ(r.value().objects[0].size, 12u);
  EXPECT_EQ(r.value().objects[0].etag, "\"e\"");
  EXPECT_EQ(r.value().common_prefixes, std::vector<std::string>{"dir x/"});
  EXPECT_TRUE(r.value().truncated);
  EXPECT_EQ(r.value().next_continuation_token, "tok+/=");
}

TEST(Xml, RejectsBrokenDocuments) {
  EXPECT_TRUE(
      internal::parse_list_v2(
          "<ListBucketResult><Contents><Key>a</Key><Size>x</Size></Contents></ListBucketResult>", true)
          .error()
          .is(errc::bad_response));
  EXPECT_TRUE(
      internal::parse_list_v2("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", false)
          .error()
          .is(errc::bad_response));
  EXPECT_TRUE(internal::parse_upload_id("<Other/>").error().is(errc::bad_response));
  EXPECT_TRUE(internal::parse_upload_id("<InitiateMultipartUploadResult/>").error().is(errc::bad_response));
  EXPECT_TRUE(internal::parse_etag("<<").error().is(errc::bad_response));
  auto d = internal::parse_delete_result(
      "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code>"
      "<Message>no</Message></Error></DeleteResult>");
  ASSERT_TRUE(d);
  EXPECT_EQ(d.value().deleted, std::vector<std::string>{"a"});
  ASSERT_EQ(d.value().errors.size(), 1u);
  EXPECT_EQ(d.value().errors[0].code, "AccessDenied");
}

}  // namespace
}  // namespace sluice::s3client
