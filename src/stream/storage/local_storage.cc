// object_storage over the in-process object layer (local_store or
// erasure_store): the same code path as the S3 front end, without HTTP.
#include "stream/storage/internal/local_storage.h"

#include "objstore/object_layer.h"
#include "stream/storage/object_storage.h"

namespace sluice::stream {

namespace {

// The only translation from objstore errors to stream errors: a missing key
// keeps its meaning, everything else is the storage failing.
error translate(const error& e, const std::string& bucket, std::string_view op, const std::string& key) {
  std::string msg = "local:" + bucket + ": " + std::string(op) + " " + key + ": " + e.message();
  if (e.is(objstore::errc::object_not_found)) return error(errc::object_not_found, std::move(msg));
  return error(errc::storage_error, std::move(msg));
}

class local_upload final : public object_upload {
 public:
  local_upload(objstore::object_layer& layer, std::string bucket, std::string key, std::string upload_id)
      : layer_(layer), bucket_(std::move(bucket)), key_(std::move(key)), upload_id_(std::move(upload_id)) {}

  ~local_upload() override {
    if (!done_) (void)layer_.abort_multipart_upload(bucket_, key_, upload_id_);
  }

  result<void> write_part(std::string_view data) override {
    if (done_)
      return fail(errc::storage_error, "local:" + bucket_ + ": upload of " + key_ + " already finished");
    int number = static_cast<int>(parts_.size()) + 1;
    if (number > objstore::kMaxPartNumber) {
      return fail(errc::storage_error, "local:" + bucket_ + ": more than 10000 parts for " + key_);
    }
    memory_source src(data);
    auto part = layer_.put_object_part(bucket_, key_, upload_id_, number, src, data.size(), {});
    if (!part) return fail(translate(part.error(), bucket_, "upload part", key_));
    parts_.push_back({number, part.value().etag});
    return ok();
  }

  result<void> complete() override {
    if (done_)
      return fail(errc::storage_error, "local:" + bucket_ + ": upload of " + key_ + " already finished");
    auto r = layer_.complete_multipart_upload(bucket_, key_, upload_id_, parts_);
    if (!r) return fail(translate(r.error(), bucket_, "complete upload", key_));
    done_ = true;
    return ok();
  }

  result<void> abort() override {
    if (done_) return ok();
    auto r = layer_.abort_multipart_upload(bucket_, key_, upload_id_);
    if (!r && !r.error().is(objstore::errc::upload_not_found)) {
      return fail(translate(r.error(), bucket_, "abort upload", key_));
    }
    done_ = true;
    return ok();
  }

 private:
  objstore::object_layer& layer_;
  std::string bucket_;
  std::string key_;
  std::string upload_id_;
  std::vector<objstore::completed_part> parts_;
  bool done_ = false;  // completed or aborted: nothing left to clean up
};

class local_storage final : public object_storage {
 public:
  local_storage(objstore::object_layer& layer, std::string bucket, std::string owner, int list_page_keys)
      : layer_(layer),
        bucket_(std::move(bucket)),
        owner_(std::move(owner)),
        list_page_keys_(list_page_keys) {}

  result<void> put(const std::string& key, std::string_view data) override {
    memory_source src(data);
    objstore::put_options o;
    o.size = data.size();
    o.owner = owner_;
    o.md5_etag = false;  // blocks and index carry their own CRCs; skip the MD5
    auto r = layer_.put_object(bucket_, key, src, std::move(o));
    if (!r) return fail(translate(r.error(), bucket_, "put", key));
    return ok();
  }

  bool streams_puts() const override { return true; }

  result<void> put_stream(const std::string& key, source& body, uint64_t bytes_per_sec,
                          const std::function<bool()>& hurry) override {
    paced_source src(body, bytes_per_sec, hurry);
    objstore::put_options o;  // size unknown: the layer takes what the source yields
    o.owner = owner_;
    o.md5_etag = false;
    auto r = layer_.put_object(bucket_, key, src, std::move(o));
    if (!r) return fail(translate(r.error(), bucket_, "put", key));
    return ok();
  }

