#pragma once
// The hash behind a stored body's ETag. MD5 is what S3 clients expect of a
// single-part object (rclone and others compare it with the content's MD5).
// Internal objects whose readers check their own checksums (the stream
// engine's, put_options::md5_etag = false) get an XXH3-128 instead, in the
// same 32-hex-digit form: MD5 is the costliest step of a large PUT on a small
// machine (docs/BENCHMARKS.md), XXH3 runs at memory speed.
//
// update() may run on a helper thread; calls must not overlap.
#include <memory>
#include <string>
#include <string_view>

namespace sluice::objstore {

class etag_hasher {
 public:
  explicit etag_hasher(bool md5);
  etag_hasher(etag_hasher&&) noexcept;
  etag_hasher& operator=(etag_hasher&&) noexcept;
  ~etag_hasher();

  void update(std::string_view data);
  void update(const void* data, size_t n) { update(std::string_view(static_cast<const char*>(data), n)); }
  // Lower-case hex digest of everything updated so far.
  std::string finish_hex();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::objstore
