#include "objstore/erasure_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/fs.h"
#include "objstore/erasure/bitrot.h"
#include "objstore/erasure/layout.h"
#include "objstore/meta_file.h"

namespace sluice::objstore {
namespace {

namespace stdfs = std::filesystem;
namespace ec = erasure;

constexpr uint64_t kMiB = 1 << 20;

std::string random_data(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class memory_source_at final : public ec::shard_source {
 public:
  explicit memory_source_at(std::string_view d) : d_(d) {}
  result<size_t> read_at(std::span<const std::span<std::byte>> parts, uint64_t offset) override {
    size_t total = 0;
    for (const auto& p : parts) {
      if (offset >= d_.size()) break;
      size_t n = std::min<uint64_t>(p.size(), d_.size() - offset);
      std::memcpy(p.data(), d_.data() + offset, n);
      offset += n;
      total += n;
      if (n < p.size()) break;
    }
    return total;
  }

 private:
  std::string_view d_;
};

class ErasureStore : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    root_ = stdfs::temp_directory_path() / ("sluice-ec-" + random_token(8));
    for (int i = 0; i < GetParam(); ++i) drives_.push_back((root_ / ("d" + std::to_string(i))).string());
    open();
    ASSERT_TRUE(store_->make_bucket("bkt", "owner"));
  }
  void TearDown() override {
    store_.reset();
    for (const auto& d : drives_) {
      if (stdfs::exists(d)) stdfs::permissions(d, stdfs::perms::owner_all);
    }
    stdfs::remove_all(root_);
  }

  void open() {
    store_.reset();
    erasure_store_options o;
    o.drives = drives_;
    o.background = false;
    o.drive_check_interval = std::chrono::milliseconds(0);
    auto s = open_erasure_store(o);
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(s).value();
  }

  int parity() const { return GetParam() >= 8 ? 4 : GetParam() / 2; }

  result<object_info> put(const std::string& key, const std::string& data) {
    memory_source src(data);
    return store_->put_object("bkt", key, src, {});
  }
  std::string get(const std::string& key, std::optional<byte_range> range = {}, const std::string& version = {}) {
    auto r = store_->get_object("bkt", key, {.version_id = version, .range = range});
    if (!r) return "<error:" + r.error().message() + ">";
    auto all = read_all(*r.value(), 1 << 30, error(errc::object_too_large));
    return all ? all.value() : "<read error:" + all.error().message() + ">";
  }
  result<std::string> get_result(const std::string& key) {
    SLUICE_TRY(auto r, store_->get_object("bkt", key, {}));
    return read_all(*r, 1 << 30, error(errc::object_too_large));
  }

  stdfs::path key_dir(int drive, const std::string& key) const { return stdfs::path(drives_[drive]) / "bkt" / key; }

  std::optional<meta_file> meta_on(int drive, const std::string& key) const {
    auto bytes = fs::read_file((key_dir(drive, key) / ".sluice.meta").string());
    if (!bytes) return std::nullopt;
    auto m = decode_meta(bytes.value());
    if (!m) return std::nullopt;
    return std::move(m).value();
  }

  // Drives whose copy of the key's latest version is whole (metadata and every shard block verifies).
  int good_copies(const std::string& key) const {
    int good = 0;
    for (int d = 0; d < GetParam(); ++d) {
      auto m = meta_on(d, key);
      if (!m || m->versions.empty()) continue;
      const auto& v = m->versions.front();
      if (!v.ec) {
        ++good;
        continue;
      }
      if (v.ec->index != v.ec->dist[d]) continue;
      bool ok = true;
      if (v.inline_data) {
        memory_source_at src(std::string_view(m->inline_area).substr(v.inline_offset, v.inline_length));
        ok = bool(ec::bitrot_reader(src, {v.info.size, v.ec->block_size, v.ec->data}).verify_all());
      } else {
        std::vector<std::pair<int, uint64_t>> parts;
        if (v.info.parts.empty()) parts.emplace_back(1, v.info.size);
        for (const auto& p : v.info.parts) parts.emplace_back(p.number, p.size);
        for (auto [n, size] : parts) {
          auto f = fs::file::open((key_dir(d, key) / (".sluice.d-" + v.data_dir) / ("part." + std::to_string(n))).string(),
                                  O_RDONLY);
          if (!f) {
            ok = false;
            break;
          }
          ec::fd_shard_source src(f.value().fd());
          ok = ok && bool(ec::bitrot_reader(src, {size, v.ec->block_size, v.ec->data}).verify_all());
        }
      }
      if (ok) ++good;
    }
    return good;
  }

  // The drive holding shard `shard` of the key's latest version.
  int drive_of_shard(const std::string& key, int shard) const {
    for (int d = 0; d < GetParam(); ++d) {
      auto m = meta_on(d, key);
      if (m && m->versions.front().ec && m->versions.front().ec->index == shard) return d;
    }
    return -1;
  }

  stdfs::path shard_file(int drive, const std::string& key, int part = 1) const {
    auto m = meta_on(drive, key);
    return key_dir(drive, key) / (".sluice.d-" + m->versions.front().data_dir) / ("part." + std::to_string(part));
  }

  static void flip_byte(const stdfs::path& p, uint64_t offset) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
  }

  stdfs::path root_;
  std::vector<std::string> drives_;
  std::unique_ptr<erasure_store> store_;
};

