#include "objstore/local_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/fs.h"
#include "objstore/internal/slot_file.h"

namespace sluice::objstore {
namespace {

class LocalStore : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("sluice-objstore-" + random_token(8));
    auto s = open_local_store({root_.string(), 16, 1ull << 30});
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(s).value();
    ASSERT_TRUE(store_->make_bucket("bkt", "owner"));
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  result<object_info> put(const std::string& key, const std::string& data) {
    memory_source src(data);
    return store_->put_object("bkt", key, src, {});
  }
  std::string get(const std::string& key, std::optional<byte_range> range = {}) {
    auto r = store_->get_object("bkt", key, {.range = range});
    if (!r) return "<error:" + r.error().message() + ">";
    auto all = read_all(*r.value(), 1 << 30, error(errc::object_too_large));
    return all ? all.value() : "<read error>";
  }
  std::vector<std::string> keys(const list_options& o, std::vector<std::string>* prefixes = nullptr) {
    auto r = store_->list_objects("bkt", o);
    EXPECT_TRUE(r);
    std::vector<std::string> out;
    for (auto& i : r.value().objects) out.push_back(i.key);
    if (prefixes) *prefixes = r.value().common_prefixes;
    return out;
  }

  std::filesystem::path root_;
  std::unique_ptr<object_layer> store_;
};

TEST_F(LocalStore, InlineAndFileObjectsRoundTrip) {
  std::string small = "tiny";
  std::string big(100000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  auto a = put("small", small);
  auto b = put("dir/big", big);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a.value().etag, to_hex(md5(small)));
  EXPECT_EQ(b.value().size, big.size());
  EXPECT_EQ(get("small"), small);
  EXPECT_EQ(get("dir/big"), big);
  EXPECT_EQ(get("dir/big", byte_range{99990, 10}), big.substr(99990));
  EXPECT_EQ(get("small", byte_range{1, 2}), "in");
}

TEST_F(LocalStore, MultiChunkObjectsHashAndStoreEveryChunkInOrder) {
  // 3.5 chunks of distinct bytes: the pipelined hash/write must keep chunk order.
  std::string big(3 * 1024 * 1024 + 512 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) ^ (i >> 20));
  auto r = put("multi", big);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value().etag, to_hex(md5(big)));
  EXPECT_EQ(get("multi"), big);
}

TEST_F(LocalStore, BodiesOfUnalignedSizesKeepTheirExactLength) {
  // Spilled bodies are written with direct I/O in whole 4 KiB blocks where the
  // file system allows it: the padded last block must be cut off again.
  for (size_t size : {size_t{200001}, size_t{(1 << 20) + 1}, size_t{(2 << 20) - 7}, size_t{3 << 20}}) {
    std::string body(size, '\0');
    for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>((i * 31) ^ (i >> 12) ^ size);
    auto key = "odd-" + std::to_string(size);
    auto r = put(key, body);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r.value().size, size);
    EXPECT_EQ(r.value().etag, to_hex(md5(body)));
    EXPECT_TRUE(get(key) == body) << size;
    EXPECT_EQ(get(key, byte_range{size - 3, 3}), body.substr(size - 3));
    auto head = store_->stat_object("bkt", key, {});
    ASSERT_TRUE(head);
    EXPECT_EQ(head.value().size, size);
    // And the data file on disk holds exactly the body.
    int files = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root_)) {
      if (!e.is_regular_file() || e.path().string().find(key) == std::string::npos) continue;
      if (e.path().filename().string().rfind("part", 0) != 0) continue;
      ++files;
      EXPECT_EQ(e.file_size(), size) << e.path();
    }
    EXPECT_EQ(files, 1) << key;
  }
}

