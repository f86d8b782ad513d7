#include "events/event.h"

#include <gtest/gtest.h>

#include "base/time.h"

namespace sluice::events {
namespace {

// The example of ../shared/reference/minio.md §1, field for field.
event_args put_event() {
  event_args e;
  e.name = "s3:ObjectCreated:Put";
  e.bucket = "images";
  e.key = "photos/my photo.jpg";
  e.size = 6474;
  e.etag = "430f89010c77aa34fc8760696da62d08";
  e.content_type = "image/jpeg";
  e.user_metadata = {{"content-type", "image/jpeg"}, {"X-Amz-Meta-Foo", "bar"}};
  e.version_id = "0a7b1f0e-1b7c-4a7e-9a53-0c3f1e0d2b11";
  e.mod_time = from_unix_nanos(0x18A3F2C4B5D6E7F8);
  // Sub-millisecond digits are cut, not rounded (Go's time.Format).
  e.event_time = *parse_iso8601("2026-01-10T17:41:54.123Z") + std::chrono::microseconds(987);
  e.region = "";
  e.principal_id = "minioadmin";
  e.source_ip = "192.168.56.192";
  e.user_agent = "MinIO (linux; amd64) minio-go/v7.0.70 mc/RELEASE";
  e.request_id = "15C3249451E12784";
  e.deployment_id = "751a8ba6-acb2-42f6-a297-4cdf1cf1fa4f";
  e.origin_endpoint = "http://192.168.97.83:9000";
  return e;
}

std::string expected_record(const std::string& key) {
  return R"({"eventVersion":"2.0","eventSource":"minio:s3","awsRegion":"","eventTime":"2026-01-10T17:41:54.123Z",)"
         R"("eventName":"s3:ObjectCreated:Put","userIdentity":{"principalId":"minioadmin"},)"
         R"("requestParameters":{"principalId":"minioadmin","region":"","sourceIPAddress":"192.168.56.192"},)"
         R"("responseElements":{"x-amz-id-2":"15C3249451E12784","x-amz-request-id":"15C3249451E12784",)"
         R"("x-minio-deployment-id":"751a8ba6-acb2-42f6-a297-4cdf1cf1fa4f",)"
         R"("x-minio-origin-endpoint":"http://192.168.97.83:9000"},)"
         R"("s3":{"s3SchemaVersion":"1.0","configurationId":"Config",)"
         R"("bucket":{"name":"images","ownerIdentity":{"principalId":"minioadmin"},"arn":"arn:aws:s3:::images"},)"
         R"("object":{"key":")" +
         key +
         R"(","size":6474,"eTag":"430f89010c77aa34fc8760696da62d08",)"
         R"("contentType":"image/jpeg","userMetadata":{"X-Amz-Meta-Foo":"bar","content-type":"image/jpeg"},)"
         R"("versionId":"0a7b1f0e-1b7c-4a7e-9a53-0c3f1e0d2b11","sequencer":"18A3F2C4B5D6E7F8"}},)"
         R"("source":{"host":"192.168.56.192","port":"","userAgent":"MinIO (linux; amd64) minio-go/v7.0.70 mc/RELEASE"}})";
}