TEST_P(ErasureStore, RoundTripSizesAndRanges) {
  const std::vector<uint64_t> sizes = {0, 1, 100, 128 * 1024, kMiB - 1, kMiB, kMiB + 1, 5 * kMiB + 13};
  for (uint64_t size : sizes) {
    const std::string key = "obj-" + std::to_string(size);
    const std::string data = random_data(size, static_cast<uint32_t>(size));
    auto r = put(key, data);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r.value().etag, to_hex(md5(data)));
    EXPECT_EQ(r.value().size, size);
    EXPECT_EQ(get(key), data) << size;
    auto st = store_->stat_object("bkt", key);
    ASSERT_TRUE(st);
    EXPECT_EQ(st.value().size, size);
    EXPECT_EQ(good_copies(key), GetParam()) << size;
  }
  const std::string big = random_data(5 * kMiB + 13, 5 * kMiB + 13);
  const std::string key = "obj-" + std::to_string(big.size());
  for (auto [off, len] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 1}, {kMiB - 5, 10}, {kMiB, kMiB}, {3 * kMiB + 7, 2 * kMiB + 6}, {5 * kMiB, 13}, {12345, 4 * kMiB}}) {
    EXPECT_EQ(get(key, byte_range{off, len}), big.substr(off, len)) << off << "+" << len;
  }
  EXPECT_EQ(get("obj-100", byte_range{10, 20}), random_data(100, 100).substr(10, 20));
  auto bad = store_->get_object("bkt", key, {.range = byte_range{big.size() - 1, 2}});
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(errc::invalid_range));
  // Small objects keep their shards inline, large ones in shard files.
  EXPECT_TRUE(meta_on(0, "obj-100")->versions.front().inline_data);
  EXPECT_FALSE(meta_on(0, key)->versions.front().inline_data);
  EXPECT_EQ(stdfs::file_size(shard_file(0, key)),
            ec::shard_file_size(big.size(), kMiB, GetParam() - parity()));
}

TEST_P(ErasureStore, OverwriteAndDelete) {
  ASSERT_TRUE(put("k", random_data(2 * kMiB, 1)));
  ASSERT_TRUE(put("k", "small now"));
  EXPECT_EQ(get("k"), "small now");
  for (int d = 0; d < GetParam(); ++d) {
    for (auto& e : stdfs::directory_iterator(key_dir(d, "k"))) {
      EXPECT_FALSE(e.path().filename().string().starts_with(".sluice.d-")) << "old data left on drive " << d;
    }
    // Moved to the drive's trash, which a background thread empties.
    const auto bin = stdfs::path(drives_[static_cast<size_t>(d)]) / ".sluice.sys" / "trash";
    for (int i = 0; i < 500 && !stdfs::is_empty(bin); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(stdfs::is_empty(bin)) << "drive " << d;
  }
  auto del = store_->delete_object("bkt", "k");
  ASSERT_TRUE(del);
  auto st = store_->stat_object("bkt", "k");
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().is(errc::object_not_found));
  for (int d = 0; d < GetParam(); ++d) EXPECT_FALSE(stdfs::exists(key_dir(d, "k")));
  EXPECT_TRUE(store_->delete_object("bkt", "never-there"));
}

TEST_P(ErasureStore, LostDriveFolderReadsAndHeals) {
  const std::string big = random_data(3 * kMiB + 77, 7);
  const std::string small = random_data(1000, 8);
  ASSERT_TRUE(put("dir/big", big));
  ASSERT_TRUE(put("small", small));
  // Lose as many drives as there is parity, data shards first.
  std::vector<int> lost;
  for (int s = 0; s < parity(); ++s) lost.push_back(drive_of_shard("dir/big", s));
  for (int d : lost) stdfs::remove_all(drives_[d]);
  EXPECT_EQ(get("dir/big"), big);
  EXPECT_EQ(get("dir/big", byte_range{kMiB - 3, kMiB + 10}), big.substr(kMiB - 3, kMiB + 10));
  EXPECT_EQ(get("small"), small);
  EXPECT_EQ(store_->heal_backlog(), 0u);  // nothing to heal onto while the drives are offline
  auto info = store_->storage();
  ASSERT_TRUE(info);
  int offline = 0;
  for (const auto& d : info.value().drives) offline += d.online ? 0 : 1;
  EXPECT_EQ(offline, parity());
  // Listing still sees everything.
  auto l = store_->list_objects("bkt", {});
  ASSERT_TRUE(l);
  EXPECT_EQ(l.value().objects.size(), 2u);
  // Writes still reach write quorum while the drives are gone... (4 drives, parity 2: quorum 3 > 2 left)
  const bool writable = GetParam() - parity() >= ec::write_quorum(GetParam() - parity(), parity());
  EXPECT_EQ(bool(put("during", "x")), writable);
  // Replaced by empty folders: formatted and healed.
  for (int d : lost) stdfs::create_directories(drives_[d]);
  store_->check_drives();
  EXPECT_EQ(good_copies("dir/big"), GetParam());
  EXPECT_EQ(good_copies("small"), GetParam());
  if (writable) {
    EXPECT_EQ(good_copies("during"), GetParam());
  }
  for (int d : lost) EXPECT_TRUE(stdfs::exists(stdfs::path(drives_[d]) / ".sluice.sys" / "buckets" / "bkt" / "bucket.json"));
  // Now lose the other drives: the healed ones carry the object.
  for (int d = 0, gone = 0; d < GetParam() && gone < parity(); ++d) {
    if (std::find(lost.begin(), lost.end(), d) != lost.end()) continue;
    stdfs::remove_all(drives_[d]);
    ++gone;
  }
  EXPECT_EQ(get("dir/big"), big);
  EXPECT_EQ(get("small"), small);
}