// The share of a file's pages in the page cache (mincore of a mapping).
double resident_share(const std::filesystem::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  const auto size = static_cast<size_t>(std::filesystem::file_size(p));
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  EXPECT_NE(m, MAP_FAILED);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in((size + page - 1) / page);
  EXPECT_EQ(::mincore(m, size, in.data()), 0);
  size_t n = 0;
  for (auto v : in) n += v & 1;
  ::munmap(m, size);
  ::close(fd);
  return static_cast<double>(n) / static_cast<double>(in.size());
}

// Bodies below direct_io_min go through the page cache (they are there after
// the PUT); larger ones and ones of unknown size are written around it.
TEST_F(LocalStore, SmallBodiesGoThroughThePageCacheLargeOnesAroundIt) {
  {
    const auto probe = root_ / "direct-probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT, 0644);
    if (fd < 0) GTEST_SKIP() << "no O_DIRECT on " << root_;
    ::close(fd);
    std::filesystem::remove(probe);
  }
  const auto root = root_ / "d";
  auto s = open_local_store({.root = root.string(), .inline_threshold = 16, .direct_io_min = 2 << 20});
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE(s.value()->make_bucket("bkt", "owner"));
  auto part_of = [&](const std::string& key) {
    for (auto& e : std::filesystem::recursive_directory_iterator(root / "bkt" / key)) {
      if (e.path().filename() == "part.1") return e.path();
    }
    ADD_FAILURE() << "no data file for " << key;
    return std::filesystem::path();
  };
  auto put_sized = [&](const std::string& key, size_t n, bool declare, bool read_back) {
    std::string data(n, '\0');
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>(i * 31 + i / 4096);
    memory_source src(data);
    put_options o;
    if (declare) o.size = n;
    ASSERT_TRUE(s.value()->put_object("bkt", key, src, o));
    if (!read_back) return;
    auto r = s.value()->get_object("bkt", key, {});
    ASSERT_TRUE(r);
    auto all = read_all(*r.value(), 1 << 30, error(errc::object_too_large));
    ASSERT_TRUE(all && all.value() == data) << key;
  };
  // Both ways store the exact bytes...
  put_sized("small", 1 << 20, true, true);
  put_sized("large", (3 << 20) + 5000, true, true);
  put_sized("unknown", (1 << 20) + 5000, false, true);
  // ...and (measured on copies never read) take different paths.
  put_sized("small2", (1 << 20) + 5000, true, false);
  put_sized("large2", (3 << 20) + 5000, true, false);
  put_sized("unknown2", (1 << 20) + 5000, false, false);
  EXPECT_GT(resident_share(part_of("small2")), 0.9);
  EXPECT_LT(resident_share(part_of("large2")), 0.1);
  EXPECT_LT(resident_share(part_of("unknown2")), 0.1);
}

