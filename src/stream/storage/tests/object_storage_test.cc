#include "stream/storage/object_storage.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "base/crypto.h"
#include "objstore/erasure_store.h"
#include "objstore/local_store.h"
#include "stream/storage/internal/local_storage.h"

namespace sluice::stream {
namespace {

namespace stdfs = std::filesystem;

std::string bytes_of(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

std::vector<std::string> keys_of(const std::vector<stored_object>& objs) {
  std::vector<std::string> out;
  for (const auto& o : objs) out.push_back(o.key);
  return out;
}

enum class backend { memory, local, erasure };

std::string backend_name(const ::testing::TestParamInfo<backend>& info) {
  switch (info.param) {
    case backend::memory:
      return "Memory";
    case backend::local:
      return "Local";
    case backend::erasure:
      return "Erasure4";
  }
  return "?";
}

// The same behaviour from every backend (object_storage.h).
class Conformance : public ::testing::TestWithParam<backend> {
 protected:
  void SetUp() override {
    root_ = stdfs::temp_directory_path() / ("sluice-stream-storage-" + random_token(8));
    switch (GetParam()) {
      case backend::memory:
        storage_ = make_memory_storage();
        return;
      case backend::local: {
        auto s = objstore::open_local_store({.root = root_.string()});
        ASSERT_TRUE(s) << s.error().message();
        layer_ = std::move(s).value();
        break;
      }
      case backend::erasure: {
        objstore::erasure_store_options o;
        for (int i = 0; i < 4; ++i) o.drives.push_back((root_ / ("d" + std::to_string(i))).string());
        o.background = false;
        o.drive_check_interval = std::chrono::milliseconds(0);
        auto s = objstore::open_erasure_store(o);
        ASSERT_TRUE(s) << s.error().message();
        layer_ = std::move(s).value();
        break;
      }
    }
    // Small list pages, so listing tests page through the object layer.
    auto st = internal::make_local_storage(*layer_, "stream-data", "sluice", 7);
    ASSERT_TRUE(st) << st.error().message();
    storage_ = std::move(st).value();
  }
  void TearDown() override {
    storage_.reset();
    layer_.reset();
    stdfs::remove_all(root_);
  }

  std::string get(const std::string& key, uint64_t offset = 0, uint64_t length = 0) {
    auto r = storage_->get(key, offset, length);
    return r ? r.value() : "<error:" + r.error().message() + ">";
  }

  // Uploads `parts` through multipart and completes.
  result<void> upload(const std::string& key, const std::vector<std::string>& parts) {
    SLUICE_TRY(auto up, storage_->start_upload(key));
    for (const auto& p : parts) {
      SLUICE_TRY(up->write_part(p));
    }
    return up->complete();
  }

  stdfs::path root_;
  std::unique_ptr<objstore::object_layer> layer_;
  std::unique_ptr<object_storage> storage_;
};

TEST_P(Conformance, PutGetSizeRoundTrip) {
  std::string small = "hello";
  std::string big = bytes_of(300 << 10, 1);  // past the local stores' inline threshold
  ASSERT_TRUE(storage_->put("a/small", small));
  ASSERT_TRUE(storage_->put("a/big", big));
  ASSERT_TRUE(storage_->put("a/empty", ""));
  EXPECT_EQ(get("a/small"), small);
  EXPECT_EQ(get("a/big"), big);
  EXPECT_EQ(get("a/empty"), "");
  EXPECT_EQ(storage_->size("a/big").value(), big.size());
  EXPECT_EQ(storage_->size("a/empty").value(), 0u);
  ASSERT_TRUE(storage_->put("a/small", "replaced"));
  EXPECT_EQ(get("a/small"), "replaced");
  EXPECT_FALSE(storage_->describe().empty());
}

// A source that yields its bytes in uneven short reads, as an object built
// block by block does.
class trickle_source final : public source {
 public:
  explicit trickle_source(std::string_view d) : d_(d) {}
  result<size_t> read(char* buf, size_t n) override {
    size_t k = std::min({n, d_.size(), size_t{1000} + (calls_++ % 7) * 37000});
    std::memcpy(buf, d_.data(), k);
    d_.remove_prefix(k);
    return k;
  }

 private:
  std::string_view d_;
  size_t calls_ = 0;
};

TEST_P(Conformance, StreamedPutsStoreWhatTheSourceYields) {
  for (size_t size : {size_t{0}, size_t{5}, size_t{300} << 10, size_t{3} << 20}) {
    std::string body = bytes_of(size, 3);
    trickle_source src(body);
    ASSERT_TRUE(storage_->put_stream("s/" + std::to_string(size), src, 0, {})) << size;
    EXPECT_EQ(get("s/" + std::to_string(size)), body) << size;
  }
  // Paced: 1 MiB at 2 MiB/s takes the pace's time (all but the last read is due before it).
  std::string body = bytes_of(1 << 20, 4);
  trickle_source src(body);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(storage_->put_stream("s/paced", src, 2 << 20, [] { return false; }));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(get("s/paced"), body);
  if (storage_->streams_puts()) {
    EXPECT_GE(took, std::chrono::milliseconds(300));
  }
}

TEST_P(Conformance, RangedGets) {
  std::string big = bytes_of(1 << 20, 2);
  ASSERT_TRUE(storage_->put("obj", big));
  EXPECT_EQ(get("obj", 0, 10), big.substr(0, 10));
  EXPECT_EQ(get("obj", 12345, 54321), big.substr(12345, 54321));
  EXPECT_EQ(get("obj", 1000), big.substr(1000));                           // length 0: to the end
  EXPECT_EQ(get("obj", big.size() - 5, 100), big.substr(big.size() - 5));  // shorter at the end
  EXPECT_EQ(get("obj", big.size() - 1, 1), big.substr(big.size() - 1));
  EXPECT_EQ(get("obj", big.size(), 10), "");  // at the end: empty
  EXPECT_EQ(get("obj", big.size() + 100, 10), "");
  ASSERT_TRUE(storage_->put("tiny", "abc"));
  EXPECT_EQ(get("tiny", 1, 1), "b");
  EXPECT_EQ(get("tiny", 1, 0), "bc");
}

TEST_P(Conformance, MissingKeysAreObjectNotFound) {
  auto g = storage_->get("nope", 0, 0);
  ASSERT_FALSE(g);
  EXPECT_TRUE(g.error().is(errc::object_not_found)) << g.error().message();
  auto r = storage_->get("nope", 10, 10);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::object_not_found));
  auto s = storage_->size("nope");
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error().is(errc::object_not_found));
}

