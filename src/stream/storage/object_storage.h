#pragma once
// Where stream objects live: one bucket of an object store. Implementations:
// the in-process object layer (no HTTP hop), any S3 endpoint through
// s3client, memory (tests) and a fault-injecting wrapper (tests).
//
// All methods are blocking and thread-safe. Errors are stream::errc values:
// object_not_found for a missing key, storage_error otherwise (with the
// backend's message), after the backend's own retries.
//
// Durability: when put() or object_upload::complete() returns ok, the whole
// object is durable in the backend and readable by every later get(). A
// failed or abandoned write leaves the key as it was, or (when the error came
// after the backend committed, e.g. a lost response) holding the complete new
// object; never a partial one.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/source.h"
#include "stream/types.h"

namespace sluice::objstore {
class object_layer;
}

namespace sluice::stream {

struct stored_object {
  std::string key;
  uint64_t size = 0;
};

// A multipart upload in progress. Parts are at least min_part_size() bytes
// except the last (checked by complete()). Nothing is visible under the key
// until complete() returns ok. Destroying it without a successful complete()
// aborts the upload (best effort: errors are dropped; the backend's own
// cleanup of stale uploads catches what is left). One thread at a time; it
// must not outlive the object_storage that started it.
class object_upload {
 public:
  virtual ~object_upload() = default;
  virtual result<void> write_part(std::string_view data) = 0;
  virtual result<void> complete() = 0;
  virtual result<void> abort() = 0;
};

class object_storage {
 public:
  virtual ~object_storage() = default;

  virtual result<void> put(const std::string& key, std::string_view data) = 0;
  // Whether put_stream() writes the object as it reads it (the in-process
  // object layer). The engine then streams objects out of a buffer of about
  // one block; otherwise it builds each object in memory and calls put() or
  // start_upload().
  virtual bool streams_puts() const { return false; }
  // The object `body` yields (its size not known up front), its bytes taken no
  // faster than bytes_per_sec (0 = no limit) while hurry() is false
  // (paced_source, base/source.h): the engine's uploads to a store on the
  // WAL's own disk spread their writes out so the WAL's flushes do not queue
  // behind them. This default reads the body whole, then put()s it.
  virtual result<void> put_stream(const std::string& key, source& body, uint64_t bytes_per_sec,
                                  const std::function<bool()>& hurry) {
    (void)bytes_per_sec, (void)hurry;
    SLUICE_TRY(auto all, read_all(body, SIZE_MAX, error(errc::storage_error, "object too large")));
    return put(key, all);
  }
  virtual result<std::unique_ptr<object_upload>> start_upload(const std::string& key) = 0;
  virtual size_t min_part_size() const { return 5 << 20; }
  // Objects up to this size are written with one put() even when larger than
  // the engine's part_bytes (0: part_bytes decides). The in-process object
  // layer has no request to amortize or retry: one put of any size.
  virtual uint64_t single_put_max() const { return 0; }
  // Bytes [offset, offset + length) of the object; shorter at its end, empty
  // when offset >= size. length 0 = to the end.
  virtual result<std::string> get(const std::string& key, uint64_t offset = 0, uint64_t length = 0) = 0;
  virtual result<uint64_t> size(const std::string& key) = 0;
  // Removes keys; missing keys are not an error.
  virtual result<void> remove(const std::vector<std::string>& keys) = 0;
  // Keys under prefix, in byte order (for recovery scans, orphan cleanup and
  // tests). Completes the listing (pages through the backend) before returning.
  virtual result<std::vector<stored_object>> list(const std::string& prefix) = 0;
  // Human description for logs and `admin info`: "local:bucket", "s3://host/bucket".
  virtual std::string describe() const = 0;
};

// Objects in a bucket of the in-process object layer (created if missing,
// owned by `owner`). `layer` must outlive the storage. min_part_size() is the
// S3 minimum the local stores enforce (objstore::kMinPartSize, 5 MiB).
result<std::unique_ptr<object_storage>> make_local_storage(objstore::object_layer& layer, std::string bucket,
                                                           std::string owner);
// Objects in a map (tests). Same rules as S3: parts of at least 5 MiB except
// the last, nothing visible before complete().
std::unique_ptr<object_storage> make_memory_storage();

// Wraps another storage and injects faults (tests). Every request draws three
// numbers from one std::mt19937_64 seeded with plan.seed (under a mutex), so
// the same sequence of requests meets the same faults whatever the rates.
// Writes are put, write_part, complete and remove; abort() and reads only see
// fail_rate and delay_ms. Injected errors are errc::storage_error with a
// message starting "injected fault". `target` must outlive the wrapper, and
// the wrapper every upload it started.
struct fault_plan {
  double fail_rate =
      0;  // fraction of requests answered with storage_error (503-like) before reaching the target
  double fail_after_rate = 0;  // fraction of writes that reach the target but report failure (lost ack)
  double duplicate_rate = 0;   // fraction of puts performed twice
  uint32_t delay_ms = 0;       // added to every request
  uint64_t seed = 1;
};
class fault_storage : public object_storage {
 public:
  fault_storage(object_storage& target, fault_plan plan);
  ~fault_storage() override;
  void set_plan(fault_plan plan);  // also reseeds with plan.seed
  uint64_t injected() const;       // faults injected so far (failures and duplicates; not delays)
  // object_storage
  result<void> put(const std::string& key, std::string_view data) override;
  result<std::unique_ptr<object_upload>> start_upload(const std::string& key) override;
  size_t min_part_size() const override;
  uint64_t single_put_max() const override;
  result<std::string> get(const std::string& key, uint64_t offset = 0, uint64_t length = 0) override;
  result<uint64_t> size(const std::string& key) override;
  result<void> remove(const std::vector<std::string>& keys) override;
  result<std::vector<stored_object>> list(const std::string& prefix) override;
  std::string describe() const override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::stream
