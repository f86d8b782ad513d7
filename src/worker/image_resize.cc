#include "worker/image_resize.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/encoding.h"
#include "worker/errc.h"

namespace sluice::worker {

namespace {

std::string unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::string mib(uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

// Holds budget bytes for the lifetime of a download.
class budget_hold {
 public:
  budget_hold(byte_budget& b, uint64_t n) : b_(b), n_(n) {}
  ~budget_hold() { b_.release(n_); }
  budget_hold(const budget_hold&) = delete;
  budget_hold& operator=(const budget_hold&) = delete;

 private:
  byte_budget& b_;
  uint64_t n_;
};

}  // namespace

bool byte_budget::acquire(uint64_t n, const std::atomic<bool>& stop) {
  std::unique_lock lk(mu_);
  while (!(used_ == 0 || used_ + n <= capacity_)) {
    if (stop) return false;
    cv_.wait_for(lk, std::chrono::milliseconds(100));
  }
  used_ += n;
  return true;
}

void byte_budget::release(uint64_t n) {
  {
    std::lock_guard lk(mu_);
    used_ -= std::min(used_, n);
  }
  cv_.notify_all();
}

uint64_t byte_budget::used() const {
  std::lock_guard lk(mu_);
  return used_;
}

bool is_gone(const error& e) {
  return e.is(s3client::errc::no_such_key) || e.is(s3client::errc::no_such_bucket);
}

outcome s3_failure(const error& e, const std::string& what) {
  if (is_gone(e)) return outcome::skip(what + ": deleted before processing (" + e.message() + ")");
  if (s3client::is_retryable(e) || e.is(s3client::errc::pool_exhausted))
    return outcome::again(what + ": " + e.message());
  return outcome::failure("s3_error", what + ": " + e.message());
}

image_resize_handler::image_resize_handler(image_resize_options opts, std::shared_ptr<s3client::client> s3)
    : opts_(std::move(opts)), s3_(std::move(s3)), budget_(opts_.memory_budget) {}

void image_resize_handler::thread_exit() {
  image::thread_shutdown();
}

outcome image_resize_handler::handle(const message& m, int, const std::atomic<bool>& stop) {
  return for_each_record(m, [&](const object_event& e) { return handle_record(e, stop); });
}

outcome image_resize_handler::handle_record(const object_event& e, const std::atomic<bool>& stop) {
  const std::string src = e.bucket + "/" + e.key;
  if (!creates_content(e.name)) return outcome::skip(e.name + " does not create content", true);
  if (e.key.ends_with('/')) return outcome::skip(src + " is a folder marker");
  if (has_worker_mark(e.user_metadata)) return outcome::skip(src + " was written by a worker");
  if (e.size && *e.size > opts_.max_input_bytes) {
    return outcome::dead("too_large", fmt::format("{} is {}, above the limit of {}", src, mib(*e.size),
                                                  mib(opts_.max_input_bytes)));
  }
  auto head = s3_->head_object(e.bucket, e.key);
  if (!head) return s3_failure(head.error(), "HEAD " + src);
  if (has_worker_mark(head.value().metadata)) return outcome::skip(src + " was written by a worker");
  if (head.value().size > opts_.max_input_bytes) {
    return outcome::dead("too_large", fmt::format("{} is {}, above the limit of {}", src,
                                                  mib(head.value().size), mib(opts_.max_input_bytes)));
  }
  if (head.value().size == 0) return outcome::dead("undecodable", src + " is empty");

  uint64_t reserve = head.value().size;
  if (!budget_.acquire(reserve, stop)) return outcome::again("stopping");
  budget_hold hold(budget_, reserve);
  if (stop) return outcome::again("stopping");
  auto got = s3_->get_object(e.bucket, e.key);
  if (!got) {
    if (got.error().is(s3client::errc::response_too_large)) {
      return outcome::dead("too_large",
                           fmt::format("{} is above the limit of {}", src, mib(opts_.max_input_bytes)));
    }
    return s3_failure(got.error(), "GET " + src);
  }
  const s3client::object_data& obj = got.value();
  if (has_worker_mark(obj.info.metadata)) return outcome::skip(src + " was written by a worker");

  auto hdr = image::probe(obj.data);
  if (!hdr) return outcome::dead("undecodable", src + ": " + hdr.error().message());
  if (hdr.value().pixels() > opts_.max_pixels) {
    return outcome::dead(
        "too_large",
        fmt::format("{} is {}x{} ({:.1f} megapixels), above the limit of {:.1f} megapixels", src,
                    hdr.value().width, hdr.value().height, static_cast<double>(hdr.value().pixels()) / 1e6,
                    static_cast<double>(opts_.max_pixels) / 1e6));
  }

  std::string etag = unquote(obj.info.etag);
  s3client::put_options put;
  put.content_type = std::string(image::content_type(opts_.resize.output));
  put.metadata = {
      {std::string(kMarkSourceBucket), e.bucket},
      {std::string(kMarkSourceKey), query_escape(e.key)},
      {std::string(kMarkSourceEtag), etag},
  };
  // The event's version is the one processed only when the ETags agree.
  if (!e.version_id.empty() && (e.etag.empty() || e.etag == etag)) {
    put.metadata.emplace_back(std::string(kMarkSourceVersion), e.version_id);
  }
  std::vector<std::string> written;
  outcome result = outcome::ok();
  image::resize_options ro = opts_.resize;
  ro.convert_profile = hdr.value().has_profile;
  for (const image::box& b : opts_.sizes) {
    if (stop) return outcome::again("stopping");
    auto out = image::resize(obj.data, b, ro);
    if (!out) return outcome::dead("undecodable", src + ": " + out.error().message());
    std::string key = image::output_key(opts_.dest_prefix, e.bucket, e.key, b, opts_.resize.output);
    s3client::put_options po = put;
    po.metadata.emplace_back("sluice-width", std::to_string(out.value().width));
    po.metadata.emplace_back("sluice-height", std::to_string(out.value().height));
    auto r = s3_->put_object(opts_.dest_bucket, key, out.value().data, po);
    if (!r) {
      outcome f = s3_failure(r.error(), "PUT " + opts_.dest_bucket + "/" + key);
      // A missing destination bucket is not "the object is gone".
      if (f.what == verdict::skipped) return outcome::failure("s3_error", f.reason);
      return f;
    }
    written.push_back(
        fmt::format("{}/{} {}x{}", opts_.dest_bucket, key, out.value().width, out.value().height));
    ++result.outputs;
  }
  result.detail = fmt::format("{} ({}x{}, {}) -> {}", src, hdr.value().width, hdr.value().height,
                              mib(obj.data.size()), fmt::join(written, ", "));
  return result;
}

}  // namespace sluice::worker