TEST_F(LocalStore, OverwriteReplacesAndRemovesOldData) {
  ASSERT_TRUE(put("k", std::string(1000, 'a')));
  ASSERT_TRUE(put("k", std::string(2000, 'b')));
  EXPECT_EQ(get("k"), std::string(2000, 'b'));
  int data_dirs = 0;
  for (auto& e : std::filesystem::directory_iterator(root_ / "bkt" / "k")) {
    if (e.path().filename().string().starts_with(".sluice.d-")) ++data_dirs;
  }
  EXPECT_EQ(data_dirs, 1);
  // The replaced data went to the trash, which a background thread empties.
  const auto trash = root_ / ".sluice.sys" / "trash";
  for (int i = 0; i < 500 && !std::filesystem::is_empty(trash); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(std::filesystem::is_empty(trash));
}

TEST_F(LocalStore, TrashLeftoversAreRemovedAfterRestart) {
  // A stop (or crash) with removals still queued leaves them in the trash.
  const auto left = root_ / ".sluice.sys" / "trash" / "left-by-a-crash";
  std::filesystem::create_directories(left);
  { std::ofstream(left / "part.1") << "old data"; }
  store_.reset();
  auto s = open_local_store({root_.string(), 16, 1ull << 30});
  ASSERT_TRUE(s) << s.error().message();
  store_ = std::move(s).value();
  for (int i = 0; i < 500 && std::filesystem::exists(left); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(std::filesystem::exists(left));
}

// A source that hands out its bytes in small pieces, and can fail part way.
class piecewise_source final : public source {
 public:
  piecewise_source(std::string_view data, size_t piece, size_t fail_at = SIZE_MAX)
      : data_(data), piece_(piece), fail_at_(fail_at) {}
  result<size_t> read(char* buf, size_t n) override {
    if (pos_ >= fail_at_) return fail(errc::io_error, "connection reset");
    size_t k = std::min({n, piece_, data_.size() - pos_, fail_at_ - pos_});
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string_view data_;
  size_t piece_, fail_at_, pos_ = 0;
};

// Large bodies go through the spill pipeline (a ring of 1 MiB buffers, writer
// and hasher threads, an fdatasync every 16 MiB): more chunks than the ring
// holds, past a periodic sync, a short last chunk, delivered in odd pieces.
// A body is staged in chunks that start short and grow (256 KiB, 512 KiB,
// then 1 MiB): sizes on and beside those edges, and beside the inline limit of
// a store with the default one, must come back byte for byte with their MD5,
// stored inline exactly up to the limit.
TEST_F(LocalStore, BodiesOnTheEdgesOfGrowingChunksAndTheInlineLimit) {
  auto root = root_ / "default-inline";
  auto s = open_local_store({root.string()});
  ASSERT_TRUE(s) << s.error().message();
  auto store = std::move(s).value();
  ASSERT_TRUE(store->make_bucket("bkt", "owner"));
  const size_t k = 1024;
  const size_t sizes[] = {128 * k, 128 * k + 1, 256 * k - 1, 256 * k,         256 * k + 1,  768 * k - 1,
                          768 * k, 768 * k + 1, 1792 * k,    1792 * k + 4095, 2816 * k + 1, 3 * 1024 * k};
  for (size_t size : sizes) {
    std::string body(size, '\0');
    uint64_t x = 0x2545F4914F6CDD1Dull ^ size;
    for (auto& c : body) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      c = static_cast<char>(x);
    }
    const std::string key = "edge-" + std::to_string(size);
    piecewise_source src(body, 40'961);  // pieces that straddle every chunk edge
    auto r = store->put_object("bkt", key, src, {.size = body.size()});
    ASSERT_TRUE(r) << size << ": " << r.error().message();
    EXPECT_EQ(r.value().etag, to_hex(md5(body))) << size;
    auto g = store->get_object("bkt", key, {});
    ASSERT_TRUE(g) << size;
    auto all = read_all(*g.value(), 1 << 30, error(errc::object_too_large));
    ASSERT_TRUE(all);
    EXPECT_TRUE(all.value() == body) << size;
    // Inline (no data folder) exactly up to the store's 128 KiB limit.
    bool has_data_dir = false;
    for (const auto& e : std::filesystem::directory_iterator(root / "bkt" / key))
      has_data_dir |= e.is_directory();
    EXPECT_EQ(has_data_dir, size > 128 * k) << size;
  }
}

TEST_F(LocalStore, LargeBodiesRoundTripThroughTheSpillPipeline) {
  std::string big((17u << 20) + 12345, '\0');
  uint64_t x = 88172645463325252ull;
  for (auto& c : big) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  piecewise_source src(big, 100'003);
  auto r = store_->put_object("bkt", "big", src, {.size = big.size()});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value().etag, to_hex(md5(big)));
  EXPECT_EQ(get("big"), big);
  EXPECT_EQ(get("big", byte_range{(9u << 20) - 7, 20}), big.substr((9u << 20) - 7, 20));
}

// Chunk buffers are reused from one PUT to the next, and a spilled body's
// last flush (with the cut back to size) finishes while the metadata is
// written: bodies in falling sizes, each cut at an odd length, must come back
// byte for byte, with no bytes of a larger body before them; also after the
// store is opened again.
TEST_F(LocalStore, ReusedChunkBuffersKeepEachBodyExact) {
  const size_t sizes[] = {(3u << 20) + 4097, (2u << 20) - 1, (1u << 20) + 1, 1u << 20, 70'001, 4'097};
  std::vector<std::string> bodies;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    std::string b(sizes[i], '\0');
    uint64_t x = 0x9E3779B97F4A7C15ull * (i + 1);
    for (auto& c : b) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      c = static_cast<char>(x);
    }
    piecewise_source src(b, 65'537);
    auto r = store_->put_object("bkt", "k" + std::to_string(i), src, {.size = b.size()});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r.value().etag, to_hex(md5(b)));
    bodies.push_back(std::move(b));
  }
  auto check = [&] {
    for (size_t i = 0; i < bodies.size(); ++i) {
      auto st = store_->stat_object("bkt", "k" + std::to_string(i));
      ASSERT_TRUE(st);
      EXPECT_EQ(st.value().size, bodies[i].size());
      EXPECT_EQ(get("k" + std::to_string(i)), bodies[i]) << "body " << i;
      // The part file itself is cut back to the body's size (direct writes pad to 4 KiB).
      for (const auto& e : std::filesystem::directory_iterator(root_ / "bkt" / ("k" + std::to_string(i)))) {
        if (e.is_directory()) {
          EXPECT_EQ(std::filesystem::file_size(e.path() / "part.1"), bodies[i].size());
        }
      }
    }
  };
  check();
  store_.reset();
  auto reopened = open_local_store({root_.string(), 16, 1ull << 30});
  ASSERT_TRUE(reopened) << reopened.error().message();
  store_ = std::move(reopened).value();
  check();
}

// A spilled body's last flush runs in the background while the store goes on;
// a PUT rejected after that (finalize: a checksum mismatch) must leave the
// previous version as it was and nothing behind.
TEST_F(LocalStore, RejectedSpilledBodyKeepsThePreviousVersion) {
  std::string v1(2u << 20, 'a'), v2((3u << 20) + 5, 'b');
  memory_source s1(v1);
  ASSERT_TRUE(store_->put_object("bkt", "k", s1, {}));
  memory_source s2(v2);
  put_options o;
  bool called = false;
  o.finalize = [&](object_info& info) -> result<void> {
    called = true;
    EXPECT_EQ(info.size, v2.size());
    return fail(errc::bad_argument, "checksum mismatch");
  };
  auto r = store_->put_object("bkt", "k", s2, std::move(o));
  ASSERT_FALSE(r);
  EXPECT_TRUE(called);
  EXPECT_EQ(get("k"), v1);
  EXPECT_TRUE(std::filesystem::is_empty(root_ / ".sluice.sys" / "tmp"));
  int data_dirs = 0;
  for (const auto& e : std::filesystem::directory_iterator(root_ / "bkt" / "k"))
    data_dirs += e.is_directory();
  EXPECT_EQ(data_dirs, 1);
}

// A body that breaks off part way (client gone) fails the PUT and leaves
// nothing: no object, no staging files.
TEST_F(LocalStore, BodyFailingMidwayLeavesNothing) {
  std::string big(10u << 20, 'q');
  piecewise_source src(big, 1 << 16, (6u << 20) + 5);
  auto r = store_->put_object("bkt", "broken", src, {.size = big.size()});
  ASSERT_FALSE(r);
  EXPECT_TRUE(store_->stat_object("bkt", "broken").error().is(errc::object_not_found));
  EXPECT_TRUE(std::filesystem::is_empty(root_ / ".sluice.sys" / "tmp"));
}

TEST_F(LocalStore, MissingObjectsAndBuckets) {
  auto r = store_->stat_object("bkt", "nope");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::object_not_found));
  auto b = store_->stat_object("nobucket", "k");
  ASSERT_FALSE(b);
  EXPECT_TRUE(b.error().is(errc::bucket_not_found));
  ASSERT_TRUE(put("a/b", "x"));
  EXPECT_FALSE(store_->stat_object("bkt", "a"));  // a folder is not an object
}