TEST_P(ErasureStore, UnreadableDrive) {
  const std::string big = random_data(2 * kMiB + 5, 9);
  ASSERT_TRUE(put("big", big));
  const int d = drive_of_shard("big", 0);
  // A drive folder replaced by a file: every path below it fails (ENOTDIR).
  const std::string moved = drives_[d] + ".moved";
  stdfs::rename(drives_[d], moved);
  { std::ofstream(drives_[d]) << "not a drive"; }
  EXPECT_EQ(get("big"), big);
  ASSERT_TRUE(put("while-away", "hello"));
  stdfs::remove(drives_[d]);
  stdfs::rename(moved, drives_[d]);
  store_->check_drives();
  EXPECT_EQ(good_copies("while-away"), GetParam() - 1);
  auto h = store_->heal_bucket("bkt", "");
  ASSERT_TRUE(h);
  EXPECT_EQ(h.value().objects_healed, 1u);
  EXPECT_EQ(good_copies("while-away"), GetParam());
  EXPECT_EQ(good_copies("big"), GetParam());
  if (::geteuid() != 0) {
    stdfs::permissions(drives_[d], stdfs::perms::none);
    EXPECT_EQ(get("big"), big);
    stdfs::permissions(drives_[d], stdfs::perms::owner_all);
  }
}

TEST_P(ErasureStore, BitrotIsDetectedAndHealed) {
  const std::string big = random_data(3 * kMiB + 1, 11);
  const std::string small = random_data(5000, 12);
  ASSERT_TRUE(put("big", big));
  ASSERT_TRUE(put("small", small));
  // Corrupt data shard 0 in block 1 and data shard 1 in block 0 (and up to parity drives).
  const int k = GetParam() - parity();
  const uint64_t block_stride = ec::checksum_size + (kMiB + k - 1) / k;
  flip_byte(shard_file(drive_of_shard("big", 0), "big"), block_stride + 100);
  flip_byte(shard_file(drive_of_shard("big", 1), "big"), 20);
  // Inline shard bytes sit at the end of the metadata file.
  const auto meta_path = key_dir(drive_of_shard("small", 0), "small") / ".sluice.meta";
  flip_byte(meta_path, stdfs::file_size(meta_path) - 1);
  EXPECT_EQ(good_copies("big"), GetParam() - 2);
  EXPECT_EQ(good_copies("small"), GetParam() - 1);
  EXPECT_EQ(get("big"), big);
  EXPECT_EQ(get("big", byte_range{kMiB + 5, 100}), big.substr(kMiB + 5, 100));
  EXPECT_EQ(get("small"), small);
  EXPECT_GE(store_->heal_backlog(), 2u);
  auto h1 = store_->heal_object("bkt", "big");
  ASSERT_TRUE(h1) << h1.error().message();
  EXPECT_EQ(h1.value().shards_written, 2u);
  auto h2 = store_->heal_object("bkt", "small");
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2.value().shards_written, 1u);
  EXPECT_EQ(good_copies("big"), GetParam());
  EXPECT_EQ(good_copies("small"), GetParam());
  EXPECT_EQ(get("big"), big);
  // A healthy object needs no work.
  auto h3 = store_->heal_object("bkt", "big");
  ASSERT_TRUE(h3);
  EXPECT_EQ(h3.value().objects_healed, 0u);
}

TEST_P(ErasureStore, MetadataThatCannotBeReadKeepsItsDataFolders) {
  ASSERT_TRUE(put("k", random_data(2 * kMiB, 21)));
  const auto dir = key_dir(drive_of_shard("k", 0), "k");
  auto data_folders = [&] {
    int n = 0;
    for (auto& e : stdfs::directory_iterator(dir))
      n += e.path().filename().string().starts_with(".sluice.d-");
    return n;
  };
  ASSERT_EQ(data_folders(), 1);
  // This drive's metadata file cannot be read (a symlink loop: ELOOP), which
  // is not the same as having none: the folders it names must stay.
  stdfs::rename(dir / ".sluice.meta", dir / "saved-meta");
  stdfs::create_symlink(".sluice.meta", dir / ".sluice.meta");
  ASSERT_TRUE(put("k", random_data(2 * kMiB, 22)));  // the other drives take the write
  EXPECT_EQ(data_folders(), 1);
}

TEST_P(ErasureStore, MoreLossThanParityFailsCleanly) {
  const std::string big = random_data(2 * kMiB + 3, 13);
  ASSERT_TRUE(put("big", big));
  ASSERT_TRUE(put("small", "tiny"));
  // Corrupt block 0 of parity+1 shards: that block cannot be rebuilt; never serve wrong bytes.
  for (int s = 0; s <= parity(); ++s) flip_byte(shard_file(drive_of_shard("big", s), "big"), 30);
  auto r = get_result("big");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::read_quorum)) << r.error().message();
  // Block 2 is still fine.
  EXPECT_EQ(get("big", byte_range{2 * kMiB, 3}), big.substr(2 * kMiB, 3));
  auto h = store_->heal_object("bkt", "big");
  ASSERT_TRUE(h);
  EXPECT_EQ(h.value().failed, 1u);
  // Losing parity+1 drives: reads and writes fail with quorum errors.
  for (int d = 0; d <= parity(); ++d) stdfs::remove_all(drives_[d]);
  auto s = store_->stat_object("bkt", "small");
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error().is(errc::read_quorum)) << s.error().message();
  auto g = get_result("small");
  ASSERT_FALSE(g);
  EXPECT_TRUE(g.error().is(errc::read_quorum)) << g.error().message();
  // (The bucket itself is then below its read quorum of half the drives.)
  auto p = put("new", random_data(2 * kMiB, 1));
  ASSERT_FALSE(p);
  EXPECT_TRUE(p.error().is(errc::write_quorum) || p.error().is(errc::read_quorum)) << p.error().message();
  auto p2 = put("new-small", "abc");
  ASSERT_FALSE(p2);
  EXPECT_TRUE(p2.error().is(errc::write_quorum) || p2.error().is(errc::read_quorum));
  // Nothing of the failed writes is visible once the drives are back.
  for (int d = 0; d <= parity(); ++d) stdfs::create_directories(drives_[d]);
  store_->check_drives();
  auto st = store_->stat_object("bkt", "new");
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().is(errc::object_not_found)) << st.error().message();
  for (const auto& d : drives_) {
    auto tmp = stdfs::path(d) / ".sluice.sys" / "tmp";
    EXPECT_TRUE(stdfs::is_empty(tmp)) << tmp;
  }
}