TEST_P(Conformance, RemoveIgnoresMissingKeys) {
  ASSERT_TRUE(storage_->put("x/1", "1"));
  ASSERT_TRUE(storage_->put("x/2", "2"));
  ASSERT_TRUE(storage_->put("x/3", "3"));
  ASSERT_TRUE(storage_->remove({"x/1", "x/missing", "x/3"}));
  EXPECT_TRUE(storage_->get("x/1", 0, 0).error().is(errc::object_not_found));
  EXPECT_EQ(get("x/2"), "2");
  EXPECT_TRUE(storage_->size("x/3").error().is(errc::object_not_found));
  EXPECT_TRUE(storage_->remove({}));
  EXPECT_TRUE(storage_->remove({"x/missing"}));
}

TEST_P(Conformance, ListsKeysUnderAPrefixInOrder) {
  for (const char* k : {"b/2", "a/1", "b/10", "b/1", "c", "b-x"}) ASSERT_TRUE(storage_->put(k, k));
  auto all = storage_->list("");
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_EQ(keys_of(all.value()), (std::vector<std::string>{"a/1", "b-x", "b/1", "b/10", "b/2", "c"}));
  auto b = storage_->list("b/");
  ASSERT_TRUE(b);
  EXPECT_EQ(keys_of(b.value()), (std::vector<std::string>{"b/1", "b/10", "b/2"}));
  EXPECT_EQ(b.value()[1].size, 4u);
  EXPECT_TRUE(storage_->list("zzz").value().empty());
}

TEST_P(Conformance, ListPagesThroughManyKeys) {
  // Several pages of 7 keys of the object layer, the last one full.
  std::vector<std::string> want;
  for (int i = 0; i < 28; ++i) {
    char k[32];
    std::snprintf(k, sizeof k, "p/%05d", i);
    want.emplace_back(k);
  }
  ASSERT_TRUE(storage_->put("o", "before the prefix"));
  for (const auto& k : want) ASSERT_TRUE(storage_->put(k, "v"));
  ASSERT_TRUE(storage_->put("q", "other prefix"));
  auto l = storage_->list("p/");
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(keys_of(l.value()), want);
}

