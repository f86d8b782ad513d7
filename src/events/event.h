#pragma once
// One bucket event as the S3 front end raises it, and its MinIO wire forms.
//
// The S3 front end fills an event_args after an operation succeeded; the
// notifier routes it by the bucket's rules (rules.h) and hands each matching
// target the bytes built here, which are exactly what MinIO sends
// (../shared/reference/minio.md §1): message value
// {"EventName":…,"Key":"bucket/key","Records":[<one record>]} and message key
// "bucket/key". All JSON produced here is pure ASCII (non-ASCII escaped as
// \uXXXX, surrogate pairs above the BMP).
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::events {

struct event_args {
  std::string name;  // full MinIO name, e.g. "s3:ObjectCreated:Put"
  std::string bucket;
  std::string key;  // raw object name (not escaped)

  // Object fields; for ObjectRemoved:{Delete,DeleteMarkerCreated,NoOP} only
  // key, versionId and sequencer are sent (MinIO's isRemovedEvent).
  std::optional<uint64_t> size;  // omitted when 0 or unknown (MinIO's omitempty)
  std::string etag;              // without quotes
  std::string content_type;
  std::map<std::string, std::string> user_metadata;  // "content-type", "X-Amz-Meta-Foo" as stored
  std::string version_id;                            // empty on unversioned buckets
  // Object modification time, for the sequencer (%X of its Unix nanoseconds);
  // event_time is used when unset.
  std::optional<std::chrono::system_clock::time_point> mod_time;

  // Request fields.
  std::chrono::system_clock::time_point event_time = std::chrono::system_clock::now();
  std::string region;        // awsRegion / requestParameters.region
  std::string principal_id;  // access key; "" when anonymous
  std::string source_ip;     // client address (host only)
  std::string user_agent;
  std::string request_id;    // x-amz-request-id of the S3 answer
  std::string range;         // Range header when the request had one (requestParameters.range)
  std::optional<uint64_t> content_length;  // responseElements.content-length when set
  std::string deployment_id;    // x-minio-deployment-id
  std::string origin_endpoint;  // x-minio-origin-endpoint, e.g. "http://127.0.0.1:9000"
};

// Which form of the object key a record carries: notification targets get
// url.QueryEscape(key) (base/encoding.h query_escape) ('/' → %2F, ' ' → '+'); ListenBucketNotification gets
// the raw key.
enum class key_form { escaped, raw };

// The S3 event record (the element of "Records"), field order as MinIO's.
std::string record_json(const event_args& e, key_form form);
// The Kafka message value / webhook body: {"EventName":…,"Key":"bucket/key","Records":[record]}.
std::string message_value(const event_args& e);
// The Kafka message key: "bucket/key" with the raw key.
std::string message_key(const event_args& e);
// One ListenBucketNotification line: {"Records":[record]} (raw key), no newline.
std::string listen_line(const event_args& e);

}  // namespace sluice::events
