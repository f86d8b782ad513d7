#pragma once
// Bucket events as workers read them from Kafka, in MinIO's format
// (../shared/reference/minio.md §1): the message value is
//   {"EventName":…,"Key":"bucket/key","Records":[{…"s3":{"bucket":{"name":…},
//    "object":{"key":<url.QueryEscape(key)>,"size","eTag","versionId","sequencer"}}}]}
// Only the records are trusted: the bucket and key come from each record's
// s3.bucket.name and s3.object.key (query-unescaped), never from the envelope's
// "Key", which is ambiguous for bucket names and keys holding '/'.
//
// Also here: which events a worker acts on, and the mark that makes a worker
// skip the objects workers wrote themselves (loop avoidance).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/time.h"

namespace sluice::worker {

// One record of an event message.
struct object_event {
  std::string name;    // "s3:ObjectCreated:Put"
  std::string bucket;  // s3.bucket.name
  std::string key;     // s3.object.key, query-unescaped (the raw object name)
  std::optional<uint64_t> size;
  std::string etag;  // without quotes
  std::string version_id;
  std::string sequencer;
  std::string content_type;
  std::optional<sys_time> event_time;
  // userMetadata as sent: "content-type", "X-Amz-Meta-Foo", ...
  std::vector<std::pair<std::string, std::string>> user_metadata;
};

// Bounds of what parse_event accepts (a value larger than a Kafka message
// default is suspicious, more records than this are not MinIO's).
inline constexpr size_t kMaxEventBytes = 1 << 20;
inline constexpr size_t kMaxRecords = 100;

// Every record of one message value; errc::bad_event when the value is not
// JSON, has no records, or a record lacks its bucket name or object key or
// holds a malformed key escape.
result<std::vector<object_event>> parse_event(std::string_view value);

// MinIO's "bucket/key" message key of a record.
std::string message_key(const object_event& e);

// True for the s3:ObjectCreated:* events that (re)write an object's bytes:
// Put, Post, Copy, CompleteMultipartUpload. Tagging, retention and legal-hold
// changes also belong to ObjectCreated:* but leave the bytes alone.
bool creates_content(std::string_view event_name);

// Matches an event name against a pattern: exact, or "s3:ObjectCreated:*"-style.
bool name_matches(std::string_view pattern, std::string_view event_name);

// The mark workers put on what they write: user metadata
// x-amz-meta-sluice-source-key (and -bucket, -etag, -version-id). An object
// carrying it is never processed, so a worker writing into the bucket it
// listens to does not loop.
inline constexpr std::string_view kMarkSourceBucket = "sluice-source-bucket";
inline constexpr std::string_view kMarkSourceKey = "sluice-source-key";
inline constexpr std::string_view kMarkSourceEtag = "sluice-source-etag";
inline constexpr std::string_view kMarkSourceVersion = "sluice-source-version-id";

// True when metadata (names with or without the "x-amz-meta-" prefix, any
// case, as events and HEAD answers spell them) carries the mark.
bool has_worker_mark(const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace sluice::worker