TEST_P(ErasureStore, WriteQuorumFailureRollsBack) {
  ASSERT_TRUE(put("k", "old value"));
  // Break write access on all but write_quorum-1 drives by replacing their bucket folders with files.
  const int k = GetParam() - parity();
  const int wq = ec::write_quorum(k, parity());
  const int broken = GetParam() - wq + 1;
  for (int d = 0; d < broken; ++d) {
    stdfs::rename(stdfs::path(drives_[d]) / "bkt", stdfs::path(drives_[d]) / "bkt.away");
    std::ofstream(stdfs::path(drives_[d]) / "bkt") << "x";
  }
  auto r = put("k", "new value");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::write_quorum)) << r.error().message();
  for (int d = 0; d < broken; ++d) {
    stdfs::remove(stdfs::path(drives_[d]) / "bkt");
    stdfs::rename(stdfs::path(drives_[d]) / "bkt.away", stdfs::path(drives_[d]) / "bkt");
  }
  EXPECT_EQ(get("k"), "old value");
  EXPECT_EQ(good_copies("k"), GetParam());
}

TEST_P(ErasureStore, StagingLeftoversAreCleanedAtOpen) {
  for (const auto& d : drives_) {
    stdfs::create_directories(stdfs::path(d) / ".sluice.sys" / "tmp" / "crashed");
    std::ofstream(stdfs::path(d) / ".sluice.sys" / "tmp" / "crashed" / "part.1") << "partial";
  }
  // A data folder no metadata names (crash between rename and metadata write).
  ASSERT_TRUE(put("k", random_data(2 * kMiB, 3)));
  stdfs::create_directories(key_dir(0, "k") / ".sluice.d-orphan");
  open();
  for (const auto& d : drives_) EXPECT_TRUE(stdfs::is_empty(stdfs::path(d) / ".sluice.sys" / "tmp"));
  EXPECT_EQ(get("k"), random_data(2 * kMiB, 3));
  ASSERT_TRUE(put("k", "v2"));
  EXPECT_FALSE(stdfs::exists(key_dir(0, "k") / ".sluice.d-orphan"));
}

TEST_P(ErasureStore, FormatIsCheckedAtOpen) {
  auto storage = store_->storage();
  ASSERT_TRUE(storage);
  const std::string id = storage.value().deployment_id;
  EXPECT_FALSE(id.empty());
  open();
  EXPECT_EQ(store_->storage().value().deployment_id, id);
  store_.reset();
  // Swapping two drives is refused.
  auto swapped = drives_;
  std::swap(swapped[0], swapped[1]);
  erasure_store_options o;
  o.drives = swapped;
  o.background = false;
  EXPECT_FALSE(open_erasure_store(o));
  // A drive of another deployment is refused.
  const auto other = root_ / "other";
  std::vector<std::string> other_drives;
  for (int i = 0; i < GetParam(); ++i) other_drives.push_back((other / std::to_string(i)).string());
  o.drives = other_drives;
  ASSERT_TRUE(open_erasure_store(o));
  auto mixed = drives_;
  mixed[0] = other_drives[0];
  o.drives = mixed;
  EXPECT_FALSE(open_erasure_store(o));
}

TEST_P(ErasureStore, ListingMergesDrives) {
  for (const auto& k : {"a/1", "a/2", "b", "c/d/e", "c/f", "z"}) ASSERT_TRUE(put(k, k));
  stdfs::remove_all(drives_[1]);
  auto keys = [&](const list_options& o, std::vector<std::string>* prefixes = nullptr) {
    auto r = store_->list_objects("bkt", o);
    EXPECT_TRUE(r);
    std::vector<std::string> out;
    for (auto& i : r.value().objects) out.push_back(i.key);
    if (prefixes) *prefixes = r.value().common_prefixes;
    return out;
  };
  EXPECT_EQ(keys({}), (std::vector<std::string>{"a/1", "a/2", "b", "c/d/e", "c/f", "z"}));
  std::vector<std::string> prefixes;
  EXPECT_EQ(keys({.delimiter = "/"}, &prefixes), (std::vector<std::string>{"b", "z"}));
  EXPECT_EQ(prefixes, (std::vector<std::string>{"a/", "c/"}));
  EXPECT_EQ(keys({.prefix = "c/"}), (std::vector<std::string>{"c/d/e", "c/f"}));
  EXPECT_EQ(keys({.marker = "b", .max_keys = 2}), (std::vector<std::string>{"c/d/e", "c/f"}));
  ASSERT_TRUE(store_->delete_object("bkt", "b"));
  EXPECT_EQ(keys({.delimiter = "/"}), (std::vector<std::string>{"z"}));
}