  result<std::unique_ptr<object_upload>> start_upload(const std::string& key) override {
    objstore::put_options o;
    o.owner = owner_;
    auto id = layer_.new_multipart_upload(bucket_, key, std::move(o));
    if (!id) return fail(translate(id.error(), bucket_, "start upload", key));
    return std::unique_ptr<object_upload>(
        std::make_unique<local_upload>(layer_, bucket_, key, std::move(id).value()));
  }

  size_t min_part_size() const override { return objstore::kMinPartSize; }
  uint64_t single_put_max() const override { return UINT64_MAX; }

  result<std::string> get(const std::string& key, uint64_t offset, uint64_t length) override {
    // One open: the range is set after seeing the size, so "shorter at the end" needs no extra stat.
    auto opened = layer_.get_object(bucket_, key, {});
    if (!opened) return fail(translate(opened.error(), bucket_, "get", key));
    objstore::object_reader& reader = *opened.value();
    uint64_t size = reader.info().size;
    if (offset >= size) return std::string();
    uint64_t n = length == 0 ? size - offset : std::min(length, size - offset);
    if (n != size) {
      if (auto r = reader.set_range(offset, n); !r) return fail(translate(r.error(), bucket_, "get", key));
    }
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      auto k = reader.read(out.data() + got, n - got);
      if (!k) return fail(translate(k.error(), bucket_, "get", key));
      if (k.value() == 0) break;
      got += k.value();
    }
    if (got != n) {
      return fail(errc::storage_error, "local:" + bucket_ + ": get " + key + ": object ended after " +
                                           std::to_string(got) + " of " + std::to_string(n) + " bytes");
    }
    return out;
  }

  result<uint64_t> size(const std::string& key) override {
    auto r = layer_.stat_object(bucket_, key);
    if (!r) return fail(translate(r.error(), bucket_, "stat", key));
    return r.value().size;
  }

  result<void> remove(const std::vector<std::string>& keys) override {
    // The object layer has no batch delete; each delete is durable when it returns.
    for (const auto& k : keys) {
      auto r = layer_.delete_object(bucket_, k);
      if (!r && !r.error().is(objstore::errc::object_not_found)) {
        return fail(translate(r.error(), bucket_, "delete", k));
      }
    }
    return ok();
  }

  result<std::vector<stored_object>> list(const std::string& prefix) override {
    std::vector<stored_object> out;
    objstore::list_options o;
    o.prefix = prefix;
    o.max_keys = list_page_keys_;
    for (;;) {
      auto page = layer_.list_objects(bucket_, o);
      if (!page) return fail(translate(page.error(), bucket_, "list", prefix));
      for (auto& obj : page.value().objects) out.push_back({std::move(obj.key), obj.size});
      if (!page.value().truncated) break;
      std::string next = !page.value().next_marker.empty() ? page.value().next_marker
                         : out.empty()                     ? std::string()
                                                           : out.back().key;
      if (next.empty() || next <= o.marker) {
        return fail(errc::storage_error,
                    "local:" + bucket_ + ": list " + prefix + ": listing does not advance");
      }
      o.marker = std::move(next);
    }
    return out;
  }

  std::string describe() const override { return "local:" + bucket_; }

 private:
  objstore::object_layer& layer_;
  std::string bucket_;
  std::string owner_;
  int list_page_keys_;
};

}  // namespace

namespace internal {

result<std::unique_ptr<object_storage>> make_local_storage(objstore::object_layer& layer, std::string bucket,
                                                           std::string owner, int list_page_keys) {
  auto b = layer.bucket(bucket);
  if (!b) {
    if (!b.error().is(objstore::errc::bucket_not_found)) {
      return fail(errc::storage_error, "local:" + bucket + ": " + b.error().message());
    }
    auto made = layer.make_bucket(bucket, owner);
    if (!made && !made.error().is(objstore::errc::bucket_exists)) {  // bucket_exists: lost a race, fine
      return fail(errc::storage_error, "local:" + bucket + ": create bucket: " + made.error().message());
    }
  }
  return std::unique_ptr<object_storage>(std::make_unique<local_storage>(
      layer, std::move(bucket), std::move(owner), std::max(list_page_keys, 1)));
}

}  // namespace internal

result<std::unique_ptr<object_storage>> make_local_storage(objstore::object_layer& layer, std::string bucket,
                                                           std::string owner) {
  return internal::make_local_storage(layer, std::move(bucket), std::move(owner), 1000);
}

}  // namespace sluice::stream