TEST_P(Conformance, MultipartUploadAssemblesParts) {
  size_t min = storage_->min_part_size();
  EXPECT_EQ(min, 5u << 20);
  std::vector<std::string> parts = {bytes_of(min, 3), bytes_of(min + 7, 4), bytes_of(1000, 5)};
  auto up = storage_->start_upload("mp/obj");
  ASSERT_TRUE(up) << up.error().message();
  for (const auto& p : parts) ASSERT_TRUE(up.value()->write_part(p));
  // Nothing visible before complete().
  EXPECT_TRUE(storage_->size("mp/obj").error().is(errc::object_not_found));
  auto done = up.value()->complete();
  ASSERT_TRUE(done) << done.error().message();
  up.value().reset();  // destroying a completed upload must not remove the object
  std::string whole = parts[0] + parts[1] + parts[2];
  EXPECT_EQ(storage_->size("mp/obj").value(), whole.size());
  EXPECT_EQ(get("mp/obj"), whole);
  EXPECT_EQ(get("mp/obj", min - 10, 20), whole.substr(min - 10, 20));  // across a part boundary
  EXPECT_EQ(get("mp/obj", whole.size() - 1500), whole.substr(whole.size() - 1500));
  EXPECT_EQ(keys_of(storage_->list("mp/").value()), std::vector<std::string>{"mp/obj"});
}

TEST_P(Conformance, SinglePartUploadMayBeSmall) {
  ASSERT_TRUE(upload("one", {"just one small part"}));
  EXPECT_EQ(get("one"), "just one small part");
}

TEST_P(Conformance, SmallPartBeforeTheLastIsRejected) {
  auto r = upload("small-parts", {"tiny", bytes_of(100, 6)});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::storage_error)) << r.error().message();
  EXPECT_TRUE(storage_->size("small-parts").error().is(errc::object_not_found));
}

TEST_P(Conformance, UploadWithoutPartsFails) {
  auto up = storage_->start_upload("empty-upload");
  ASSERT_TRUE(up);
  EXPECT_FALSE(up.value()->complete());
  EXPECT_TRUE(storage_->size("empty-upload").error().is(errc::object_not_found));
}

TEST_P(Conformance, DestroyingAnUploadAbortsIt) {
  {
    auto up = storage_->start_upload("abandoned");
    ASSERT_TRUE(up);
    ASSERT_TRUE(up.value()->write_part(bytes_of(5 << 20, 7)));
  }
  EXPECT_TRUE(storage_->size("abandoned").error().is(errc::object_not_found));
  EXPECT_TRUE(storage_->list("").value().empty());
  auto up = storage_->start_upload("aborted");
  ASSERT_TRUE(up);
  ASSERT_TRUE(up.value()->write_part("x"));
  ASSERT_TRUE(up.value()->abort());
  EXPECT_FALSE(up.value()->write_part("y"));
  EXPECT_FALSE(up.value()->complete());
  EXPECT_TRUE(storage_->size("aborted").error().is(errc::object_not_found));
  if (layer_) {
    // Nothing left behind in the object layer either.
    auto uploads = layer_->list_multipart_uploads("stream-data", {});
    ASSERT_TRUE(uploads) << uploads.error().message();
    EXPECT_TRUE(uploads.value().uploads.empty());
  }
}