TEST_F(LocalStore, DeleteRemovesEmptyFolders) {
  ASSERT_TRUE(put("x/y/z", "data"));
  ASSERT_TRUE(store_->delete_object("bkt", "x/y/z"));
  EXPECT_FALSE(std::filesystem::exists(root_ / "bkt" / "x"));
  EXPECT_TRUE(store_->delete_object("bkt", "never-existed"));
  EXPECT_TRUE(store_->delete_bucket("bkt"));
}

TEST_F(LocalStore, BucketNotEmpty) {
  ASSERT_TRUE(put("k", "v"));
  auto r = store_->delete_bucket("bkt");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::bucket_not_empty));
  auto again = store_->make_bucket("bkt", "owner");
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(errc::bucket_exists));
}

TEST_F(LocalStore, ListingIsSortedWithPrefixDelimiterAndMarker) {
  for (std::string k : {"a", "a-c", "a/b", "a/c/d", "a0", "b/", "b/x", "c d", "\xc3\xa9"}) ASSERT_TRUE(put(k, k));
  EXPECT_EQ(keys({}), (std::vector<std::string>{"a", "a-c", "a/b", "a/c/d", "a0", "b/", "b/x", "c d", "\xc3\xa9"}));
  std::vector<std::string> prefixes;
  EXPECT_EQ(keys({.delimiter = "/"}, &prefixes), (std::vector<std::string>{"a", "a-c", "a0", "c d", "\xc3\xa9"}));
  EXPECT_EQ(prefixes, (std::vector<std::string>{"a/", "b/"}));
  EXPECT_EQ(keys({.prefix = "a/", .delimiter = "/"}, &prefixes), (std::vector<std::string>{"a/b"}));
  EXPECT_EQ(prefixes, (std::vector<std::string>{"a/c/"}));
  EXPECT_EQ(keys({.prefix = "a/c"}), (std::vector<std::string>{"a/c/d"}));
  EXPECT_EQ(keys({.marker = "a/b"}), (std::vector<std::string>{"a/c/d", "a0", "b/", "b/x", "c d", "\xc3\xa9"}));
  auto page = store_->list_objects("bkt", {.max_keys = 3});
  ASSERT_TRUE(page);
  EXPECT_TRUE(page.value().truncated);
  EXPECT_EQ(page.value().next_marker, "a/b");
}