bool ascii_only(const std::string& s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

TEST(EventJson, PutRecordIsMinIOs) {
  EXPECT_EQ(record_json(put_event(), key_form::escaped), expected_record("photos%2Fmy+photo.jpg"));
  EXPECT_EQ(record_json(put_event(), key_form::raw), expected_record("photos/my photo.jpg"));
}

TEST(EventJson, MessageValueKeyAndListenLine) {
  auto e = put_event();
  EXPECT_EQ(message_key(e), "images/photos/my photo.jpg");
  EXPECT_EQ(message_value(e),
            R"({"EventName":"s3:ObjectCreated:Put","Key":"images/photos/my photo.jpg","Records":[)" +
                expected_record("photos%2Fmy+photo.jpg") + "]}");
  EXPECT_EQ(listen_line(e), R"({"Records":[)" + expected_record("photos/my photo.jpg") + "]}");
}

TEST(EventJson, NonAsciiIsEscaped) {
  auto e = put_event();
  e.key = "caf\xc3\xa9/\xe2\x82\xac \xf0\x9f\x98\x80.jpg";  // café/€ 😀.jpg
  e.user_metadata = {{"X-Amz-Meta-Note", "na\xc3\xafve"}};
  std::string raw = record_json(e, key_form::raw);
  EXPECT_TRUE(ascii_only(raw));
  EXPECT_NE(raw.find(R"("key":"caf\u00e9/\u20ac \ud83d\ude00.jpg")"), std::string::npos) << raw;
  EXPECT_NE(raw.find(R"("X-Amz-Meta-Note":"na\u00efve")"), std::string::npos) << raw;
  std::string value = message_value(e);
  EXPECT_TRUE(ascii_only(value));
  EXPECT_NE(value.find(R"("key":"caf%C3%A9%2F%E2%82%AC+%F0%9F%98%80.jpg")"), std::string::npos) << value;
  EXPECT_NE(value.find(R"("Key":"images/caf\u00e9/\u20ac \ud83d\ude00.jpg")"), std::string::npos) << value;
}

TEST(EventJson, SpecialCharactersAsGoEscapesThem) {
  auto e = put_event();
  e.user_agent = "q\"b\\n\n r\r t\t b\b f\f c\x01 <>& del\x7f";
  std::string raw = record_json(e, key_form::raw);
  EXPECT_NE(raw.find(R"("userAgent":"q\"b\\n\n r\r t\t b\b f\f c\u0001 \u003c\u003e\u0026 del)"
                     "\x7f\"}"),
            std::string::npos)
      << raw;
}

TEST(EventJson, InvalidUtf8BecomesReplacementCharacter) {
  auto e = put_event();
  // A stray continuation byte, an overlong '/', a surrogate, a truncated sequence: one U+FFFD per bad byte.
  e.user_agent =
      "a\x80"
      "b\xc0\xaf"
      "c\xed\xa0\x80"
      "d\xe2\x82";
  std::string raw = record_json(e, key_form::raw);
  EXPECT_NE(raw.find(R"("userAgent":"a\ufffdb\ufffd\ufffdc\ufffd\ufffd\ufffdd\ufffd\ufffd")"),
            std::string::npos)
      << raw;
}

TEST(EventJson, RemovedEventsCarryNoSizeEtagTypeOrMetadata) {
  for (const char* name :
       {"s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRemoved:NoOP"}) {
    auto e = put_event();
    e.name = name;
    std::string raw = record_json(e, key_form::escaped);
    EXPECT_NE(
        raw.find(R"("object":{"key":"photos%2Fmy+photo.jpg",)"
                 R"("versionId":"0a7b1f0e-1b7c-4a7e-9a53-0c3f1e0d2b11","sequencer":"18A3F2C4B5D6E7F8"})"),
        std::string::npos)
        << raw;
  }
}

TEST(EventJson, EmptyFieldsAreOmittedAsGoOmitempty) {
  event_args e;
  e.name = "s3:ObjectCreated:Put";
  e.bucket = "b";
  e.key = "empty";
  e.size = 0;
  e.event_time = from_unix_nanos(0x1234ABCD);
  std::string raw = record_json(e, key_form::escaped);
  EXPECT_NE(raw.find(R"("object":{"key":"empty","sequencer":"1234ABCD"})"), std::string::npos) << raw;
  EXPECT_NE(raw.find(R"("eventTime":"1970-01-01T00:00:00.305Z")"), std::string::npos) << raw;
}

TEST(EventJson, RangeAndContentLength) {
  auto e = put_event();
  e.name = "s3:ObjectAccessed:Get";
  e.range = "bytes=0-99";
  e.content_length = 100;
  std::string raw = record_json(e, key_form::escaped);
  EXPECT_NE(raw.find(R"("requestParameters":{"principalId":"minioadmin","range":"bytes=0-99","region":"",)"),
            std::string::npos)
      << raw;
  EXPECT_NE(raw.find(R"("responseElements":{"content-length":"100","x-amz-id-2":)"), std::string::npos)
      << raw;
}

}  // namespace
}  // namespace sluice::events
