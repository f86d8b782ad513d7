#include "worker/event.h"

#include <gtest/gtest.h>

#include "worker/errc.h"

namespace sluice::worker {
namespace {

// The example of ../shared/reference/minio.md §1, as MinIO sends it to Kafka.
constexpr const char* kMinioEvent =
    R"({"EventName":"s3:ObjectCreated:Put","Key":"images/photos/my photo.jpg","Records":[{
 "eventVersion":"2.0","eventSource":"minio:s3","awsRegion":"","eventTime":"2026-01-10T17:41:54.123Z",
 "eventName":"s3:ObjectCreated:Put","userIdentity":{"principalId":"minioadmin"},
 "requestParameters":{"principalId":"minioadmin","region":"","sourceIPAddress":"192.168.56.192"},
 "responseElements":{"x-amz-id-2":"dd90","x-amz-request-id":"15C3249451E12784"},
 "s3":{"s3SchemaVersion":"1.0","configurationId":"Config",
   "bucket":{"name":"images","ownerIdentity":{"principalId":"minioadmin"},"arn":"arn:aws:s3:::images"},
   "object":{"key":"photos%2Fmy+photo.jpg","size":6474,"eTag":"430f89010c77aa34fc8760696da62d08",
     "contentType":"image/jpeg","userMetadata":{"content-type":"image/jpeg","X-Amz-Meta-Foo":"bar"},
     "versionId":"0a7b1f0e-1b7c-4a7e-9a53-0c3f1e0d2b11","sequencer":"18A3F2C4B5D6E7F8"}},
 "source":{"host":"192.168.56.192","port":"","userAgent":"MinIO"}}]})";

TEST(Event, ParsesMinioRecord) {
  auto r = parse_event(kMinioEvent);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r.value().size(), 1u);
  const object_event& e = r.value()[0];
  EXPECT_EQ(e.name, "s3:ObjectCreated:Put");
  EXPECT_EQ(e.bucket, "images");
  EXPECT_EQ(e.key, "photos/my photo.jpg");  // QueryUnescape: %2F → '/', '+' → ' '
  ASSERT_TRUE(e.size);
  EXPECT_EQ(*e.size, 6474u);
  EXPECT_EQ(e.etag, "430f89010c77aa34fc8760696da62d08");
  EXPECT_EQ(e.version_id, "0a7b1f0e-1b7c-4a7e-9a53-0c3f1e0d2b11");
  EXPECT_EQ(e.sequencer, "18A3F2C4B5D6E7F8");
  EXPECT_EQ(e.content_type, "image/jpeg");
  ASSERT_TRUE(e.event_time);
  EXPECT_EQ(format_iso8601(*e.event_time), "2026-01-10T17:41:54.123Z");
  EXPECT_EQ(e.user_metadata.size(), 2u);
  EXPECT_EQ(message_key(e), "images/photos/my photo.jpg");
  EXPECT_FALSE(has_worker_mark(e.user_metadata));
}

TEST(Event, RecordWinsOverEnvelopeKey) {
  // The envelope lies; the record's bucket and key are used.
  auto r = parse_event(
      R"({"EventName":"s3:ObjectCreated:Put","Key":"other/x.jpg","Records":[{"eventName":"s3:ObjectCreated:Copy",)"
      R"("s3":{"bucket":{"name":"b1"},"object":{"key":"a%2Bb%25c.png"}}}]})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value()[0].bucket, "b1");
  EXPECT_EQ(r.value()[0].key, "a+b%c.png");
  EXPECT_EQ(r.value()[0].name, "s3:ObjectCreated:Copy");
  EXPECT_FALSE(r.value()[0].size);  // 0-byte objects have no size (omitempty)
}

TEST(Event, SeveralRecords) {
  auto r = parse_event(
      R"({"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"a"},"object":{"key":"1"}}},)"
      R"({"eventName":"s3:ObjectRemoved:Delete","s3":{"bucket":{"name":"a"},"object":{"key":"2"}}}]})");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r.value().size(), 2u);
  EXPECT_EQ(r.value()[1].name, "s3:ObjectRemoved:Delete");
}

TEST(Event, RejectsWhatIsNotAnEvent) {
  for (const char* bad :
       {"", "not json", "[]", "{}", R"({"Records":[]})", R"({"Records":{}})", R"({"Records":[1]})",
        R"({"Records":[{"eventName":"x"}]})",
        R"({"Records":[{"eventName":"x","s3":{"bucket":{"name":"b"},"object":{}}}]})",
        R"({"Records":[{"eventName":"x","s3":{"bucket":{},"object":{"key":"k"}}}]})",
        R"({"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]})",
        R"({"Records":[{"eventName":"x","s3":{"bucket":{"name":"b"},"object":{"key":"bad%zz"}}}]})"}) {
    auto r = parse_event(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().is(errc::bad_event)) << bad;
  }
  std::string huge(kMaxEventBytes + 1, ' ');
  EXPECT_FALSE(parse_event(huge));
}

TEST(Event, CreatesContent) {
  for (const char* yes : {"s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
                          "s3:ObjectCreated:CompleteMultipartUpload"}) {
    EXPECT_TRUE(creates_content(yes)) << yes;
  }
  for (const char* no :
       {"s3:ObjectCreated:PutTagging", "s3:ObjectCreated:DeleteTagging", "s3:ObjectCreated:PutRetention",
        "s3:ObjectRemoved:Delete", "s3:ObjectAccessed:Get", "s3:ObjectCreated:", "Put"}) {
    EXPECT_FALSE(creates_content(no)) << no;
  }
}

TEST(Event, NameMatches) {
  EXPECT_TRUE(name_matches("s3:ObjectCreated:*", "s3:ObjectCreated:Put"));
  EXPECT_TRUE(name_matches("s3:ObjectRemoved:Delete", "s3:ObjectRemoved:Delete"));
  EXPECT_FALSE(name_matches("s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"));
  EXPECT_FALSE(name_matches("s3:ObjectCreated:Put", "s3:ObjectCreated:Post"));
}

TEST(Event, WorkerMarkInEventsAndHeadAnswers) {
  EXPECT_TRUE(has_worker_mark({{"X-Amz-Meta-Sluice-Source-Key", "images%2Fa.jpg"}}));  // event userMetadata
  EXPECT_TRUE(has_worker_mark({{"sluice-source-key", "a.jpg"}}));                      // HEAD, prefix removed
  EXPECT_TRUE(has_worker_mark({{"content-type", "image/webp"}, {"x-amz-meta-SLUICE-SOURCE-KEY", "a"}}));
  EXPECT_FALSE(has_worker_mark({{"X-Amz-Meta-Sluice-Source-Bucket", "images"}}));
  EXPECT_FALSE(has_worker_mark({{"X-Amz-Meta-Foo", "sluice-source-key"}}));
  EXPECT_FALSE(has_worker_mark({}));
}

}  // namespace
}  // namespace sluice::worker
