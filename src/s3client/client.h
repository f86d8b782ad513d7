#pragma once
// A blocking S3 client for Sluice's own use (the stream engine's S3 backend,
// `sluice s3url generate`). Requests are signed with SigV4 (header auth, the
// SHA-256 of the body as x-amz-content-sha256) and sent over a small pool of
// keep-alive HTTP/1.1 connections, plain or TLS.
//
// Threading: every method may be called from any number of threads at once;
// each call blocks its thread until the answer (or the last failed attempt).
// At most client_config::max_connections requests are in flight; further
// callers wait up to acquire_timeout for a free connection.
//
// Bounds: every socket wait is bounded by connect_timeout / io_timeout, every
// response body by max_response_bytes, every call by retry.max_attempts.
//
// Retries: network failures, timeouts, refused connections, 500/502/503/504
// and SlowDown are retried with exponential backoff and full jitter, up to
// retry.max_attempts attempts in all (1 = no retries). All operations here
// are safe to repeat except that a repeated CompleteMultipartUpload whose
// first attempt succeeded unseen answers NoSuchUpload, and a repeated
// CreateMultipartUpload may leave an unused upload behind (bucket lifecycle
// rules clean those).
//
// Errors: s3client::errc (errors.h).
//
// With https the process must ignore SIGPIPE (OpenSSL writes with write(2));
// `sluice server` and `sluice s3url` do.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "s3client/errors.h"

namespace sluice::s3client {

struct retry_policy {
  int max_attempts = 4;  // attempts in all, >= 1; 1 disables retries
  std::chrono::milliseconds base_delay{50};
  std::chrono::milliseconds max_delay{2'000};  // cap of one backoff sleep

  static retry_policy none() { return {1, {}, {}}; }
};

struct client_config {
  std::string host;   // endpoint host name or IP, no scheme ("s3.us-east-1.amazonaws.com")
  uint16_t port = 0;  // 0: 443 with https, 80 without
  bool https = false;
  bool verify_tls = true;  // check the server certificate (https only)
  std::string ca_file;     // PEM trust anchors instead of the system store (https + verify)
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  // Path style: http://host/bucket/key. Virtual-host style: http://bucket.host/key.
  bool path_style = true;
  // When set, every connection goes to this host (name or IP) instead of the
  // one derived from the endpoint and bucket; Host header and TLS name stay.
  std::string connect_address;
  std::chrono::milliseconds connect_timeout{10'000};   // TCP connect + TLS handshake
  std::chrono::milliseconds io_timeout{60'000};        // any single socket read/write wait
  std::chrono::milliseconds idle_timeout{20'000};      // pooled connections idle longer are closed
  std::chrono::milliseconds acquire_timeout{120'000};  // wait for a free connection
  size_t max_connections = 16;
  size_t max_response_bytes = 256 << 20;  // GET bodies included
  retry_policy retry;
};

// Byte range of an object: [offset, offset + length); length 0 = to the end.
struct byte_range {
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct put_options {
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> metadata;  // sent as x-amz-meta-<name>
};

struct object_info {
  uint64_t size = 0;  // the whole object's size, also for range reads
  std::string etag;   // as sent, with quotes
  std::string last_modified;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> metadata;  // x-amz-meta-* without the prefix
};

struct object_data {
  std::string data;
  object_info info;
};

struct list_request {
  std::string prefix;
  std::string delimiter;
  std::string continuation_token;
  std::string start_after;
  int max_keys = 1000;  // 1..1000
};

struct list_entry {
  std::string key;
  uint64_t size = 0;
  std::string etag;
  std::string last_modified;
};

struct list_page {
  std::vector<list_entry> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_continuation_token;
};

struct delete_failure {
  std::string key;
  std::string code;
  std::string message;
};

struct delete_result {
  std::vector<std::string> deleted;  // empty in quiet mode
  std::vector<delete_failure> errors;
};

struct completed_part {
  int number = 0;
  std::string etag;
};

// Counters since construction, for tests and metrics.
struct client_stats {
  uint64_t calls = 0;     // operations started
  uint64_t attempts = 0;  // HTTP exchanges tried (calls + retries)
  uint64_t retries = 0;
  uint64_t connects = 0;  // TCP connections opened
};

class client {
 public:
  // Fails with invalid_argument for an unusable configuration (no host, no
  // credentials, bad retry policy) or a TLS trust store that does not load.
  static result<std::unique_ptr<client>> make(client_config cfg);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  const client_config& config() const;
  client_stats stats() const;
  // "http://host:port" as configured.
  std::string endpoint() const;

  result<void> create_bucket(const std::string& bucket);
  result<void> head_bucket(const std::string& bucket);

  // Returns the ETag.
  result<std::string> put_object(const std::string& bucket, const std::string& key, std::string_view data,
                                 const put_options& opts = {});
  // The object, or the range of it. A range starting at or past the end fails
  // with invalid_range; one reaching past the end is cut at the end.
  result<object_data> get_object(const std::string& bucket, const std::string& key,
                                 std::optional<byte_range> range = {});
  result<object_info> head_object(const std::string& bucket, const std::string& key);
  // Deleting a missing key succeeds (S3 semantics).
  result<void> delete_object(const std::string& bucket, const std::string& key);
  // At most 1000 keys per call (the S3 limit). Per-key failures are returned
  // in delete_result::errors, not as an error of the call.
  result<delete_result> delete_objects(const std::string& bucket, const std::vector<std::string>& keys,
                                       bool quiet = false);
  // One page of ListObjectsV2 (keys URL-encoded on the wire, decoded here).
  result<list_page> list_objects_v2(const std::string& bucket, const list_request& req);
  // Every key under prefix, following continuation tokens; fails with
  // response_too_large when there are more than max_keys.
  result<std::vector<list_entry>> list_all(const std::string& bucket, const std::string& prefix,
                                           size_t max_keys = 1'000'000);

  // Returns the upload id.
  result<std::string> create_multipart_upload(const std::string& bucket, const std::string& key,
                                              const put_options& opts = {});
  // part_number 1..10000; returns the part's ETag.
  result<std::string> upload_part(const std::string& bucket, const std::string& key,
                                  const std::string& upload_id, int part_number, std::string_view data);
  // Copies the source object (or range.length bytes of it from range.offset; length must be > 0) as a part.
  result<std::string> upload_part_copy(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id, int part_number,
                                       const std::string& source_bucket, const std::string& source_key,
                                       std::optional<byte_range> range = {});
  // Returns the object's ETag.
  result<std::string> complete_multipart_upload(const std::string& bucket, const std::string& key,
                                                const std::string& upload_id,
                                                const std::vector<completed_part>& parts);
  result<void> abort_multipart_upload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id);

 private:
  struct impl;
  explicit client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::s3client