TEST_F(LocalStore, PaginationVisitsEveryKeyOnce) {
  std::vector<std::string> all;
  for (int i = 0; i < 25; ++i) {
    std::string k = "p/" + std::to_string(i % 5) + "/k" + std::to_string(i);
    all.push_back(k);
    ASSERT_TRUE(put(k, "v"));
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> seen;
  std::string marker;
  for (;;) {
    auto page = store_->list_objects("bkt", {.marker = marker, .max_keys = 7});
    ASSERT_TRUE(page);
    for (auto& o : page.value().objects) seen.push_back(o.key);
    if (!page.value().truncated) break;
    marker = page.value().next_marker;
  }
  EXPECT_EQ(seen, all);
}

TEST_F(LocalStore, MultipartComplete) {
  auto id = store_->new_multipart_upload("bkt", "mp", {.metadata = {{"content-type", "a/b"}}});
  ASSERT_TRUE(id);
  std::string p1(kMinPartSize, '1'), p2 = "tail";
  memory_source s1(p1), s2(p2), s3("ignored");
  auto r1 = store_->put_object_part("bkt", "mp", id.value(), 1, s1, {}, {});
  auto r2 = store_->put_object_part("bkt", "mp", id.value(), 2, s2, {}, {});
  auto r3 = store_->put_object_part("bkt", "mp", id.value(), 3, s3, {}, {});
  ASSERT_TRUE(r1 && r2 && r3);
  auto parts = store_->list_parts("bkt", "mp", id.value(), 0, 2);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts.value().parts.size(), 2u);
  EXPECT_TRUE(parts.value().truncated);

  auto bad_order = store_->complete_multipart_upload("bkt", "mp", id.value(), {{2, r2.value().etag}, {1, r1.value().etag}});
  EXPECT_TRUE(bad_order.error().is(errc::invalid_part_order));
  auto bad_etag = store_->complete_multipart_upload("bkt", "mp", id.value(), {{1, "0000"}});
  EXPECT_TRUE(bad_etag.error().is(errc::invalid_part));
  auto small = store_->complete_multipart_upload("bkt", "mp", id.value(), {{2, r2.value().etag}, {3, r3.value().etag}});
  EXPECT_TRUE(small.error().is(errc::entity_too_small));

  auto done = store_->complete_multipart_upload("bkt", "mp", id.value(),
                                                {{1, "\"" + r1.value().etag + "\""}, {2, r2.value().etag}});
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(done.value().etag,
            to_hex(md5(*from_hex(r1.value().etag) + *from_hex(r2.value().etag))) + "-2");
  EXPECT_EQ(get("mp"), p1 + p2);
  EXPECT_EQ(get("mp", byte_range{kMinPartSize - 2, 4}), "11ta");
  EXPECT_EQ(store_->stat_object("bkt", "mp").value().content_type(), "a/b");
  auto gone = store_->list_parts("bkt", "mp", id.value(), 0, 100);
  EXPECT_TRUE(gone.error().is(errc::upload_not_found));
}

