#pragma once
// `sluice worker image-resize`: for each s3:ObjectCreated event, downloads
// the object, writes one resized image per box to the destination bucket
// under a predictable key (image::output_key), marked with its source.
//
// Per record of an event message:
//   not Put/Post/Copy/CompleteMultipartUpload, a folder marker ("…/"), or an
//     object carrying the worker mark (x-amz-meta-sluice-source-key)   → skipped
//   object or bucket gone (404)                                        → skipped
//   larger than max_input_bytes or max_pixels, not a decodable image   → dead letter
//   S3 unavailable, throttling, timeouts                               → transient
//   other S3 errors (access denied, destination bucket missing, ...)  → failed
//   every output written                                               → done
// Outputs carry user metadata sluice-source-bucket, sluice-source-key
// (url.QueryEscape'd, as in events), sluice-source-etag,
// sluice-source-version-id (when the event named one and its ETag matched),
// sluice-width and sluice-height. Re-processing an event rewrites the same keys.
//
// Memory: at most memory_budget bytes of downloaded objects are held at once
// across all threads (an object larger than the budget is processed alone);
// decoding is bounded by shrink-on-load and streaming (image.h).
//
// Threading: handle() runs on many threads at once.
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "s3client/client.h"
#include "worker/event.h"
#include "worker/handler.h"
#include "worker/image.h"

namespace sluice::worker {

struct image_resize_options {
  std::string dest_bucket = "processed";
  std::string dest_prefix;  // may hold "{bucket}" (the source bucket)
  std::vector<image::box> sizes;
  image::resize_options resize;
  uint64_t max_input_bytes = 128ull << 20;
  uint64_t max_pixels = 150'000'000;
  uint64_t memory_budget = 512ull << 20;
};

// Caps the bytes held by all threads at once. acquire() waits while the
// budget is used up; a request larger than the whole budget is admitted when
// nothing else is held.
class byte_budget {
 public:
  explicit byte_budget(uint64_t capacity) : capacity_(capacity) {}
  // False when `stop` became true while waiting.
  bool acquire(uint64_t n, const std::atomic<bool>& stop);
  void release(uint64_t n);
  uint64_t used() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t capacity_;
  uint64_t used_ = 0;
};

class image_resize_handler final : public handler {
 public:
  image_resize_handler(image_resize_options opts, std::shared_ptr<s3client::client> s3);
  outcome handle(const message& m, int attempt, const std::atomic<bool>& stop) override;
  void thread_exit() override;

  const image_resize_options& options() const { return opts_; }

 private:
  outcome handle_record(const object_event& e, const std::atomic<bool>& stop);

  image_resize_options opts_;
  std::shared_ptr<s3client::client> s3_;
  byte_budget budget_;
};

// What an S3 client error means for a message: the object is gone (skip), a
// retry may help (transient), or not (failed). Shared with `worker exec`.
outcome s3_failure(const error& e, const std::string& what);
// True for a 404 of the object or its bucket.
bool is_gone(const error& e);

}  // namespace sluice::worker