TEST_P(ErasureStore, MultipartOnErasure) {
  auto id = store_->new_multipart_upload("bkt", "mp", {.metadata = {{"content-type", "text/plain"}}});
  ASSERT_TRUE(id) << id.error().message();
  const std::string p1 = random_data(5 * kMiB, 21), p2 = random_data(kMiB + 3, 22);
  memory_source s1(p1), s2(p2), s2b(p2);
  auto r2 = store_->put_object_part("bkt", "mp", id.value(), 2, s2, {}, {});
  ASSERT_TRUE(r2) << r2.error().message();
  auto r2b = store_->put_object_part("bkt", "mp", id.value(), 2, s2b, {}, {});  // re-upload replaces
  ASSERT_TRUE(r2b);
  auto r1 = store_->put_object_part("bkt", "mp", id.value(), 1, s1, {}, {});
  ASSERT_TRUE(r1);
  auto parts = store_->list_parts("bkt", "mp", id.value(), 0, 100);
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts.value().parts.size(), 2u);
  auto uploads = store_->list_multipart_uploads("bkt", {});
  ASSERT_TRUE(uploads);
  EXPECT_EQ(uploads.value().uploads.size(), 1u);
  auto done = store_->complete_multipart_upload("bkt", "mp", id.value(),
                                                {{1, r1.value().etag}, {2, "\"" + r2.value().etag + "\""}});
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_TRUE(done.value().etag.ends_with("-2"));
  const std::string all = p1 + p2;
  EXPECT_EQ(get("mp"), all);
  EXPECT_EQ(get("mp", byte_range{5 * kMiB - 10, 20}), all.substr(5 * kMiB - 10, 20));
  EXPECT_EQ(good_copies("mp"), GetParam());
  EXPECT_TRUE(store_->list_multipart_uploads("bkt", {}).value().uploads.empty());
  // Degraded and healed.
  const int d = drive_of_shard("mp", 0);
  stdfs::remove(shard_file(d, "mp", 2));
  flip_byte(shard_file(drive_of_shard("mp", 1), "mp", 1), 5);
  EXPECT_EQ(get("mp"), all);
  auto h = store_->heal_object("bkt", "mp");
  ASSERT_TRUE(h);
  EXPECT_EQ(good_copies("mp"), GetParam());
  // Abort.
  auto id2 = store_->new_multipart_upload("bkt", "mp2", {});
  ASSERT_TRUE(id2);
  ASSERT_TRUE(store_->abort_multipart_upload("bkt", "mp2", id2.value()));
  auto gone = store_->list_parts("bkt", "mp2", id2.value(), 0, 100);
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().is(errc::upload_not_found));
}

TEST_P(ErasureStore, Versioning) {
  ASSERT_TRUE(put("k", "unversioned"));  // the null version
  ASSERT_TRUE(store_->set_bucket_config("bkt", "versioning", std::string("Enabled")));
  auto v1 = put("k", "one");
  auto v2 = put("k", random_data(2 * kMiB, 31));
  ASSERT_TRUE(v1 && v2);
  EXPECT_FALSE(v1.value().version_id.empty());
  EXPECT_NE(v1.value().version_id, v2.value().version_id);
  EXPECT_EQ(get("k"), random_data(2 * kMiB, 31));
  EXPECT_EQ(get("k", {}, v1.value().version_id), "one");
  EXPECT_EQ(get("k", {}, "null"), "unversioned");
  // DELETE without a version id adds a marker.
  auto del = store_->delete_object("bkt", "k");
  ASSERT_TRUE(del);
  EXPECT_TRUE(del.value().delete_marker);
  EXPECT_FALSE(del.value().version_id.empty());
  auto st = store_->stat_object("bkt", "k");
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().is(errc::object_not_found));
  auto on_marker = store_->get_object("bkt", "k", {.version_id = del.value().version_id});
  ASSERT_FALSE(on_marker);
  EXPECT_TRUE(on_marker.error().is(errc::method_not_allowed));
  EXPECT_EQ(get("k", {}, v2.value().version_id), random_data(2 * kMiB, 31));
  EXPECT_TRUE(store_->list_objects("bkt", {}).value().objects.empty());
  auto vers = store_->list_object_versions("bkt", {});
  ASSERT_TRUE(vers) << vers.error().message();
  ASSERT_EQ(vers.value().versions.size(), 4u);
  EXPECT_TRUE(vers.value().versions[0].delete_marker);
  EXPECT_TRUE(vers.value().versions[0].is_latest);
  EXPECT_EQ(vers.value().versions[1].version_id, v2.value().version_id);
  EXPECT_FALSE(vers.value().versions[1].is_latest);
  EXPECT_EQ(vers.value().versions[3].version_id, "");
  // Paging through versions.
  auto page = store_->list_object_versions("bkt", {.max_keys = 2});
  ASSERT_TRUE(page);
  EXPECT_TRUE(page.value().truncated);
  auto rest = store_->list_object_versions(
      "bkt", {.key_marker = page.value().next_key_marker, .version_id_marker = page.value().next_version_id_marker});
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest.value().versions.size(), 2u);
  EXPECT_EQ(rest.value().versions[0].version_id, v1.value().version_id);
  // Removing the marker brings the object back; removing a version removes only it.
  ASSERT_TRUE(store_->delete_object("bkt", "k", del.value().version_id));
  EXPECT_EQ(get("k"), random_data(2 * kMiB, 31));
  ASSERT_TRUE(store_->delete_object("bkt", "k", v2.value().version_id));
  EXPECT_EQ(get("k"), "one");
  auto missing = store_->delete_object("bkt", "k", "00000000-0000-0000-0000-000000000000");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(errc::version_not_found));
  // Suspended: writes replace the null version, keep the others.
  ASSERT_TRUE(store_->set_bucket_config("bkt", "versioning", std::string("Suspended")));
  auto s1 = put("k", "suspended write");
  ASSERT_TRUE(s1);
  EXPECT_EQ(s1.value().version_id, "");
  EXPECT_EQ(get("k", {}, "null"), "suspended write");
  EXPECT_EQ(get("k", {}, v1.value().version_id), "one");
  EXPECT_EQ(store_->list_object_versions("bkt", {}).value().versions.size(), 2u);
  // Heal carries every version.
  stdfs::remove_all(key_dir(2, "k"));
  auto h = store_->heal_object("bkt", "k");
  ASSERT_TRUE(h);
  EXPECT_EQ(h.value().shards_written, 2u);
  EXPECT_EQ(meta_on(2, "k")->versions.size(), 2u);
}