TEST_P(Conformance, ConcurrentWritersAndReaders) {
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        std::string data = bytes_of(100 + i, t * 100 + i);
        if (!storage_->put(key, data)) ++errors;
        auto back = storage_->get(key, 0, 0);
        if (!back || back.value() != data) ++errors;
        if (i % 5 == 0 && !storage_->list("t").has_value()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(storage_->list("t").value().size(), 80u);
}

INSTANTIATE_TEST_SUITE_P(Backends, Conformance,
                         ::testing::Values(backend::memory, backend::local, backend::erasure), backend_name);

TEST(LocalStorage, CreatesTheBucketOnceAndReopens) {
  auto root = stdfs::temp_directory_path() / ("sluice-stream-storage-" + random_token(8));
  auto layer = objstore::open_local_store({.root = root.string()});
  ASSERT_TRUE(layer);
  {
    auto s = make_local_storage(*layer.value(), "data", "me");
    ASSERT_TRUE(s) << s.error().message();
    ASSERT_TRUE(s.value()->put("k", "v"));
    EXPECT_EQ(s.value()->describe(), "local:data");
  }
  auto b = layer.value()->bucket("data");
  ASSERT_TRUE(b);
  EXPECT_EQ(b.value().owner, "me");
  auto again = make_local_storage(*layer.value(), "data", "someone-else");
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value()->get("k", 0, 0).value(), "v");
  auto bad = make_local_storage(*layer.value(), "Bad_Bucket", "me");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(errc::storage_error));
  // Object layer errors other than a missing key are storage errors with the layer's message.
  auto invalid = again.value()->put("../escape", "v");
  ASSERT_FALSE(invalid);
  EXPECT_TRUE(invalid.error().is(errc::storage_error));
  EXPECT_NE(invalid.error().message().find("../escape"), std::string::npos);
  layer.value().reset();
  stdfs::remove_all(root);
}

// A target that counts the requests that reach it.
class counting_storage final : public object_storage {
 public:
  result<void> put(const std::string& key, std::string_view data) override {
    ++puts;
    return inner->put(key, data);
  }
  result<std::unique_ptr<object_upload>> start_upload(const std::string& key) override {
    return inner->start_upload(key);
  }
  result<std::string> get(const std::string& key, uint64_t offset, uint64_t length) override {
    ++gets;
    return inner->get(key, offset, length);
  }
  result<uint64_t> size(const std::string& key) override { return inner->size(key); }
  result<void> remove(const std::vector<std::string>& keys) override {
    ++removes;
    return inner->remove(keys);
  }
  result<std::vector<stored_object>> list(const std::string& prefix) override { return inner->list(prefix); }
  std::string describe() const override { return inner->describe(); }

  std::unique_ptr<object_storage> inner = make_memory_storage();
  int puts = 0, gets = 0, removes = 0;
};

TEST(FaultStorage, NoFaultsPassesThrough) {
  counting_storage target;
  fault_storage f(target, {});
  ASSERT_TRUE(f.put("k", "v"));
  EXPECT_EQ(f.get("k").value(), "v");
  EXPECT_EQ(f.get("k", 0, 0).value(), "v");
  EXPECT_EQ(f.size("k").value(), 1u);
  EXPECT_EQ(f.list("").value().size(), 1u);
  ASSERT_TRUE(f.remove({"k"}));
  EXPECT_TRUE(f.get("k").error().is(errc::object_not_found));  // target errors come through unchanged
  EXPECT_EQ(f.injected(), 0u);
  EXPECT_EQ(target.puts, 1);
  EXPECT_EQ(f.describe(), "faults(memory)");
  EXPECT_EQ(f.min_part_size(), target.min_part_size());
}

TEST(FaultStorage, FailBeforeNeverReachesTheTarget) {
  counting_storage target;
  ASSERT_TRUE(target.put("existing", "v"));
  fault_storage f(target, {.fail_rate = 1.0});
  auto p = f.put("k", "v");
  ASSERT_FALSE(p);
  EXPECT_TRUE(p.error().is(errc::storage_error));
  EXPECT_TRUE(p.error().message().starts_with("injected fault"));
  EXPECT_FALSE(f.get("existing"));
  EXPECT_FALSE(f.size("existing"));
  EXPECT_FALSE(f.list(""));
  EXPECT_FALSE(f.remove({"existing"}));
  EXPECT_FALSE(f.start_upload("u"));
  EXPECT_EQ(target.puts, 1);
  EXPECT_EQ(target.gets, 0);
  EXPECT_EQ(target.removes, 0);
  EXPECT_TRUE(target.size("existing"));
  EXPECT_EQ(f.injected(), 6u);
}

TEST(FaultStorage, FailAfterPerformsTheWriteAndReportsFailure) {
  counting_storage target;
  fault_storage f(target, {.fail_after_rate = 1.0});
  auto p = f.put("k", "v");
  ASSERT_FALSE(p);
  EXPECT_TRUE(p.error().is(errc::storage_error));
  EXPECT_EQ(target.get("k", 0, 0).value(), "v");  // the lost ack: the object is there
  EXPECT_EQ(f.get("k").value(), "v");             // reads are not writes
  EXPECT_FALSE(f.remove({"k"}));
  EXPECT_TRUE(target.size("k").error().is(errc::object_not_found));
  EXPECT_EQ(f.injected(), 2u);
}

