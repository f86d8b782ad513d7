#pragma once
// Shared by the S3 operation handlers (not part of the module's API).
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "http/server.h"
#include "iam/iam.h"
#include "objstore/object_layer.h"
#include "s3/auth/sigv4.h"
#include "s3/errors.h"
#include "s3/service.h"

namespace sluice::events {
class sink;
struct event_args;
class prepared_events;
}  // namespace sluice::events

namespace sluice::s3 {

struct context {
  const service_options& opts;
  objstore::object_layer& store;
  iam::store& users;
  events::sink* events = nullptr;  // bucket notifications; null: no events, rules cannot name targets
};

struct request {
  http::exchange& ex;
  const http::request_header& h;
  std::string request_id;
  std::string method;
  std::string raw_path;   // as sent, percent-encoded
  std::string raw_query;  // without '?'
  std::string bucket;
  std::string key;
  bool virtual_host = false;  // bucket came from the Host header
  http::fields error_headers;  // added to an error answer (e.g. x-amz-delete-marker)
  std::multimap<std::string, std::string> query;  // decoded
  std::optional<iam::user> user;                  // nullopt: anonymous
  auth::verified_request auth;

  bool has(const std::string& q) const { return query.count(q) > 0; }
  std::string param(const std::string& q) const {
    auto it = query.find(q);
    return it == query.end() ? std::string() : it->second;
  }
  std::string header(std::string_view name) const {
    auto it = h.find(name);
    return it == h.end() ? std::string() : std::string(it->value());
  }
  bool has_header(std::string_view name) const { return h.find(name) != h.end(); }
};

// Sends a 200-class response with headers common to every S3 answer.
void add_common_headers(request& r, http::response& res);
result<void> send_xml(request& r, std::string body, unsigned status = 200);
result<void> send_empty(request& r, unsigned status, http::response res = {});

// Request body helpers.
// The body as a verified source (aws-chunked decoding + digests) for uploads.
class upload_body {
 public:
  static result<std::unique_ptr<upload_body>> open(request& r, const context& c);
  virtual ~upload_body() = default;
  virtual source& stream() = 0;
  // Decoded length when the client declared it.
  virtual std::optional<uint64_t> declared_size() const = 0;
  // After the stream ended: the verified x-amz-checksum (algorithm name, base64), if any.
  virtual std::optional<std::pair<std::string, std::string>> checksum() const = 0;
};
// Reads a small body (XML documents) completely, verified, bounded.
result<std::string> read_small_body(request& r, const context& c);

// Authorisation: may this request's caller do `action` ("s3:GetObject") on the
// bucket (and key)? Root may do anything, a user what concerns its own buckets,
// an anonymous caller what the bucket policy allows. An empty action means
// owner-only (never granted by a policy).
result<objstore::bucket_info> authorize_bucket(request& r, const context& c, const std::string& bucket,
                                               std::string_view action, const std::string& key = {});

// Handlers, one per S3 operation (s3/handlers_*.cc).
result<void> list_buckets(request& r, const context& c);
result<void> create_bucket(request& r, const context& c);
result<void> head_bucket(request& r, const context& c);
result<void> delete_bucket(request& r, const context& c);
result<void> get_bucket_location(request& r, const context& c);
result<void> bucket_subresource(request& r, const context& c);  // versioning, tagging, policy, acl, ...
result<void> list_objects(request& r, const context& c);          // v1 and v2
result<void> list_object_versions(request& r, const context& c);
result<void> delete_objects(request& r, const context& c);
result<void> post_object(request& r, const context& c);

result<void> put_object(request& r, const context& c);
result<void> copy_object(request& r, const context& c);
result<void> get_object(request& r, const context& c);  // GET and HEAD
result<void> delete_object(request& r, const context& c);
result<void> object_tagging(request& r, const context& c);  // PUT/GET/DELETE ?tagging
result<void> object_acl(request& r, const context& c);

result<void> create_multipart_upload(request& r, const context& c);
result<void> upload_part(request& r, const context& c);  // incl. UploadPartCopy
result<void> complete_multipart_upload(request& r, const context& c);
result<void> abort_multipart_upload(request& r, const context& c);
result<void> list_parts(request& r, const context& c);
result<void> list_multipart_uploads(request& r, const context& c);

result<void> admin_api(request& r, const context& c);

// Bucket notifications (s3/handlers_notification.cc).
result<void> bucket_notification(request& r, const context& c);  // PUT/GET ?notification
result<void> listen_notification(request& r, const context& c);  // GET [/bucket]?events=… (a stream)

// Raising events (s3/events.cc). Mutating handlers call admit_events before
// they change anything and publish after the change succeeded, before the
// answer goes out; a failed publish fails the request (the change stays, the
// client retries). Without a sink both are no-ops.
result<void> admit_events(const context& c, const std::string& bucket);
// An event about an object as the operation left it (size, ETag, metadata,
// version). Reads (s3:ObjectAccessed:*) are built only when someone listens;
// content_length is the body length of a GET/HEAD answer.
result<void> publish_object_event(request& r, const context& c, std::string_view name,
                                  const objstore::object_info& info,
                                  std::optional<uint64_t> content_length = std::nullopt);
// The same for a write whose object is final (finalize hook) but not yet
// committed: the event's outbox rows are written while the store commits.
// The handler calls commit_events once the write returned success; a failed
// write drops the handle (null when there is no sink).
result<std::unique_ptr<events::prepared_events>> prepare_object_event(request& r, const context& c,
                                                                      std::string_view name,
                                                                      const objstore::object_info& info);
result<void> commit_events(std::unique_ptr<events::prepared_events>& prepared);
// An event that names only a key (and version): removals, bucket events (empty key).
events::event_args key_event(const request& r, const context& c, std::string_view name,
                             const std::string& key, const std::string& version_id = {});
result<void> publish_events(const context& c, std::span<const events::event_args> events);

// Shared bits.
std::string quote_etag(const std::string& etag);
// Metadata to store from request headers (content headers, x-amz-meta-*); MetadataTooLarge past 2 KiB of user metadata.
result<objstore::metadata_map> metadata_from_headers(const request& r);
// x-amz-tagging header, validated; "" when absent.
result<std::string> tags_from_header(const request& r);
// x-amz-copy-source: "[/]bucket/key[?versionId=v]", percent-encoded.
struct copy_source {
  std::string bucket, key, version_id;
};
result<copy_source> parse_copy_source(const std::string& header);
// x-amz-checksum-<alg> response headers for stored checksums ({"CRC32": base64}).
void checksum_headers(const std::map<std::string, std::string>& checksums, http::response& res);
// Adds stored metadata, ETag, Last-Modified etc. to a GET/HEAD response.
void object_headers(const objstore::object_info& info, http::response& res, bool with_checksums);

}  // namespace sluice::s3