TEST_P(ErasureStore, BucketsOnAllDrives) {
  ASSERT_TRUE(store_->make_bucket("second", "me"));
  auto dup = store_->make_bucket("second", "me");
  ASSERT_FALSE(dup);
  EXPECT_TRUE(dup.error().is(errc::bucket_exists));
  for (const auto& d : drives_) EXPECT_TRUE(stdfs::exists(stdfs::path(d) / ".sluice.sys/buckets/second/bucket.json"));
  ASSERT_TRUE(store_->set_bucket_config("second", "tagging", std::string("<Tagging/>")));
  EXPECT_EQ(store_->bucket_config("second", "tagging").value(), std::optional<std::string>("<Tagging/>"));
  EXPECT_EQ(store_->list_buckets().value().size(), 2u);
  ASSERT_TRUE(put("k", "v"));
  auto busy = store_->delete_bucket("bkt");
  ASSERT_FALSE(busy);
  EXPECT_TRUE(busy.error().is(errc::bucket_not_empty));
  ASSERT_TRUE(store_->delete_bucket("second"));
  auto gone = store_->bucket("second");
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().is(errc::bucket_not_found));
}

TEST_P(ErasureStore, CompleteMissingWriteQuorumKeepsUpload) {
  auto id = store_->new_multipart_upload("bkt", "mp", {});
  ASSERT_TRUE(id) << id.error().message();
  const std::string p1 = random_data(5 * kMiB, 51), p2 = random_data(kMiB + 1, 52);
  memory_source s1(p1), s2(p2);
  auto r1 = store_->put_object_part("bkt", "mp", id.value(), 1, s1, {}, {});
  auto r2 = store_->put_object_part("bkt", "mp", id.value(), 2, s2, {}, {});
  ASSERT_TRUE(r1 && r2);
  const std::vector<completed_part> parts = {{1, r1.value().etag}, {2, r2.value().etag}};
  // Too few drives can take the object (their bucket folders are files), the upload's drives are fine.
  const int k = GetParam() - parity();
  const int broken = GetParam() - ec::write_quorum(k, parity()) + 1;
  for (int d = 0; d < broken; ++d) {
    stdfs::rename(stdfs::path(drives_[d]) / "bkt", stdfs::path(drives_[d]) / "bkt.away");
    std::ofstream(stdfs::path(drives_[d]) / "bkt") << "x";
  }
  auto failed = store_->complete_multipart_upload("bkt", "mp", id.value(), parts);
  ASSERT_FALSE(failed);
  EXPECT_TRUE(failed.error().is(errc::write_quorum)) << failed.error().message();
  for (int d = 0; d < broken; ++d) {
    stdfs::remove(stdfs::path(drives_[d]) / "bkt");
    stdfs::rename(stdfs::path(drives_[d]) / "bkt.away", stdfs::path(drives_[d]) / "bkt");
  }
  // Nothing visible, the upload is whole: listed, its parts listed, and the retry succeeds.
  auto st = store_->stat_object("bkt", "mp");
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().is(errc::object_not_found)) << st.error().message();
  EXPECT_EQ(store_->list_multipart_uploads("bkt", {}).value().uploads.size(), 1u);
  auto listed = store_->list_parts("bkt", "mp", id.value(), 0, 100);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed.value().parts.size(), 2u);
  for (const auto& d : drives_) EXPECT_TRUE(stdfs::is_empty(stdfs::path(d) / ".sluice.sys" / "tmp")) << d;
  auto done = store_->complete_multipart_upload("bkt", "mp", id.value(), parts);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(get("mp"), p1 + p2);
  EXPECT_EQ(good_copies("mp"), GetParam());
  EXPECT_TRUE(store_->list_multipart_uploads("bkt", {}).value().uploads.empty());
  auto again = store_->list_parts("bkt", "mp", id.value(), 0, 100);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(errc::upload_not_found));
}

TEST_P(ErasureStore, HealSequencesAndStorageInfo) {
  const std::string big = random_data(2 * kMiB + 7, 61);
  ASSERT_TRUE(put("a/big", big));
  ASSERT_TRUE(put("a/small", "small"));
  ASSERT_TRUE(put("b/other", "other"));
  flip_byte(shard_file(drive_of_shard("a/big", 0), "a/big"), 40);
  auto first = store_->start_heal("bkt", "a/");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first.value().st, heal_status::state::done);  // no background thread: synchronous
  EXPECT_EQ(first.value().reason, "admin");
  EXPECT_EQ(first.value().counts.objects_scanned, 2u);
  EXPECT_EQ(first.value().counts.objects_healed, 1u);
  EXPECT_EQ(first.value().counts.shards_written, 1u);
  EXPECT_EQ(first.value().counts.failed, 0u);
  EXPECT_EQ(good_copies("a/big"), GetParam());
  auto second = store_->start_heal("", "");
  ASSERT_TRUE(second);
  EXPECT_GT(second.value().id, first.value().id);
  EXPECT_EQ(second.value().counts.objects_scanned, 3u);
  EXPECT_EQ(second.value().counts.objects_healed, 0u);
  EXPECT_EQ(store_->last_heal(0).value().id, second.value().id);
  EXPECT_EQ(store_->last_heal(first.value().id).value().counts.objects_healed, 1u);
  EXPECT_FALSE(store_->last_heal(first.value().id + 100));
  auto missing = store_->start_heal("no-such-bucket", "");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(errc::bucket_not_found));

  auto info = store_->storage();
  ASSERT_TRUE(info);
  EXPECT_EQ(info.value().backend, "erasure");
  EXPECT_EQ(info.value().sets, 1);
  EXPECT_EQ(info.value().drives_per_set, GetParam());
  EXPECT_EQ(info.value().parity, parity());
  EXPECT_GT(info.value().total_bytes, 0u);
  // All drive folders share one file system here: counted once.
  EXPECT_EQ(info.value().total_bytes, info.value().drives[0].total_bytes);
  ASSERT_TRUE(info.value().heal);
  EXPECT_EQ(info.value().heal->id, second.value().id);
  auto usage = count_usage(*store_, std::chrono::seconds(10));
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage.value().buckets, 1u);
  EXPECT_EQ(usage.value().objects, 3u);
  EXPECT_EQ(usage.value().bytes, big.size() + 5 + 5);
  EXPECT_TRUE(usage.value().complete);
}