TEST(FaultStorage, DuplicatePutsReachTheTargetTwice) {
  counting_storage target;
  fault_storage f(target, {.duplicate_rate = 1.0});
  ASSERT_TRUE(f.put("k", "v"));
  EXPECT_EQ(target.puts, 2);
  EXPECT_EQ(f.injected(), 1u);
  EXPECT_EQ(target.get("k", 0, 0).value(), "v");
}

TEST(FaultStorage, DelayIsAddedToEveryRequest) {
  counting_storage target;
  fault_storage f(target, {.delay_ms = 30});
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(f.put("k", "v"));
  ASSERT_TRUE(f.get("k"));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(60));
  EXPECT_EQ(f.injected(), 0u);
}

std::vector<bool> outcomes(uint64_t seed, double rate, int n) {
  counting_storage target;
  fault_storage f(target, {.fail_rate = rate, .seed = seed});
  std::vector<bool> out;
  for (int i = 0; i < n; ++i) out.push_back(f.put("k" + std::to_string(i), "v").has_value());
  return out;
}

TEST(FaultStorage, SameSeedSameFaults) {
  auto a = outcomes(11, 0.5, 1000);
  EXPECT_EQ(a, outcomes(11, 0.5, 1000));
  EXPECT_NE(a, outcomes(12, 0.5, 1000));
  auto ok_count = std::count(a.begin(), a.end(), true);
  EXPECT_GT(ok_count, 400);
  EXPECT_LT(ok_count, 600);
  // A rate change moves only faults of that kind: 0.2 fails a subset of what 0.5 fails.
  auto b = outcomes(11, 0.2, 1000);
  for (size_t i = 0; i < a.size(); ++i) {
    if (!b[i]) {
      EXPECT_FALSE(a[i]) << i;
    }
  }
}

TEST(FaultStorage, SetPlanReseeds) {
  counting_storage target;
  fault_storage f(target, {.fail_rate = 0.5, .seed = 5});
  std::vector<bool> first, second;
  for (int i = 0; i < 100; ++i) first.push_back(f.put("k", "v").has_value());
  f.set_plan({.fail_rate = 0.5, .seed = 5});
  for (int i = 0; i < 100; ++i) second.push_back(f.put("k", "v").has_value());
  EXPECT_EQ(first, second);
  uint64_t before = f.injected();
  f.set_plan({});
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(f.put("k", "v"));
  EXPECT_EQ(f.injected(), before);
}

TEST(FaultStorage, UploadsSeeFaults) {
  counting_storage target;
  fault_storage f(target, {});
  auto up = f.start_upload("mp");
  ASSERT_TRUE(up);
  ASSERT_TRUE(up.value()->write_part("only part"));
  f.set_plan({.fail_after_rate = 1.0});
  auto c = up.value()->complete();
  ASSERT_FALSE(c);  // lost ack of the complete: the object exists
  EXPECT_EQ(target.get("mp", 0, 0).value(), "only part");

  f.set_plan({.fail_rate = 1.0});
  auto up2 = f.start_upload("mp2");
  ASSERT_FALSE(up2);
  f.set_plan({});
  up2 = f.start_upload("mp2");
  ASSERT_TRUE(up2);
  f.set_plan({.fail_rate = 1.0});
  EXPECT_FALSE(up2.value()->write_part("x"));
  EXPECT_FALSE(up2.value()->complete());
  up2.value().reset();  // the inner upload is aborted
  EXPECT_TRUE(target.size("mp2").error().is(errc::object_not_found));
}

TEST(FaultStorage, ThreadSafe) {
  // counting_storage is not thread-safe; the threads share a memory target.
  auto mem = make_memory_storage();
  fault_storage f(*mem, {.fail_rate = 0.3, .fail_after_rate = 0.3, .duplicate_rate = 0.3, .seed = 9});
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (!f.put("k" + std::to_string(t * 1000 + i), "v")) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GT(failures.load(), 0);
  EXPECT_GE(f.injected(), static_cast<uint64_t>(failures.load()));
}

}  // namespace
}  // namespace sluice::stream
