// fault_storage: injects failures, lost acks, duplicate writes and latency
// into another object_storage, reproducibly from a seed.
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "stream/storage/object_storage.h"

namespace sluice::stream {

namespace {

enum class op_kind { read, write, put };

// The faults one request meets. Every request draws all three numbers, so
// changing one rate does not move the faults the others produce.
struct draw {
  bool fail_before = false;
  bool fail_after = false;
  bool duplicate = false;
  uint32_t delay_ms = 0;
};

// [0, 1) from 53 random bits: std::uniform_real_distribution differs between
// standard libraries, this does not.
double unit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace

struct fault_storage::impl {
  object_storage& target;
  mutable std::mutex mu;
  fault_plan plan;
  std::mt19937_64 rng;
  std::atomic<uint64_t> injected{0};

  impl(object_storage& t, fault_plan p) : target(t), plan(p), rng(p.seed) {}

  // Draws the request's faults and sleeps its delay (outside the lock).
  draw next(op_kind kind) {
    draw d;
    {
      std::lock_guard lock(mu);
      double a = unit(rng), b = unit(rng), c = unit(rng);
      d.fail_before = a < plan.fail_rate;
      d.fail_after = kind != op_kind::read && b < plan.fail_after_rate;
      d.duplicate = kind == op_kind::put && c < plan.duplicate_rate;
      d.delay_ms = plan.delay_ms;
    }
    if (d.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(d.delay_ms));
    return d;
  }

  auto injected_error(std::string_view what, std::string_view op, const std::string& key) {
    injected.fetch_add(1, std::memory_order_relaxed);
    return fail(errc::storage_error,
                "injected fault: " + std::string(op) + " " + key + " " + std::string(what));
  }
  auto before(std::string_view op, const std::string& key) {
    return injected_error("failed before reaching the target", op, key);
  }
  auto after(std::string_view op, const std::string& key) {
    return injected_error("reached the target, reported failure", op, key);
  }

  class upload;
};

class fault_storage::impl::upload final : public object_upload {
 public:
  upload(impl& f, std::unique_ptr<object_upload> inner, std::string key)
      : f_(f), inner_(std::move(inner)), key_(std::move(key)) {}

  result<void> write_part(std::string_view data) override {
    auto d = f_.next(op_kind::write);
    if (d.fail_before) return f_.before("upload part", key_);
    SLUICE_TRY(inner_->write_part(data));
    if (d.fail_after) return f_.after("upload part", key_);
    return ok();
  }

  result<void> complete() override {
    auto d = f_.next(op_kind::write);
    if (d.fail_before) return f_.before("complete upload", key_);
    SLUICE_TRY(inner_->complete());
    if (d.fail_after) return f_.after("complete upload", key_);
    return ok();
  }

  result<void> abort() override {
    auto d = f_.next(op_kind::read);
    if (d.fail_before) return f_.before("abort upload", key_);
    return inner_->abort();
  }

 private:
  impl& f_;
  std::unique_ptr<object_upload> inner_;  // aborts on destruction unless completed
  std::string key_;
};

fault_storage::fault_storage(object_storage& target, fault_plan plan)
    : impl_(std::make_unique<impl>(target, plan)) {}

fault_storage::~fault_storage() = default;

void fault_storage::set_plan(fault_plan plan) {
  std::lock_guard lock(impl_->mu);
  impl_->plan = plan;
  impl_->rng.seed(plan.seed);
}

uint64_t fault_storage::injected() const {
  return impl_->injected.load(std::memory_order_relaxed);
}

result<void> fault_storage::put(const std::string& key, std::string_view data) {
  auto d = impl_->next(op_kind::put);
  if (d.fail_before) return impl_->before("put", key);
  SLUICE_TRY(impl_->target.put(key, data));
  if (d.duplicate) {
    impl_->injected.fetch_add(1, std::memory_order_relaxed);
    SLUICE_TRY(impl_->target.put(key, data));
  }
  if (d.fail_after) return impl_->after("put", key);
  return ok();
}

result<std::unique_ptr<object_upload>> fault_storage::start_upload(const std::string& key) {
  auto d = impl_->next(op_kind::read);  // creates nothing visible
  if (d.fail_before) return impl_->before("start upload", key);
  SLUICE_TRY(auto inner, impl_->target.start_upload(key));
  return std::unique_ptr<object_upload>(std::make_unique<impl::upload>(*impl_, std::move(inner), key));
}

size_t fault_storage::min_part_size() const {
  return impl_->target.min_part_size();
}

uint64_t fault_storage::single_put_max() const {
  return impl_->target.single_put_max();
}

result<std::string> fault_storage::get(const std::string& key, uint64_t offset, uint64_t length) {
  auto d = impl_->next(op_kind::read);
  if (d.fail_before) return impl_->before("get", key);
  return impl_->target.get(key, offset, length);
}

result<uint64_t> fault_storage::size(const std::string& key) {
  auto d = impl_->next(op_kind::read);
  if (d.fail_before) return impl_->before("size", key);
  return impl_->target.size(key);
}

result<void> fault_storage::remove(const std::vector<std::string>& keys) {
  auto d = impl_->next(op_kind::write);
  std::string what = keys.size() == 1 ? keys[0] : std::to_string(keys.size()) + " keys";
  if (d.fail_before) return impl_->before("remove", what);
  SLUICE_TRY(impl_->target.remove(keys));
  if (d.fail_after) return impl_->after("remove", what);
  return ok();
}

result<std::vector<stored_object>> fault_storage::list(const std::string& prefix) {
  auto d = impl_->next(op_kind::read);
  if (d.fail_before) return impl_->before("list", prefix);
  return impl_->target.list(prefix);
}

std::string fault_storage::describe() const {
  return "faults(" + impl_->target.describe() + ")";
}

}  // namespace sluice::stream