TEST_P(ErasureStore, DeletedDriveFolderIsRecreatedAndHealed) {
  const std::string big = random_data(kMiB + 3, 71);
  ASSERT_TRUE(put("big", big));
  ASSERT_TRUE(put("small", "x"));
  stdfs::remove_all(drives_[1]);
  EXPECT_EQ(get("big"), big);
  store_->check_drives();  // recreates the folder, formats it and runs the full heal (no background thread)
  EXPECT_TRUE(stdfs::exists(stdfs::path(drives_[1]) / ".sluice.sys" / "format.json"));
  EXPECT_EQ(good_copies("big"), GetParam());
  EXPECT_EQ(good_copies("small"), GetParam());
  auto h = store_->last_heal(0);
  ASSERT_TRUE(h);
  EXPECT_EQ(h.value().reason, "drive replaced");
  EXPECT_EQ(h.value().st, heal_status::state::done);
  EXPECT_EQ(h.value().counts.objects_healed, 2u);
  auto info = store_->storage();
  ASSERT_TRUE(info);
  for (const auto& d : info.value().drives) {
    EXPECT_TRUE(d.online) << d.path;
    EXPECT_FALSE(d.healing) << d.path;
  }
}

TEST_P(ErasureStore, BucketCacheFollowsChangesAndQuorum) {
  ASSERT_TRUE(store_->bucket("bkt"));
  ASSERT_TRUE(store_->set_bucket_config("bkt", "versioning", std::string("Enabled")));
  auto v = put("k", "one");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v.value().version_id.empty());  // the new setting is seen at once
  ASSERT_TRUE(store_->set_bucket_config("bkt", "versioning", std::string("Suspended")));
  auto s = put("k", "two");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s.value().version_id.empty());
  ASSERT_TRUE(store_->make_bucket("other", ""));
  ASSERT_TRUE(store_->bucket("other"));
  ASSERT_TRUE(store_->delete_bucket("other"));
  EXPECT_TRUE(store_->bucket("other").error().is(errc::bucket_not_found));
  ASSERT_TRUE(store_->make_bucket("other", "second-owner"));
  EXPECT_EQ(store_->bucket("other").value().owner, "second-owner");
  // More than half the drives gone: the cached bucket does not hide the lost quorum.
  for (int d = 0; d <= GetParam() / 2; ++d) stdfs::remove_all(drives_[d]);
  auto st = store_->stat_object("bkt", "k");
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().is(errc::read_quorum)) << st.error().message();
  auto b = store_->bucket("bkt");
  ASSERT_FALSE(b);
  EXPECT_TRUE(b.error().is(errc::read_quorum)) << b.error().message();
}

INSTANTIATE_TEST_SUITE_P(Drives, ErasureStore, ::testing::Values(4, 8),
                         [](const auto& info) { return std::to_string(info.param) + "drives"; });

TEST(ErasureStoreSets, KeysSpreadOverSetsAndListTogether) {
  const auto root = stdfs::temp_directory_path() / ("sluice-ec-sets-" + random_token(8));
  erasure_store_options o;
  for (int i = 0; i < 18; ++i) o.drives.push_back((root / ("d" + std::to_string(i))).string());  // 2 sets of 9
  o.background = false;
  auto s = open_erasure_store(o);
  ASSERT_TRUE(s) << s.error().message();
  auto& store = *s.value();
  ASSERT_TRUE(store.make_bucket("bkt", ""));
  std::vector<std::string> keys;
  for (int i = 0; i < 16; ++i) {
    keys.push_back("key-" + std::to_string(100 + i));
    memory_source src(keys.back());
    ASSERT_TRUE(store.put_object("bkt", keys.back(), src, {}));
  }
  int on_first_set = 0;
  for (const auto& k : keys) on_first_set += stdfs::exists(root / "d0" / "bkt" / k) ? 1 : 0;
  EXPECT_GT(on_first_set, 0);
  EXPECT_LT(on_first_set, 16);
  auto l = store.list_objects("bkt", {});
  ASSERT_TRUE(l);
  ASSERT_EQ(l.value().objects.size(), 16u);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(l.value().objects[i].key, keys[i]);
    auto r = store.get_object("bkt", keys[i], {});
    ASSERT_TRUE(r);
    EXPECT_EQ(read_all(*r.value(), 100, error(errc::object_too_large)).value(), keys[i]);
  }
  s.value().reset();
  stdfs::remove_all(root);
}