TEST_F(LocalStore, AbortAndListUploads) {
  auto a = store_->new_multipart_upload("bkt", "x/one", {});
  auto b = store_->new_multipart_upload("bkt", "x/two", {});
  auto c = store_->new_multipart_upload("bkt", "y", {});
  ASSERT_TRUE(a && b && c);
  auto ups = store_->list_multipart_uploads("bkt", {.prefix = "x/"});
  ASSERT_TRUE(ups);
  EXPECT_EQ(ups.value().uploads.size(), 2u);
  ASSERT_TRUE(store_->abort_multipart_upload("bkt", "x/one", a.value()));
  EXPECT_EQ(store_->list_multipart_uploads("bkt", {}).value().uploads.size(), 2u);
  auto again = store_->abort_multipart_upload("bkt", "x/one", a.value());
  EXPECT_TRUE(again.error().is(errc::upload_not_found));
  EXPECT_TRUE(store_->abort_multipart_upload("bkt", "y", "../../etc").error().is(errc::upload_not_found));
}

TEST_F(LocalStore, FinalizeCanRejectWrite) {
  memory_source src("payload");
  put_options o;
  o.finalize = [](object_info&) -> result<void> { return fail(errc::bad_argument, "digest mismatch"); };
  auto r = store_->put_object("bkt", "rejected", src, std::move(o));
  ASSERT_FALSE(r);
  EXPECT_FALSE(store_->stat_object("bkt", "rejected"));
  EXPECT_TRUE(std::filesystem::is_empty(root_ / ".sluice.sys" / "tmp"));
}

TEST_F(LocalStore, InterruptedWritesAreCleanedOnOpen) {
  std::filesystem::create_directories(root_ / ".sluice.sys" / "tmp" / "leftover");
  auto s = open_local_store({root_.string()});
  ASSERT_TRUE(s);
  EXPECT_TRUE(std::filesystem::is_empty(root_ / ".sluice.sys" / "tmp"));
}

