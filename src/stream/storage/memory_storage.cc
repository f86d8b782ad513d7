// object_storage in a map: for tests and the engine's unit tests.
#include <map>
#include <mutex>

#include "stream/storage/object_storage.h"

namespace sluice::stream {

namespace {

constexpr size_t kMinPartSize = 5 << 20;
constexpr size_t kMaxParts = 10000;

// Shared with uploads, so an upload that outlives its storage stays harmless.
struct memory_state {
  std::mutex mu;
  std::map<std::string, std::string, std::less<>> objects;
};

class memory_upload final : public object_upload {
 public:
  memory_upload(std::shared_ptr<memory_state> state, std::string key)
      : state_(std::move(state)), key_(std::move(key)) {}

  result<void> write_part(std::string_view data) override {
    if (done_) return fail(errc::storage_error, "memory: upload of " + key_ + " already finished");
    if (parts_.size() >= kMaxParts)
      return fail(errc::storage_error, "memory: more than 10000 parts for " + key_);
    parts_.emplace_back(data);
    return ok();
  }

  result<void> complete() override {
    if (done_) return fail(errc::storage_error, "memory: upload of " + key_ + " already finished");
    if (parts_.empty()) return fail(errc::storage_error, "memory: upload of " + key_ + " has no parts");
    std::string whole;
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (i + 1 < parts_.size() && parts_[i].size() < kMinPartSize) {
        return fail(errc::storage_error,
                    "memory: part " + std::to_string(i + 1) + " of " + key_ + " is smaller than 5 MiB");
      }
      whole += parts_[i];
    }
    {
      std::lock_guard lock(state_->mu);
      state_->objects[key_] = std::move(whole);
    }
    done_ = true;
    parts_.clear();
    return ok();
  }

  result<void> abort() override {
    done_ = true;
    parts_.clear();
    return ok();
  }

 private:
  std::shared_ptr<memory_state> state_;
  std::string key_;
  std::vector<std::string> parts_;
  bool done_ = false;
};

class memory_storage final : public object_storage {
 public:
  result<void> put(const std::string& key, std::string_view data) override {
    std::lock_guard lock(state_->mu);
    state_->objects[key] = std::string(data);
    return ok();
  }

  result<std::unique_ptr<object_upload>> start_upload(const std::string& key) override {
    return std::unique_ptr<object_upload>(std::make_unique<memory_upload>(state_, key));
  }

  size_t min_part_size() const override { return kMinPartSize; }

  result<std::string> get(const std::string& key, uint64_t offset, uint64_t length) override {
    std::lock_guard lock(state_->mu);
    auto it = state_->objects.find(key);
    if (it == state_->objects.end()) return fail(errc::object_not_found, "memory: " + key + " not found");
    const std::string& data = it->second;
    if (offset >= data.size()) return std::string();
    return data.substr(offset, length == 0 ? std::string::npos : length);
  }

  result<uint64_t> size(const std::string& key) override {
    std::lock_guard lock(state_->mu);
    auto it = state_->objects.find(key);
    if (it == state_->objects.end()) return fail(errc::object_not_found, "memory: " + key + " not found");
    return uint64_t{it->second.size()};
  }

  result<void> remove(const std::vector<std::string>& keys) override {
    std::lock_guard lock(state_->mu);
    for (const auto& k : keys) state_->objects.erase(k);
    return ok();
  }

  result<std::vector<stored_object>> list(const std::string& prefix) override {
    std::lock_guard lock(state_->mu);
    std::vector<stored_object> out;
    for (auto it = state_->objects.lower_bound(prefix);
         it != state_->objects.end() && it->first.starts_with(prefix); ++it) {
      out.push_back({it->first, it->second.size()});
    }
    return out;
  }

  std::string describe() const override { return "memory"; }

 private:
  std::shared_ptr<memory_state> state_ = std::make_shared<memory_state>();
};

}  // namespace

std::unique_ptr<object_storage> make_memory_storage() {
  return std::make_unique<memory_storage>();
}

}  // namespace sluice::stream