// GET reads whole 1 MiB blocks into its buffer: the shards go straight into
// it (a last shard with padding past the buffer through a scratch copy), and
// a bad shard falls back to rebuilding. Every buffer size gives the same bytes.
TEST(ErasureStoreReads, BufferSizesAndSetSizesGiveTheSameBytes) {
  for (int drives : {4, 5, 6, 8}) {
    const auto root = stdfs::temp_directory_path() / ("sluice-ec-reads-" + random_token(8));
    erasure_store_options o;
    for (int i = 0; i < drives; ++i) o.drives.push_back((root / ("d" + std::to_string(i))).string());
    o.background = false;
    auto s = open_erasure_store(o);
    ASSERT_TRUE(s) << s.error().message();
    auto& store = *s.value();
    ASSERT_TRUE(store.make_bucket("bkt", ""));
    const std::vector<uint64_t> sizes = {1, 200 * 1024, kMiB - 1, kMiB, 3 * kMiB + 17};
    auto read_with = [&](const std::string& key, size_t buf_size, std::optional<byte_range> range = {}) {
      auto r = store.get_object("bkt", key, {.range = range});
      if (!r) return "<error:" + r.error().message() + ">";
      std::string out, buf(buf_size, '\0');
      for (;;) {
        auto n = r.value()->read(buf.data(), buf.size());
        if (!n) return "<read error:" + n.error().message() + ">";
        if (n.value() == 0) return out;
        out.append(buf.data(), n.value());
      }
    };
    for (uint64_t size : sizes) {
      const std::string key = "k" + std::to_string(size);
      const std::string data = random_data(size, static_cast<uint32_t>(size + drives));
      memory_source src(data);
      ASSERT_TRUE(store.put_object("bkt", key, src, {}));
      for (size_t b : {size_t{4096}, size_t{kMiB}, size_t{kMiB + 8}, size_t{7 * kMiB}}) {
        EXPECT_EQ(read_with(key, b), data) << drives << " drives, size " << size << ", buffer " << b;
      }
      if (size > kMiB) {
        EXPECT_EQ(read_with(key, kMiB, byte_range{kMiB, kMiB + 17}), data.substr(kMiB, kMiB + 17));
        // A rotten data shard in block 1: that block is rebuilt, the others still read directly.
        for (int d = 0; d < drives; ++d) {
          auto bytes =
              fs::read_file((root / ("d" + std::to_string(d)) / "bkt" / key / ".sluice.meta").string());
          ASSERT_TRUE(bytes);
          auto m = decode_meta(bytes.value());
          ASSERT_TRUE(m);
          const auto& v = m.value().versions.front();
          if (v.ec->index != 0) continue;
          const uint64_t stride = ec::checksum_size + (kMiB + v.ec->data - 1) / v.ec->data;
          const auto part =
              root / ("d" + std::to_string(d)) / "bkt" / key / (".sluice.d-" + v.data_dir) / "part.1";
          std::fstream f(part, std::ios::in | std::ios::out | std::ios::binary);
          f.seekg(static_cast<std::streamoff>(stride + 40));
          const char c = static_cast<char>(f.get() ^ 0x5a);
          f.seekp(static_cast<std::streamoff>(stride + 40));
          f.put(c);
        }
        EXPECT_EQ(read_with(key, kMiB), data) << drives << " drives, size " << size << ", rotten shard";
      }
    }
    s.value().reset();
    stdfs::remove_all(root);
  }
}

TEST(ErasureStoreBackground, HealQueueRepairsDegradedReads) {
  const auto root = stdfs::temp_directory_path() / ("sluice-ec-bg-" + random_token(8));
  erasure_store_options o;
  for (int i = 0; i < 4; ++i) o.drives.push_back((root / ("d" + std::to_string(i))).string());
  o.drive_check_interval = std::chrono::milliseconds(50);
  auto s = open_erasure_store(o);
  ASSERT_TRUE(s);
  auto& store = *s.value();
  ASSERT_TRUE(store.make_bucket("bkt", ""));
  const std::string data = random_data(kMiB + 9, 41);
  memory_source src(data);
  ASSERT_TRUE(store.put_object("bkt", "k", src, {}));
  stdfs::remove_all(root / "d3" / "bkt" / "k");
  auto r = store.get_object("bkt", "k", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(read_all(*r.value(), 1 << 30, error(errc::object_too_large)).value(), data);
  for (int i = 0; i < 200 && !stdfs::exists(root / "d3" / "bkt" / "k" / ".sluice.meta"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(stdfs::exists(root / "d3" / "bkt" / "k" / ".sluice.meta"));
  // A wiped drive replaced by an empty folder is found by the periodic check and healed.
  stdfs::remove_all(root / "d1");
  stdfs::create_directories(root / "d1");
  for (int i = 0; i < 300 && !stdfs::exists(root / "d1" / "bkt" / "k" / ".sluice.meta"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(stdfs::exists(root / "d1" / "bkt" / "k" / ".sluice.meta"));
  // The full heal is reported, and ends the drive's healing state.
  auto healed = [&] {
    auto h = store.last_heal(0);
    return h && h.value().reason == "drive replaced" && h.value().st == heal_status::state::done &&
           !store.storage().value().drives[1].healing;
  };
  for (int i = 0; i < 300 && !healed(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(healed());
  // Admin sequences run on the heal thread: started at once, one at a time.
  auto started = store.start_heal("bkt", "");
  ASSERT_TRUE(started) << started.error().message();
  EXPECT_EQ(started.value().st, heal_status::state::running);
  auto busy = store.start_heal("", "");
  if (!busy) {
    EXPECT_TRUE(busy.error().is(errc::heal_in_progress)) << busy.error().message();
  }
  auto finished = [&] { return store.last_heal(started.value().id).value().st == heal_status::state::done; };
  for (int i = 0; i < 300 && !finished(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(finished());
  EXPECT_EQ(store.last_heal(started.value().id).value().counts.objects_scanned, 1u);
  store.stop();
  s.value().reset();
  stdfs::remove_all(root);
}

TEST_P(ErasureStore, InternalObjectsCanSkipTheMd5) {
  for (uint64_t size : {uint64_t{100}, 3 * kMiB + 5}) {
    const std::string data = random_data(size, static_cast<uint32_t>(size) + 1);
    memory_source src(data);
    put_options o;
    o.md5_etag = false;
    const std::string key = "xxh-" + std::to_string(size);
    auto r = store_->put_object("bkt", key, src, std::move(o));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r.value().etag, to_hex(xxh3_128(data)));
    EXPECT_EQ(get(key), data);
  }
}

}  // namespace
}  // namespace sluice::objstore
