#include "s3client/s3_object_storage.h"

namespace sluice::s3client {

namespace {

constexpr size_t kDeleteBatch = 1000;  // DeleteObjects limit
constexpr int kMaxParts = 10'000;      // S3 multipart limit

error to_stream_error(const error& e, const std::string& where) {
  auto code = e.is(errc::no_such_key) ? stream::errc::object_not_found : stream::errc::storage_error;
  return error(code, where + ": " + e.message());
}

class s3_upload final : public stream::object_upload {
 public:
  s3_upload(client& c, std::string bucket, std::string key, std::string upload_id, std::string where)
      : c_(c),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        upload_id_(std::move(upload_id)),
        where_(std::move(where)) {}

  ~s3_upload() override {
    if (!finished_) (void)abort();
  }

  result<void> write_part(std::string_view data) override {
    SLUICE_TRY(check_open());
    if (parts_.size() >= kMaxParts) {
      return fail(stream::errc::storage_error,
                  where_ + ": more than " + std::to_string(kMaxParts) + " parts");
    }
    int number = static_cast<int>(parts_.size()) + 1;
    auto etag = c_.upload_part(bucket_, key_, upload_id_, number, data);
    if (!etag) return fail(to_stream_error(etag.error(), where_));
    parts_.push_back({number, std::move(etag).value()});
    return ok();
  }

  result<void> complete() override {
    SLUICE_TRY(check_open());
    if (parts_.empty()) {
      SLUICE_TRY(write_part({}));  // S3 needs one part; an empty last part is allowed
    }
    auto r = c_.complete_multipart_upload(bucket_, key_, upload_id_, parts_);
    if (!r) return fail(to_stream_error(r.error(), where_));
    finished_ = true;
    return ok();
  }

  result<void> abort() override {
    if (finished_) return ok();
    finished_ = true;
    auto r = c_.abort_multipart_upload(bucket_, key_, upload_id_);
    if (!r && !r.error().is(errc::no_such_upload)) return fail(to_stream_error(r.error(), where_));
    return ok();
  }

 private:
  result<void> check_open() const {
    if (finished_) return fail(stream::errc::bad_argument, where_ + ": upload already completed or aborted");
    return ok();
  }

  client& c_;
  std::string bucket_, key_, upload_id_, where_;
  std::vector<completed_part> parts_;
  bool finished_ = false;
};

class s3_storage final : public stream::object_storage {
 public:
  s3_storage(std::unique_ptr<client> c, std::string bucket) : c_(std::move(c)), bucket_(std::move(bucket)) {
    std::string ep = c_->endpoint();
    describe_ = "s3://" + ep.substr(ep.find("://") + 3) + "/" + bucket_;
  }

  result<void> put(const std::string& key, std::string_view data) override {
    auto r = c_->put_object(bucket_, key, data);
    if (!r) return fail(to_stream_error(r.error(), where(key)));
    return ok();
  }

  result<std::unique_ptr<stream::object_upload>> start_upload(const std::string& key) override {
    auto id = c_->create_multipart_upload(bucket_, key);
    if (!id) return fail(to_stream_error(id.error(), where(key)));
    return std::unique_ptr<stream::object_upload>(
        std::make_unique<s3_upload>(*c_, bucket_, key, std::move(id).value(), where(key)));
  }

  result<std::string> get(const std::string& key, uint64_t offset, uint64_t length) override {
    std::optional<byte_range> range;
    if (offset > 0 || length > 0) range = byte_range{offset, length};
    auto r = c_->get_object(bucket_, key, range);
    if (!r && range && r.error().is(errc::invalid_range)) return std::string();
    if (!r) return fail(to_stream_error(r.error(), where(key)));
    return std::move(r.value().data);
  }

  result<uint64_t> size(const std::string& key) override {
    auto r = c_->head_object(bucket_, key);
    if (!r) return fail(to_stream_error(r.error(), where(key)));
    return r.value().size;
  }

  result<void> remove(const std::vector<std::string>& keys) override {
    for (size_t i = 0; i < keys.size(); i += kDeleteBatch) {
      std::vector<std::string> batch(keys.begin() + i,
                                     keys.begin() + std::min(keys.size(), i + kDeleteBatch));
      if (!batch_delete_unsupported_.load(std::memory_order_relaxed)) {
        auto r = c_->delete_objects(bucket_, batch, true);
        if (r) {
          if (!r.value().errors.empty()) {
            const auto& f = r.value().errors.front();
            return fail(stream::errc::storage_error, where(f.key) + ": " + f.code + ": " + f.message + " (" +
                                                         std::to_string(r.value().errors.size()) +
                                                         " keys not deleted)");
          }
          continue;
        }
        if (!r.error().message().starts_with("NotImplemented"))
          return fail(to_stream_error(r.error(), describe_));
        batch_delete_unsupported_.store(true, std::memory_order_relaxed);
      }
      for (const auto& k : batch) {
        auto r = c_->delete_object(bucket_, k);
        if (!r) return fail(to_stream_error(r.error(), where(k)));
      }
    }
    return ok();
  }

  result<std::vector<stream::stored_object>> list(const std::string& prefix) override {
    auto r = c_->list_all(bucket_, prefix, kMaxListKeys);
    if (!r) return fail(to_stream_error(r.error(), describe_ + " list " + prefix));
    std::vector<stream::stored_object> out;
    out.reserve(r.value().size());
    for (auto& e : r.value()) out.push_back({std::move(e.key), e.size});
    return out;
  }

  std::string describe() const override { return describe_; }

 private:
  std::string where(const std::string& key) const { return describe_ + "/" + key; }

  std::unique_ptr<client> c_;
  std::string bucket_;
  std::string describe_;
  std::atomic<bool> batch_delete_unsupported_{false};
};

}  // namespace

result<std::unique_ptr<stream::object_storage>> make_s3_storage(client_config cfg, std::string bucket) {
  auto c = client::make(std::move(cfg));
  if (!c) return fail(stream::errc::bad_argument, "s3 storage: " + c.error().message());
  if (auto r = c.value()->head_bucket(bucket); !r) {
    return fail(to_stream_error(r.error(), "s3 storage " + c.value()->endpoint() + " bucket " + bucket));
  }
  return std::unique_ptr<stream::object_storage>(std::make_unique<s3_storage>(std::move(c).value(), bucket));
}

}  // namespace sluice::s3client