TEST_F(LocalStore, SmallOverwritesAreWrittenInPlaceAndATornOneLeavesThePreviousVersion) {
  const auto meta = (root_ / "bkt" / "k" / ".sluice.meta").string();
  auto inode = [&] {
    struct stat st {};
    EXPECT_EQ(::stat(meta.c_str(), &st), 0);
    return st.st_ino;
  };
  ASSERT_TRUE(put("k", "first"));
  const auto ino = inode();
  ASSERT_TRUE(put("k", "second"));
  ASSERT_TRUE(put("k", "third"));
  ASSERT_TRUE(store_->update_object_metadata("bkt", "k", "", std::nullopt, std::string("t=1")));
  EXPECT_EQ(inode(), ino);  // replaced in place, not renamed over
  EXPECT_EQ(get("k"), "third");
  EXPECT_EQ(store_->stat_object("bkt", "k").value().tags, "t=1");

  // A crash tore the newest copy: the object reads as it was before that write.
  std::string bytes = fs::read_file(meta).value();
  auto slot = detail::newest_slot(bytes);
  ASSERT_TRUE(slot);
  bytes[static_cast<size_t>(slot->payload.data() - bytes.data()) + slot->payload.size() / 2] ^= 0x20;
  ASSERT_TRUE(fs::write_file_durable(meta, bytes));
  EXPECT_EQ(get("k"), "third");
  EXPECT_EQ(store_->stat_object("bkt", "k").value().tags, "");

  // From inline to a data folder (a new file) and back (in place again).
  const std::string big(100, 'B');
  ASSERT_TRUE(put("k", big));
  EXPECT_EQ(get("k"), big);
  ASSERT_TRUE(put("k", "small again"));
  EXPECT_EQ(get("k"), "small again");
  ASSERT_TRUE(put("k", "and again"));
  EXPECT_EQ(get("k"), "and again");
}

TEST_F(LocalStore, MetadataFilesOfTheOlderFormatAreReadAndConverted) {
  ASSERT_TRUE(put("old", "bytes"));
  const auto meta = (root_ / "bkt" / "old" / ".sluice.meta").string();
  // The file as written before slot files: the metadata alone.
  auto slot = detail::newest_slot(fs::read_file(meta).value());
  ASSERT_TRUE(slot);
  ASSERT_TRUE(fs::write_file_durable(meta, std::string(slot->payload)));
  EXPECT_FALSE(detail::is_slot_file(fs::read_file(meta).value()));
  EXPECT_EQ(get("old"), "bytes");
  ASSERT_TRUE(put("old", "newer"));
  EXPECT_TRUE(detail::is_slot_file(fs::read_file(meta).value()));
  EXPECT_EQ(get("old"), "newer");
}

TEST_F(LocalStore, MetadataUpdateKeepsData) {
  ASSERT_TRUE(put("m", std::string(50, 'z')));
  auto r = store_->update_object_metadata("bkt", "m", "", metadata_map{{"x-amz-meta-a", "1"}}, std::string("t=1"));
  ASSERT_TRUE(r);
  auto info = store_->stat_object("bkt", "m").value();
  EXPECT_EQ(info.metadata.at("x-amz-meta-a"), "1");
  EXPECT_EQ(info.tags, "t=1");
  EXPECT_EQ(get("m"), std::string(50, 'z'));
}

TEST_F(LocalStore, InternalObjectsCanSkipTheMd5) {
  // Inline and spilled bodies: md5_etag = false gives an XXH3-128 ETag.
  for (size_t size : {size_t{100}, size_t{(3 << 20) + 5}}) {
    std::string body(size, '\0');
    for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>(i * 7 ^ (i >> 9));
    memory_source src(body);
    put_options o;
    o.md5_etag = false;
    auto key = "xxh-" + std::to_string(size);
    auto r = store_->put_object("bkt", key, src, std::move(o));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r.value().etag, to_hex(xxh3_128(body)));
    EXPECT_NE(r.value().etag, to_hex(md5(body)));
    EXPECT_TRUE(get(key) == body);
  }
}

}  // namespace
}  // namespace sluice::objstore
