#include "objstore/erasure_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/fs.h"
#include "base/thread.h"
#include "objstore/erasure/bitrot.h"
#include "objstore/erasure/codec.h"
#include "objstore/erasure/layout.h"
#include "objstore/internal/common.h"
#include "objstore/internal/trash.h"
#include "objstore/meta_file.h"

namespace sluice::objstore {

namespace json = boost::json;
namespace ec = erasure;

namespace {

using namespace detail;

constexpr int kFormatVersion = 2;

bool is_errno(const error& e, int v) { return e.code() == std::error_code(v, std::system_category()); }
bool not_found(const error& e) { return is_errno(e, ENOENT) || is_errno(e, ENOTDIR) || is_errno(e, EISDIR); }

std::optional<ec::deployment_id> parse_deployment_id(const std::string& uuid) {
  std::string hex;
  for (char c : uuid)
    if (c != '-') hex.push_back(c);
  auto raw = from_hex(hex);
  if (!raw || raw->size() != 16) return std::nullopt;
  ec::deployment_id id{};
  std::memcpy(id.data(), raw->data(), 16);
  return id;
}

// Shard bytes held in memory (inline objects): a shard file image.
class memory_shard_source final : public ec::shard_source {
 public:
  explicit memory_shard_source(std::string_view data) : data_(data) {}
  result<size_t> read_at(std::span<const std::span<std::byte>> parts, uint64_t offset) override {
    size_t total = 0;
    for (const auto& p : parts) {
      if (offset >= data_.size()) break;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(p.size(), data_.size() - offset));
      std::memcpy(p.data(), data_.data() + offset, n);
      offset += n;
      total += n;
      if (n < p.size()) break;
    }
    return total;
  }

 private:
  std::string_view data_;
};

class string_shard_sink final : public ec::shard_sink {
 public:
  explicit string_shard_sink(std::string& out) : out_(out) {}
  result<void> append(std::span<const std::span<const std::byte>> parts) override {
    for (const auto& p : parts) out_.append(reinterpret_cast<const char*>(p.data()), p.size());
    return ok();
  }

 private:
  std::string& out_;
};

// A fixed set of worker threads running per-drive steps of one operation in
// parallel. run() blocks until its batch is done; tasks never call run(), so
// the pool cannot deadlock. The queue holds at most one batch per caller.
class io_pool {
 public:
  explicit io_pool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~io_pool() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // Runs fn(0) .. fn(n-1) concurrently (fn(0) on the calling thread).
  void run(int n, const std::function<void(int)>& fn) {
    if (n <= 0) return;
    struct batch {
      std::mutex mu;
      std::condition_variable cv;
      int left = 0;
    };
    auto b = std::make_shared<batch>();
    b->left = n - 1;
    if (n > 1) {
      std::lock_guard l(mu_);
      for (int i = 1; i < n; ++i) {
        queue_.push_back([&fn, b, i] {
          fn(i);
          std::lock_guard bl(b->mu);
          if (--b->left == 0) b->cv.notify_all();
        });
      }
    }
    cv_.notify_all();
    fn(0);
    std::unique_lock bl(b->mu);
    b->cv.wait(bl, [&] { return b->left == 0; });
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock l(mu_);
        cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

struct drive {
  std::string root, sys, tmp, buckets, multipart, format;
  int index = 0;  // position in the pool
  std::atomic<bool> online{true};
  // Formatted empty in place of a lost drive and not fully healed yet: its
  // "no such bucket" answers do not count against the other drives.
  std::atomic<bool> healing{false};
  // Value of the store's format counter when this drive was last formatted:
  // a full heal that began its walk later covers it.
  std::atomic<uint64_t> format_gen{0};
  // File system (st_dev) the folder was last seen on; 0 = not seen yet.
  std::atomic<uint64_t> dev{0};
  // Data folders no version names any more are removed in the background
  // (set once the drive is usable at start; absent on a drive offline then).
  std::unique_ptr<trash> bin;
};

uint64_t device_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_dev) : 0;
}

// One version of a key as one drive holds it, with its inline shard bytes.
struct entry {
  stored_version v;
  std::string inline_bytes;
};

std::vector<entry> expand(const meta_file& m) {
  std::vector<entry> out;
  for (const auto& v : m.versions) {
    entry e{v, {}};
    if (v.inline_data) e.inline_bytes = m.inline_area.substr(v.inline_offset, v.inline_size());
    out.push_back(std::move(e));
  }
  return out;
}

meta_file pack(const std::vector<entry>& entries) {
  meta_file m;
  for (const auto& e : entries) {
    stored_version v = e.v;
    v.info.bucket.clear();
    v.info.key.clear();
    v.info.is_latest = true;
    if (v.inline_data) {
      v.inline_offset = m.inline_area.size();
      if (v.ec) v.inline_length = e.inline_bytes.size();
      m.inline_area += e.inline_bytes;
    }
    m.versions.push_back(std::move(v));
  }
  return m;
}

void sort_newest_first(std::vector<entry>& es) {
  std::stable_sort(es.begin(), es.end(), [](const entry& a, const entry& b) { return a.v.info.mod_time > b.v.info.mod_time; });
}

// What identifies one version across drives: everything but the drive's own shard index.
std::string signature(const stored_version& v) {
  const auto& i = v.info;
  std::string s = i.version_id;
  s += '\n' + std::to_string(unix_nanos(i.mod_time)) + '\n' + i.etag + '\n' + std::to_string(i.size) +
       (i.delete_marker ? "\nM\n" : "\nO\n") + v.data_dir + '\n' + i.tags + '\n';
  for (const auto& [k, val] : i.metadata) s += k + '=' + val + '\n';
  for (const auto& p : i.parts) s += std::to_string(p.number) + ':' + p.etag + ':' + std::to_string(p.size) + '\n';
  if (v.ec) {
    s += std::to_string(v.ec->data) + '/' + std::to_string(v.ec->parity) + '/' + std::to_string(v.ec->block_size) + '/';
    for (int d : v.ec->dist) s += std::to_string(d) + ',';
  }
  return s;
}

// Metadata of one key as read from one drive of its set.
struct drive_meta {
  enum class state { ok, missing, failed, corrupt } st = state::failed;
  std::vector<entry> entries;
};

// A version that enough drives agree on.
struct resolved {
  entry e;                   // copy from one holder (its inline bytes are that holder's shard)
  std::string sig;
  std::vector<int> holders;  // set positions of drives holding this exact version
};

struct part_ref {
  int number;
  uint64_t size;
};

std::vector<part_ref> parts_of(const object_info& info) {
  std::vector<part_ref> out;
  if (info.parts.empty()) {
    out.push_back({1, info.size});
  } else {
    for (const auto& p : info.parts) out.push_back({p.number, p.size});
  }
  return out;
}

std::vector<int> invert_dist(const std::vector<int>& dist) {
  std::vector<int> drive_of_shard(dist.size(), -1);
  for (size_t d = 0; d < dist.size(); ++d) {
    if (dist[d] >= 0 && size_t(dist[d]) < dist.size()) drive_of_shard[dist[d]] = static_cast<int>(d);
  }
  return drive_of_shard;
}

// Rebuilds shard files of one part: reads any k good shards per block from
// `sources` (by set position; null = unusable) and writes the shard each
// `sinks` entry is due (by set position) framed with bitrot checksums.
result<void> rebuild_part(const ec::codec& c, const erasure_info& e, uint64_t part_size,
                          const std::vector<ec::shard_source*>& sources, const std::vector<ec::shard_sink*>& sinks) {
  const int n = c.total_shards(), k = c.data_shards();
  const ec::shard_layout layout{part_size, e.block_size, k};
  const auto drive_of_shard = invert_dist(e.dist);
  std::vector<std::unique_ptr<ec::bitrot_writer>> writers(n);
  for (int d = 0; d < n; ++d) {
    if (sinks[d]) writers[d] = std::make_unique<ec::bitrot_writer>(*sinks[d], layout.full_shard_block_len());
  }
  std::vector<std::vector<std::byte>> shards(n);
  std::vector<std::span<std::byte>> spans(n);
  for (uint64_t i = 0; i < layout.block_count(); ++i) {
    const size_t len = layout.shard_block_len(i);
    for (int s = 0; s < n; ++s) {
      shards[s].resize(len);
      spans[s] = shards[s];
    }
    std::vector<bool> present(n, false);
    int have = 0;
    for (int s = 0; s < n && have < k; ++s) {
      const int d = drive_of_shard[s];
      if (d < 0 || !sources[d]) continue;
      if (ec::bitrot_reader(*sources[d], layout).read_block(i, spans[s])) {
        present[s] = true;
        ++have;
      }
    }
    if (have < k) return fail(errc::read_quorum, "fewer than " + std::to_string(k) + " good shards in block " + std::to_string(i));
    if (have < n) {
      if (auto r = c.reconstruct(spans, present, false); !r) return fail(errc::corrupt, r.error().message());
    }
    for (int d = 0; d < n; ++d) {
      if (!writers[d]) continue;
      if (auto r = writers[d]->write_block(spans[e.dist[d]]); !r) return fail(io(r.error()));
    }
  }
  return ok();
}

// Serves bytes [offset, offset+length) of an erasure-coded version, decoding
// one block at a time from k good shards (data shards first: no decoding
// when they are all good).
class ec_reader final : public object_reader {
 public:
  struct input {
    bool usable = false;
    bool is_inline = false;
    std::string inline_bytes;
    std::string data_dir;  // path of .sluice.d-<uuid> on the drive
    fs::file file;
    int file_part = -1;  // index into parts_ of the open file; file invalid = could not open
  };

  ec_reader(object_info info, erasure_info e, ec::codec c, std::vector<input> inputs, uint64_t offset,
            uint64_t length, std::function<void()> on_degraded)
      : info_(std::move(info)), e_(std::move(e)), codec_(std::move(c)), inputs_(std::move(inputs)),
        parts_(parts_of(info_)), drive_of_shard_(invert_dist(e_.dist)), pos_(offset), end_(offset + length),
        on_degraded_(std::move(on_degraded)) {}

  const object_info& info() const override { return info_; }

  result<void> set_range(uint64_t offset, uint64_t length) override {
    if (offset + length > info_.size) return fail(errc::invalid_range);
    pos_ = offset;
    end_ = offset + length;
    return ok();
  }

  // Opens the first part's shard files now, so that a concurrent overwrite
  // cannot pull them away; returns how many opened.
  int open_first_part() {
    int opened = 0;
    for (size_t d = 0; d < inputs_.size(); ++d) {
      auto& in = inputs_[d];
      if (!in.usable) continue;
      if (in.is_inline || open_part(in, 0)) ++opened;
    }
    return opened;
  }

  result<size_t> read(char* buf, size_t n) override {
    if (pos_ >= end_) return size_t{0};
    if (pos_ < buf_start_ || pos_ >= buf_start_ + block_.size()) {
      if (auto direct = read_whole_block(buf, n)) return *direct;
      SLUICE_TRY(load(pos_));
    }
    const size_t k = static_cast<size_t>(std::min<uint64_t>({n, buf_start_ + block_.size() - pos_, end_ - pos_}));
    std::memcpy(buf, block_.data() + (pos_ - buf_start_), k);
    pos_ += k;
    return k;
  }

 private:
  void degraded() {
    if (!degraded_ && on_degraded_) on_degraded_();
    degraded_ = true;
  }

  bool open_part(input& in, int part) {
    in.file_part = part;
    auto f = fs::file::open(fs::join(in.data_dir, "part." + std::to_string(parts_[part].number)), O_RDONLY);
    in.file = f ? std::move(f).value() : fs::file();
    return in.file.valid();
  }

  bool read_shard(int d, int part, const ec::shard_layout& layout, uint64_t block, std::span<std::byte> out) {
    auto& in = inputs_[d];
    if (in.is_inline) {
      memory_shard_source src(in.inline_bytes);
      return bool(ec::bitrot_reader(src, layout).read_block(block, out));
    }
    if (in.file_part != part) open_part(in, part);
    if (!in.file.valid()) return false;
    ec::fd_shard_source src(in.file.fd());
    return bool(ec::bitrot_reader(src, layout).read_block(block, out));
  }

  // The common case of a GET: a whole block is wanted and fits the caller's
  // buffer, and its data shards are good. They are read (and verified)
  // straight into the buffer, so the bytes are not copied again; only a last
  // shard whose padding would overflow the buffer goes through scratch_.
  // nullopt: take the general path (load), which rebuilds what is missing.
  std::optional<size_t> read_whole_block(char* buf, size_t n) {
    uint64_t base = 0;
    int part = 0;
    while (part < static_cast<int>(parts_.size()) && pos_ >= base + parts_[part].size)
      base += parts_[part++].size;
    if (part == static_cast<int>(parts_.size()) || (pos_ - base) % e_.block_size != 0) return std::nullopt;
    const int k = codec_.data_shards();
    const ec::shard_layout layout{parts_[part].size, e_.block_size, k};
    const uint64_t block = (pos_ - base) / e_.block_size;
    const uint64_t block_len = layout.block_len(block);
    const size_t slen = layout.shard_block_len(block);
    if (block_len > n || block_len > end_ - pos_) return std::nullopt;
    auto* out = reinterpret_cast<std::byte*>(buf);
    for (int s = 0; s < k; ++s) {
      const int d = drive_of_shard_[s];
      if (d < 0 || !inputs_[d].usable) return std::nullopt;
      const size_t at = static_cast<size_t>(s) * slen;
      if (at >= block_len) break;  // only padding left (a block smaller than k bytes)
      if (at + slen <= n) {
        if (!read_shard(d, part, layout, block, std::span(out + at, slen))) return std::nullopt;
      } else {
        scratch_.resize(slen);
        if (!read_shard(d, part, layout, block, scratch_)) return std::nullopt;
        std::memcpy(out + at, scratch_.data(), static_cast<size_t>(std::min<uint64_t>(slen, block_len - at)));
      }
    }
    pos_ += block_len;
    return static_cast<size_t>(block_len);
  }

  result<void> load(uint64_t pos) {
    uint64_t base = 0;
    int part = 0;
    while (part < static_cast<int>(parts_.size()) && pos >= base + parts_[part].size) base += parts_[part++].size;
    if (part == static_cast<int>(parts_.size())) return fail(errc::corrupt, "read past the end of the object");
    const int n = codec_.total_shards(), k = codec_.data_shards();
    const ec::shard_layout layout{parts_[part].size, e_.block_size, k};
    const uint64_t block = (pos - base) / e_.block_size;
    const size_t len = layout.shard_block_len(block);
    shards_.resize(n);
    spans_.resize(n);
    for (int s = 0; s < n; ++s) {
      shards_[s].resize(len);
      spans_[s] = shards_[s];
    }
    std::vector<bool> present(n, false);
    int have = 0;
    for (int s = 0; s < n && have < k; ++s) {
      const int d = drive_of_shard_[s];
      if (d < 0 || !inputs_[d].usable) continue;
      if (read_shard(d, part, layout, block, spans_[s])) {
        present[s] = true;
        ++have;
      } else {
        degraded();
      }
    }
    if (have < k) {
      return fail(errc::read_quorum, info_.bucket + "/" + info_.key + ": fewer than " + std::to_string(k) +
                                         " good shards for block " + std::to_string(block));
    }
    bool data_missing = false;
    for (int s = 0; s < k; ++s) data_missing = data_missing || !present[s];
    if (data_missing) {
      if (auto r = codec_.reconstruct(spans_, present, true); !r) return fail(errc::corrupt, r.error().message());
    }
    block_.resize(static_cast<size_t>(layout.block_len(block)));
    if (auto r = codec_.join(spans_, block_); !r) return fail(errc::corrupt, r.error().message());
    buf_start_ = base + block * e_.block_size;
    return ok();
  }

  object_info info_;
  erasure_info e_;
  ec::codec codec_;
  std::vector<input> inputs_;
  std::vector<part_ref> parts_;
  std::vector<int> drive_of_shard_;
  std::vector<std::vector<std::byte>> shards_;
  std::vector<std::span<std::byte>> spans_;
  std::vector<std::byte> block_;
  std::vector<std::byte> scratch_;
  uint64_t buf_start_ = 0;
  uint64_t pos_;
  uint64_t end_;
  bool degraded_ = false;
  std::function<void()> on_degraded_;
};

// Serves a version without shards (an empty object).
class empty_reader final : public object_reader {
 public:
  explicit empty_reader(object_info info) : info_(std::move(info)) {}
  const object_info& info() const override { return info_; }
  result<void> set_range(uint64_t offset, uint64_t length) override {
    if (offset + length > 0) return fail(errc::invalid_range);
    return ok();
  }
  result<size_t> read(char*, size_t) override { return size_t{0}; }

 private:
  object_info info_;
};

enum class versioning { off, enabled, suspended };

// Result of streaming a body into shards.
struct encoded {
  uint64_t size = 0;
  std::string etag_hex;  // MD5, or XXH3-128 (put_options::md5_etag)
  bool is_inline = false;
  std::vector<std::string> inline_shards;  // by set position: that drive's shard file image
  std::string staging;                     // tmp/<staging>/ on every drive with ok[d]
  std::vector<uint8_t> ok;                 // by set position
};

class erasure_store_impl final : public erasure_store {
 public:
  explicit erasure_store_impl(erasure_store_options opts)
      : opts_(std::move(opts)), pool_(std::min<int>(32, std::max<int>(2, static_cast<int>(opts_.drives.size())))) {}

  ~erasure_store_impl() override { stop(); }

  result<void> init() {
    if (opts_.drives.empty()) return fail(errc::bad_argument, "no drives given");
    if (opts_.block_size == 0) return fail(errc::bad_argument, "block size must be positive");
    auto geo = ec::choose_sets(static_cast<int>(opts_.drives.size()));
    if (!geo) return fail(errc::bad_argument, geo.error().message());
    set_count_ = geo.value().set_count;
    per_set_ = geo.value().drives_per_set;
    parity_ = opts_.parity < 0 ? ec::default_parity(per_set_) : opts_.parity;
    for (size_t i = 0; i < opts_.drives.size(); ++i) {
      auto d = std::make_unique<drive>();
      d->root = opts_.drives[i];
      d->sys = fs::join(d->root, kSys);
      d->tmp = fs::join(d->sys, "tmp");
      d->buckets = fs::join(d->sys, "buckets");
      d->multipart = fs::join(d->sys, "multipart");
      d->format = fs::join(d->sys, "format.json");
      d->index = static_cast<int>(i);
      drives_.push_back(std::move(d));
    }
    // Read every drive's format: all formatted drives must agree on the deployment and their place.
    std::vector<uint8_t> unformatted(drives_.size(), 0);
    int stored_parity = -1;
    for (auto& d : drives_) {
      (void)fs::mkdirs(d->root);
      auto f = read_json(d->format);
      if (!f) {
        if (!not_found(f.error())) {
          spdlog::warn("drive {}: cannot read its format ({}); offline", d->root, f.error().message());
          d->online = false;
          continue;
        }
        auto entries = fs::list_dir(d->root);
        if (!entries || !entries.value().empty()) {
          spdlog::warn("drive {}: not empty and not formatted; offline", d->root);
          d->online = false;
          continue;
        }
        unformatted[d->index] = 1;
        continue;
      }
      const auto& o = f.value();
      if (jnum(o, "format") != kFormatVersion || jstr(o, "layout") != "erasure") {
        return fail(errc::corrupt, "drive " + d->root + " holds another format (single-drive deployment?)");
      }
      const std::string id = jstr(o, "id");
      if (deployment_.empty()) {
        deployment_ = id;
      } else if (id != deployment_) {
        return fail(errc::corrupt, "drive " + d->root + " belongs to deployment " + id + ", not " + deployment_);
      }
      if (jnum(o, "drive") != d->index || jnum(o, "sets") != set_count_ || jnum(o, "drives_per_set") != per_set_) {
        return fail(errc::corrupt, "drive " + d->root + " was formatted as drive " + std::to_string(jnum(o, "drive")) +
                                       " of " + std::to_string(jnum(o, "sets")) + "x" +
                                       std::to_string(jnum(o, "drives_per_set")) + "; drive order or count changed");
      }
      stored_parity = static_cast<int>(jnum(o, "parity"));
    }
    if (deployment_.empty()) deployment_ = uuid_v4();
    if (stored_parity >= 0) {
      if (opts_.parity >= 0 && opts_.parity != stored_parity) {
        spdlog::warn("parity {} requested, drives were formatted with {}; using {}", opts_.parity, stored_parity,
                     stored_parity);
      }
      parity_ = stored_parity;
    }
    if (auto r = ec::validate_parity(parity_, per_set_); !r) return fail(errc::bad_argument, r.error().message());
    default_k_ = per_set_ - parity_;
    auto id = parse_deployment_id(deployment_);
    if (!id) return fail(errc::corrupt, "bad deployment id " + deployment_);
    placement_id_ = *id;
    bool any_formatted = false;
    for (auto& d : drives_) {
      if (!d->online) continue;
      if (unformatted[d->index]) {
        if (auto r = format_drive(*d); !r) {
          spdlog::warn("drive {}: cannot format: {}", d->root, r.error().message());
          d->online = false;
          continue;
        }
        fresh_ = true;
        d->healing = true;
      } else {
        any_formatted = true;
      }
      for (const auto& dir : {d->tmp, d->buckets, d->multipart}) (void)fs::mkdirs(dir);
      if (auto entries = fs::list_dir(d->tmp); entries) {
        for (const auto& e : entries.value()) (void)fs::remove_all(fs::join(d->tmp, e.name));
        if (!entries.value().empty()) {
          spdlog::info("cleaned {} interrupted writes in {}", entries.value().size(), d->tmp);
        }
      }
      d->bin = std::make_unique<trash>(fs::join(d->sys, "trash"));
    }
    for (auto& d : drives_) {
      if (d->online) d->dev = device_of(d->root);
    }
    const int online = static_cast<int>(std::count_if(drives_.begin(), drives_.end(), [](auto& d) { return d->online.load(); }));
    if (online < std::max(1, static_cast<int>(drives_.size()) / 2)) {
      return fail(errc::read_quorum, std::to_string(online) + " of " + std::to_string(drives_.size()) + " drives usable");
    }
    if (!any_formatted) {  // a brand-new deployment has nothing to heal
      fresh_ = false;
      for (auto& d : drives_) d->healing = false;
    }
    if (opts_.background) {
      bg_ = named_thread("store-bg", [this] { background_loop(); });
      heal_thread_ = named_thread("store-heal", [this] { heal_loop(); });
    }
    if (fresh_) schedule_full_heal();
    return ok();
  }

  // ---------------------------------------------------------------- erasure_store

  void stop() override {
    {
      std::lock_guard l(bg_mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    {
      std::lock_guard l(heal_mu_);
      stop_requested_ = true;
    }
    bg_cv_.notify_all();
    heal_cv_.notify_all();
    if (bg_.joinable()) bg_.join();
    if (heal_thread_.joinable()) heal_thread_.join();  // a running sequence stops at its next object
  }

  size_t heal_backlog() override {
    std::lock_guard l(bg_mu_);
    return heal_queue_.size();
  }

  void check_drives() override {
    if (probe_drives()) schedule_full_heal();
  }

  result<heal_status> start_heal(const std::string& bucket, const std::string& prefix) override {
    if (!bucket.empty()) {
      SLUICE_TRY(this->bucket(bucket));
    } else if (!prefix.empty()) {
      return fail(errc::bad_argument, "a prefix needs a bucket");
    }
    std::unique_lock l(heal_mu_);
    if (stop_requested_) return fail(errc::io_error, "the server is stopping");
    if (heal_.st == heal_status::state::running || admin_request_) {
      return fail(errc::heal_in_progress, "heal " + std::to_string(heal_.id) + " (" + heal_.reason + ", " +
                                              (heal_.bucket.empty() ? std::string("every bucket")
                                                                    : heal_.bucket + "/" + heal_.prefix) +
                                              ") is running");
    }
    begin_sequence_locked("admin", bucket, prefix);
    heal_status started = heal_;
    if (opts_.background) {
      admin_request_ = true;
      heal_cv_.notify_all();
      return started;
    }
    l.unlock();
    run_sequence(bucket, prefix);
    l.lock();
    heal_status finished = heal_;
    const bool pending = full_heal_pending_;
    l.unlock();
    if (pending) schedule_full_heal();
    return finished;
  }

  result<heal_status> last_heal(uint64_t id) override {
    std::lock_guard l(heal_mu_);
    if (id == 0 || id == heal_.id) return heal_;
    for (const auto& h : heal_history_) {
      if (h.id == id) return h;
    }
    return fail(errc::bad_argument, "heal " + std::to_string(id) + " is unknown or too old");
  }

  result<heal_result> heal_object(const std::string& bucket, const std::string& key) override {
    if (auto why = invalid_object_key(key)) return fail(errc::invalid_object_name, *why);
    SLUICE_TRY(heal_bucket_meta(bucket));  // a wiped drive needs its bucket folder back first
    std::lock_guard lock(key_lock(bucket, key));
    return heal_object_locked(bucket, key);
  }

  result<heal_result> heal_bucket(const std::string& bucket, const std::string& prefix) override {
    return heal_scope(bucket, prefix, {});
  }

  // heal_bucket, reporting the running totals to `progress` after every object.
  result<heal_result> heal_scope(const std::string& bucket, const std::string& prefix,
                                 const std::function<void(const heal_result&)>& progress) {
    heal_result total;
    std::vector<std::string> names;
    if (bucket.empty()) {
      names = bucket_names();
    } else {
      names.push_back(bucket);
    }
    for (const auto& b : names) {
      if (stopping()) break;
      if (auto r = heal_bucket_meta(b); !r) {
        if (!bucket.empty()) return fail(r.error());
        continue;
      }
      list_options lo;
      lo.prefix = prefix;
      std::string start;
      if (auto slash = prefix.rfind('/'); slash != std::string::npos) start = prefix.substr(0, slash + 1);
      auto emit = [&](const std::string& key, bool is_object) -> bool {
        if (stopping()) return false;
        if (!is_object || !key.starts_with(prefix)) return true;
        auto r = [&] {
          std::lock_guard lock(key_lock(b, key));
          return heal_object_locked(b, key);
        }();
        if (!r) {
          ++total.objects_scanned;
          ++total.failed;
        } else {
          total.objects_scanned += r.value().objects_scanned;
          total.objects_healed += r.value().objects_healed;
          total.shards_written += r.value().shards_written;
          total.failed += r.value().failed;
        }
        if (progress) progress(total);
        return true;
      };
      walk_keys([&](const std::string& rel) { return merged_dir(b, rel); }, start, lo, std::string(), emit);
    }
    return total;
  }

  // ---------------------------------------------------------------- buckets

  result<void> make_bucket(const std::string& bucket, const std::string& owner) override {
    if (!valid_bucket_name(bucket)) return fail(errc::invalid_bucket_name, bucket);
    std::lock_guard lock(bucket_mu_);
    if (auto b = this->bucket(bucket); b) return fail(errc::bucket_exists, bucket);
    json::object bj{{"name", bucket}, {"created", unix_nanos(std::chrono::system_clock::now())}, {"owner", owner}};
    const std::string doc = json::serialize(bj);
    std::vector<uint8_t> done(drives_.size(), 0);
    pool_.run(static_cast<int>(drives_.size()), [&](int i) {
      drive& d = *drives_[i];
      if (!d.online) return;
      if (auto r = create_bucket_on(d, bucket, doc); !r) {
        note_failure(d, r.error());
        return;
      }
      done[i] = 1;
    });
    invalidate_bucket(bucket);
    if (count(done) < bucket_write_quorum()) {
      for (size_t i = 0; i < drives_.size(); ++i) {
        if (done[i]) remove_bucket_on(*drives_[i], bucket);
      }
      return fail(errc::write_quorum, "bucket " + bucket + " could not be created on enough drives");
    }
    return ok();
  }

  result<bucket_info> bucket(const std::string& bucket) override {
    if (!valid_bucket_name(bucket)) return fail(errc::bucket_not_found, bucket);
    uint64_t gen = 0;
    if (auto hit = cached_bucket_info(bucket, gen)) return *hit;
    int found = 0, answered = 0;
    std::optional<bucket_info> info;
    for (auto& d : drives_) {
      if (!d->online) continue;
      auto j = read_json(fs::join(fs::join(d->buckets, bucket), "bucket.json"));
      if (!j) {
        if (not_found(j.error()) && fs::exists(d->format) && !d->healing) ++answered;
        continue;
      }
      ++answered;
      ++found;
      if (!info) info = bucket_info{bucket, from_unix_nanos(jnum(j.value(), "created")), jstr(j.value(), "owner")};
    }
    if (info && found >= bucket_read_quorum()) {
      cache_bucket(*info, gen);
      return *info;
    }
    if (answered - found >= bucket_read_quorum() || (!info && answered >= bucket_read_quorum())) {
      return fail(errc::bucket_not_found, bucket);
    }
    return fail(errc::read_quorum, "too few drives answered for bucket " + bucket);
  }

  result<std::vector<bucket_info>> list_buckets() override {
    std::vector<bucket_info> out;
    for (const auto& name : bucket_names()) {
      if (auto b = bucket(name); b) out.push_back(std::move(b).value());
    }
    return out;
  }

  result<void> delete_bucket(const std::string& bucket) override {
    SLUICE_TRY(this->bucket(bucket));
    std::lock_guard lock(bucket_mu_);
    for (auto& d : drives_) {
      if (!d->online) continue;
      auto entries = fs::list_dir(fs::join(d->root, bucket));
      if (!entries) continue;
      for (const auto& e : entries.value()) {
        if (!reserved(e.name)) return fail(errc::bucket_not_empty, bucket);
      }
    }
    int done = 0;
    for (auto& d : drives_) {
      if (!d->online) continue;
      if (remove_bucket_on(*d, bucket)) ++done;
    }
    invalidate_bucket(bucket);
    if (done < bucket_write_quorum()) return fail(errc::write_quorum, "bucket " + bucket + " removed from too few drives");
    return ok();
  }

  result<std::optional<std::string>> bucket_config(const std::string& bucket, const std::string& name) override {
    SLUICE_TRY(this->bucket(bucket));
    uint64_t gen = 0;
    if (auto hit = cached_config(bucket, name, gen)) return *hit;
    std::map<std::optional<std::string>, int> votes;
    int answered = 0;
    for (auto& d : drives_) {
      if (!d->online) continue;
      auto r = fs::read_file(fs::join(fs::join(d->buckets, bucket), name + ".cfg"));
      if (r) {
        ++votes[std::move(r).value()];
        ++answered;
      } else if (not_found(r.error())) {
        ++votes[std::nullopt];
        ++answered;
      }
    }
    const std::pair<const std::optional<std::string>, int>* best = nullptr;
    for (const auto& v : votes) {
      if (!best || v.second > best->second) best = &v;
    }
    if (!best || best->second < bucket_read_quorum()) {
      return fail(errc::read_quorum, "drives disagree on " + name + " of bucket " + bucket);
    }
    cache_config(bucket, name, best->first, gen);
    return best->first;
  }

  result<void> set_bucket_config(const std::string& bucket, const std::string& name,
                                 std::optional<std::string> value) override {
    SLUICE_TRY(this->bucket(bucket));
    std::lock_guard lock(bucket_mu_);
    std::vector<uint8_t> done(drives_.size(), 0);
    pool_.run(static_cast<int>(drives_.size()), [&](int i) {
      drive& d = *drives_[i];
      if (!d.online) return;
      const std::string dir = fs::join(d.buckets, bucket);
      const std::string path = fs::join(dir, name + ".cfg");
      result<void> r = ok();
      if (!value) {
        r = fs::remove(path);
        if (r) r = fs::fsync_dir(dir);
      } else {
        r = fs::write_file_durable(path, *value);
      }
      if (!r) {
        note_failure(d, r.error());
        return;
      }
      done[i] = 1;
    });
    invalidate_bucket(bucket);
    if (count(done) < bucket_write_quorum()) {
      return fail(errc::write_quorum, name + " of bucket " + bucket + " written to too few drives");
    }
    return ok();
  }

  // ---------------------------------------------------------------- objects

  result<object_info> put_object(const std::string& bucket, const std::string& key, source& data,
                                 put_options opts) override {
    SLUICE_TRY(check_key(bucket, key));
    SLUICE_TRY(auto ver, versioning_of(bucket));
    const int set = set_of(bucket, key);
    SLUICE_TRY(auto c, codec_for(default_k_, parity_));
    const auto dist = ec::shard_order(key, per_set_);
    SLUICE_TRY(auto enc,
               encode_stream(set, data, std::min(opts_.max_object_size, opts.size.value_or(UINT64_MAX)), true,
                             c, dist, "part.1", opts.md5_etag));
    auto cleanup = [&] {
      if (!enc.is_inline) remove_staging(set, enc.staging);
    };
    if (opts.size && *opts.size != enc.size) {
      cleanup();
      return fail(errc::bad_argument, "body length differs from the declared size");
    }
    object_info info;
    info.bucket = bucket;
    info.key = key;
    info.size = enc.size;
    info.etag = enc.etag_hex;
    info.mod_time = std::chrono::system_clock::now();
    info.metadata = std::move(opts.metadata);
    info.tags = std::move(opts.tags);
    info.version_id = ver == versioning::enabled ? uuid_v4() : std::string();
    if (opts.finalize) {
      if (auto r = opts.finalize(info); !r) {
        cleanup();
        return fail(r.error());
      }
    }
    entry e;
    e.v.info = info;
    e.v.ec = erasure_info{default_k_, parity_, opts_.block_size, 0, dist, std::string(ec::bitrot_algorithm)};
    e.v.inline_data = enc.is_inline;
    if (!enc.is_inline) e.v.data_dir = uuid_v4();
    std::lock_guard lock(key_lock(bucket, key));
    auto r = update_metas(set, bucket, key, enc.ok, true, ec::write_quorum(default_k_, parity_),
                          [&](int d, std::vector<entry>& entries) -> result<bool> {
                            drive& dr = set_drive(set, d);
                            if (!enc.is_inline) {
                              SLUICE_TRY(move_into_object(dr, bucket, key, fs::join(dr.tmp, enc.staging), e.v.data_dir));
                            }
                            entry mine = e;
                            mine.v.ec->index = dist[d];
                            if (enc.is_inline) mine.inline_bytes = enc.inline_shards[d];
                            if (ver != versioning::enabled) {
                              std::erase_if(entries, [](const entry& x) { return x.v.info.version_id.empty(); });
                            }
                            entries.insert(entries.begin(), std::move(mine));
                            return true;
                          });
    cleanup();
    if (!r) return fail(r.error());
    queue_if_partial(bucket, key, r.value());
    return info;
  }

  result<object_info> stat_object(const std::string& bucket, const std::string& key,
                                  const std::string& version_id) override {
    SLUICE_TRY(check_key(bucket, key));
    const int set = set_of(bucket, key);
    auto metas = read_metas(set, bucket, key);
    SLUICE_TRY(auto rv, resolve(metas, version_id, key));
    object_info info = rv.e.v.info;
    info.bucket = bucket;
    info.key = key;
    if (info.delete_marker) {
      return version_id.empty() ? fail(errc::object_not_found, key)
                                : fail(errc::method_not_allowed, "version is a delete marker");
    }
    for (int d = 0; d < per_set_; ++d) {
      if (set_drive(set, d).online && std::find(rv.holders.begin(), rv.holders.end(), d) == rv.holders.end()) {
        enqueue_heal(bucket, key);
        break;
      }
    }
    return info;
  }

  result<std::unique_ptr<object_reader>> get_object(const std::string& bucket, const std::string& key,
                                                    const get_options& opts) override {
    SLUICE_TRY(check_key(bucket, key));
    const int set = set_of(bucket, key);
    for (int attempt = 0;; ++attempt) {
      auto metas = read_metas(set, bucket, key);
      SLUICE_TRY(auto rv, resolve(metas, opts.version_id, key));
      object_info info = rv.e.v.info;
      info.bucket = bucket;
      info.key = key;
      if (info.delete_marker) {
        return opts.version_id.empty() ? fail(errc::object_not_found, key)
                                       : fail(errc::method_not_allowed, "version is a delete marker");
      }
      uint64_t offset = 0, length = info.size;
      if (opts.range) {
        if (opts.range->offset + opts.range->length > info.size) return fail(errc::invalid_range);
        offset = opts.range->offset;
        length = opts.range->length;
      }
      if (!rv.e.v.ec || info.size == 0) {
        if (info.size != 0) return fail(errc::corrupt, bucket + "/" + key + ": version without erasure info");
        return std::unique_ptr<object_reader>(std::make_unique<empty_reader>(std::move(info)));
      }
      const erasure_info e = *rv.e.v.ec;
      SLUICE_TRY(auto c, codec_for(e.data, e.parity));
      std::vector<ec_reader::input> inputs(per_set_);
      bool missing = false;  // an online drive lacks this version: heal it
      for (int d = 0; d < per_set_; ++d) {
        if (set_drive(set, d).online && std::find(rv.holders.begin(), rv.holders.end(), d) == rv.holders.end()) missing = true;
      }
      for (int d : rv.holders) {
        auto& in = inputs[d];
        const entry* mine = find_entry(metas[d], rv.sig);
        if (!mine || !mine->v.ec || mine->v.ec->index != e.dist[d]) continue;
        in.usable = true;
        in.is_inline = mine->v.inline_data;
        in.inline_bytes = mine->inline_bytes;
        in.data_dir = fs::join(object_dir(set_drive(set, d), bucket, key), std::string(kDataPrefix) + rv.e.v.data_dir);
      }
      auto reader = std::make_unique<ec_reader>(std::move(info), e, std::move(c), std::move(inputs), offset, length,
                                                [this, bucket, key] { enqueue_heal(bucket, key); });
      if (reader->open_first_part() < e.data && attempt < 3) continue;  // overwritten meanwhile: read again
      if (missing) enqueue_heal(bucket, key);
      return std::unique_ptr<object_reader>(std::move(reader));
    }
  }

  result<object_info> update_object_metadata(const std::string& bucket, const std::string& key,
                                             const std::string& version_id, std::optional<metadata_map> metadata,
                                             std::optional<std::string> tags) override {
    SLUICE_TRY(check_key(bucket, key));
    const int set = set_of(bucket, key);
    std::lock_guard lock(key_lock(bucket, key));
    auto metas = read_metas(set, bucket, key);
    SLUICE_TRY(auto rv, resolve(metas, version_id, key));
    if (rv.e.v.info.delete_marker) return fail(errc::method_not_allowed, "version is a delete marker");
    object_info info = rv.e.v.info;
    if (metadata) {
      info.metadata = std::move(*metadata);
      info.mod_time = std::chrono::system_clock::now();
    }
    if (tags) info.tags = std::move(*tags);
    std::vector<uint8_t> all(per_set_, 1);
    auto r = update_metas(set, bucket, key, all, false, ec::write_quorum(default_k_, parity_),
                          [&](int, std::vector<entry>& entries) -> result<bool> {
                            for (auto& x : entries) {
                              if (signature(x.v) != rv.sig) continue;
                              x.v.info.metadata = info.metadata;
                              x.v.info.mod_time = info.mod_time;
                              x.v.info.tags = info.tags;  // keeps its place: an older version stays older
                              return true;
                            }
                            return fail(errc::version_not_found, "version missing on this drive");
                          });
    if (!r) return fail(r.error());
    queue_if_partial(bucket, key, r.value());
    info.bucket = bucket;
    info.key = key;
    return info;
  }

  result<object_info> delete_object(const std::string& bucket, const std::string& key,
                                    const std::string& version_id) override {
    SLUICE_TRY(check_key(bucket, key));
    SLUICE_TRY(auto ver, versioning_of(bucket));
    const int set = set_of(bucket, key);
    std::lock_guard lock(key_lock(bucket, key));
    object_info removed;
    removed.bucket = bucket;
    removed.key = key;
    auto metas = read_metas(set, bucket, key);
    std::vector<uint8_t> all(per_set_, 1);
    const int wq = ec::write_quorum(default_k_, parity_);
    if (version_id.empty() && ver != versioning::off) {
      // A delete marker becomes the latest version (the null one when suspended).
      entry marker;
      marker.v.info.delete_marker = true;
      marker.v.info.mod_time = std::chrono::system_clock::now();
      marker.v.info.version_id = ver == versioning::enabled ? uuid_v4() : std::string();
      auto r = update_metas(set, bucket, key, all, true, wq, [&](int, std::vector<entry>& entries) -> result<bool> {
        if (ver == versioning::suspended) {
          std::erase_if(entries, [](const entry& x) { return x.v.info.version_id.empty(); });
        }
        entries.insert(entries.begin(), marker);
        return true;
      });
      if (!r) return fail(r.error());
      queue_if_partial(bucket, key, r.value());
      removed.delete_marker = true;
      removed.version_id = marker.v.info.version_id;
      removed.mod_time = marker.v.info.mod_time;
      return removed;
    }
    const std::string target = version_id == "null" ? std::string() : version_id;
    auto rv = resolve(metas, version_id.empty() ? std::string("null") : version_id, key);
    if (!rv) {
      if (rv.error().is(errc::object_not_found) || (version_id.empty() && rv.error().is(errc::version_not_found))) {
        return removed;
      }
      return fail(rv.error());
    }
    removed = rv.value().e.v.info;
    removed.bucket = bucket;
    removed.key = key;
    auto r = update_metas(set, bucket, key, all, false, wq, [&](int, std::vector<entry>& entries) -> result<bool> {
      const size_t before = entries.size();
      std::erase_if(entries, [&](const entry& x) { return x.v.info.version_id == target; });
      return entries.size() != before;
    });
    if (!r) return fail(r.error());
    queue_if_partial(bucket, key, r.value());
    return removed;
  }

  result<list_result> list_objects(const std::string& bucket, const list_options& opts) override {
    SLUICE_TRY(this->bucket(bucket));
    if (opts.max_keys <= 0) return list_result{};
    std::string start;
    if (auto slash = opts.prefix.rfind('/'); slash != std::string::npos) start = opts.prefix.substr(0, slash + 1);
    list_page page(opts);
    auto emit = [&](const std::string& key, bool is_object) -> bool {
      return page.offer(key, is_object, [&]() -> std::optional<object_info> {
        auto metas = read_metas(set_of(bucket, key), bucket, key);
        auto rv = resolve(metas, {}, key);
        if (!rv || rv.value().e.v.info.delete_marker) return std::nullopt;  // deleted, leftover or unreadable
        object_info info = std::move(rv.value().e.v.info);
        info.bucket = bucket;
        info.key = key;
        return info;
      });
    };
    // Folders are merged over the set's online drives, so a key is found while any drive holding it is up.
    walk_keys([&](const std::string& rel) { return merged_dir(bucket, rel); }, start, opts, page.last_prefix(), emit);
    return page.take();
  }

  bool supports_versioning() const override { return true; }

  result<list_versions_result> list_object_versions(const std::string& bucket,
                                                    const list_versions_options& opts) override {
    SLUICE_TRY(this->bucket(bucket));
    list_versions_result out;
    if (opts.max_keys <= 0) return out;
    list_options lo;
    lo.prefix = opts.prefix;
    lo.delimiter = opts.delimiter;
    lo.marker = opts.key_marker;
    std::string start;
    if (auto slash = opts.prefix.rfind('/'); slash != std::string::npos) start = opts.prefix.substr(0, slash + 1);
    int count = 0;
    std::string last_prefix;
    auto emit = [&](const std::string& key, bool is_object) -> bool {
      if (!key.starts_with(opts.prefix)) return true;
      if (!opts.key_marker.empty() && key < opts.key_marker) return true;
      if (!opts.key_marker.empty() && key == opts.key_marker && opts.version_id_marker.empty()) return true;
      if (!opts.delimiter.empty()) {
        size_t d = key.find(opts.delimiter, opts.prefix.size());
        if (d != std::string::npos) {
          std::string cp = key.substr(0, d + opts.delimiter.size());
          if (cp == last_prefix || (!opts.key_marker.empty() && cp <= opts.key_marker)) return true;
          if (count == opts.max_keys) {
            out.truncated = true;
            return false;
          }
          last_prefix = cp;
          out.common_prefixes.push_back(cp);
          out.next_key_marker = cp;
          out.next_version_id_marker.clear();
          ++count;
          return true;
        }
      }
      if (!is_object) return true;
      auto metas = read_metas(set_of(bucket, key), bucket, key);
      auto versions = agreed_versions(metas);
      bool skipping = !opts.key_marker.empty() && key == opts.key_marker;
      bool first = true;
      for (auto& rv : versions) {
        object_info info = rv.e.v.info;
        const bool latest = first;
        first = false;
        if (skipping) {
          const std::string vid = info.version_id.empty() ? "null" : info.version_id;
          if (vid == opts.version_id_marker) skipping = false;
          continue;
        }
        if (count == opts.max_keys) {
          out.truncated = true;
          return false;
        }
        info.bucket = bucket;
        info.key = key;
        info.is_latest = latest;
        out.next_key_marker = key;
        out.next_version_id_marker = info.version_id.empty() ? "null" : info.version_id;
        out.versions.push_back(std::move(info));
        ++count;
      }
      return true;
    };
    walk_keys([&](const std::string& rel) { return merged_dir(bucket, rel); }, start, lo, last_prefix, emit);
    if (!out.truncated) {
      out.next_key_marker.clear();
      out.next_version_id_marker.clear();
    }
    return out;
  }

  // ---------------------------------------------------------------- multipart

  result<std::string> new_multipart_upload(const std::string& bucket, const std::string& key,
                                           put_options opts) override {
    SLUICE_TRY(check_key(bucket, key));
    const int set = set_of(bucket, key);
    const std::string id = uuid_v4();
    json::array dist;
    for (int d : ec::shard_order(key, per_set_)) dist.push_back(d);
    json::object u{{"bucket", bucket},
                   {"key", key},
                   {"initiated", unix_nanos(std::chrono::system_clock::now())},
                   {"owner", opts.owner},
                   {"meta", map_to_json(opts.metadata)},
                   {"tags", opts.tags},
                   {"k", default_k_},
                   {"m", parity_},
                   {"block", opts_.block_size},
                   {"dist", std::move(dist)}};
    const std::string doc = json::serialize(u);
    std::vector<uint8_t> done(per_set_, 0);
    pool_.run(per_set_, [&](int d) {
      drive& dr = set_drive(set, d);
      if (!dr.online) return;
      const std::string dir = upload_dir(dr, bucket, key, id);
      auto r = fs::mkdirs(dir);
      if (r) r = fs::write_file_durable(fs::join(dir, "upload.json"), doc);
      if (r) r = fs::fsync_dir(fs::parent_path(dir));
      if (!r) {
        note_failure(dr, r.error());
        return;
      }
      done[d] = 1;
    });
    if (count(done) < ec::write_quorum(default_k_, parity_)) {
      for (int d = 0; d < per_set_; ++d) (void)fs::remove_all(upload_dir(set_drive(set, d), bucket, key, id));
      return fail(errc::write_quorum, "upload could not be created on enough drives");
    }
    return id;
  }

  result<part_info> put_object_part(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                    int part_number, source& data, std::optional<uint64_t> size,
                                    finalize_fn finalize) override {
    SLUICE_TRY(check_key(bucket, key));
    if (part_number < 1 || part_number > kMaxPartNumber) return fail(errc::bad_argument, "part number out of range");
    const int set = set_of(bucket, key);
    SLUICE_TRY(auto up, load_upload(set, bucket, key, upload_id));
    SLUICE_TRY(auto c, codec_for(up.ec.data, up.ec.parity));
    const std::string file_name = "part." + std::to_string(part_number) + "." + random_token(12);
    SLUICE_TRY(auto enc, encode_stream(set, data, std::min<uint64_t>(5ull << 30, size.value_or(UINT64_MAX)), false, c,
                                       up.ec.dist, file_name));
    auto cleanup = [&] { remove_staging(set, enc.staging); };
    if (size && *size != enc.size) {
      cleanup();
      return fail(errc::bad_argument, "body length differs from the declared size");
    }
    object_info info;
    info.size = enc.size;
    info.etag = enc.etag_hex;
    if (finalize) {
      if (auto r = finalize(info); !r) {
        cleanup();
        return fail(r.error());
      }
    }
    part_info part{part_number, enc.size, enc.etag_hex, std::chrono::system_clock::now(), info.checksums};
    json::object pj{{"n", part_number},
                    {"size", part.size},
                    {"etag", part.etag},
                    {"mtime", unix_nanos(part.mod_time)},
                    {"file", file_name},
                    {"checksums", map_to_json(part.checksums)}};
    const std::string doc = json::serialize(pj);
    std::lock_guard lock(key_lock(bucket, key));
    struct undo {
      std::optional<std::string> old_json;
      bool done = false;
    };
    std::vector<undo> undos(per_set_);
    pool_.run(per_set_, [&](int d) {
      if (!enc.ok[d]) return;
      drive& dr = set_drive(set, d);
      const std::string dir = upload_dir(dr, bucket, key, upload_id);
      if (!fs::exists(fs::join(dir, "upload.json"))) return;
      const std::string meta_path = fs::join(dir, "part." + std::to_string(part_number) + ".json");
      if (auto old = fs::read_file(meta_path)) undos[d].old_json = std::move(old).value();
      auto r = fs::rename(fs::join(fs::join(dr.tmp, enc.staging), file_name), fs::join(dir, file_name));
      if (r) r = fs::write_file_durable(meta_path, doc);  // also makes the rename durable
      if (!r) {
        note_failure(dr, r.error());
        (void)fs::remove(fs::join(dir, file_name));
        return;
      }
      undos[d].done = true;
    });
    cleanup();
    int done = 0;
    for (const auto& u : undos) done += u.done ? 1 : 0;
    for (int d = 0; d < per_set_; ++d) {
      if (!undos[d].done) continue;
      drive& dr = set_drive(set, d);
      const std::string dir = upload_dir(dr, bucket, key, upload_id);
      const std::string meta_path = fs::join(dir, "part." + std::to_string(part_number) + ".json");
      if (done < up.write_quorum) {
        if (undos[d].old_json) {
          (void)fs::write_file_durable(meta_path, *undos[d].old_json);
        } else {
          (void)fs::remove(meta_path);
        }
        (void)fs::remove(fs::join(dir, file_name));
      } else if (undos[d].old_json) {
        if (auto o = parse_json(*undos[d].old_json, meta_path); o && jstr(o.value(), "file") != file_name) {
          (void)fs::remove(fs::join(dir, jstr(o.value(), "file")));
        }
      }
    }
    if (done < up.write_quorum) {
      if (done == 0 && !upload_exists_anywhere(set, bucket, key, upload_id)) return fail(errc::upload_not_found, upload_id);
      return fail(errc::write_quorum, "part written to too few drives");
    }
    return part;
  }

  result<list_parts_result> list_parts(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id, int part_marker, int max_parts) override {
    SLUICE_TRY(check_key(bucket, key));
    const int set = set_of(bucket, key);
    SLUICE_TRY(auto up, load_upload(set, bucket, key, upload_id));
    auto parts = load_parts(set, bucket, key, upload_id, up.ec.data);
    list_parts_result out;
    out.upload = up.info;
    out.metadata = up.metadata;
    page_parts(parts, part_marker, max_parts, out);
    return out;
  }

  result<object_info> complete_multipart_upload(const std::string& bucket, const std::string& key,
                                                const std::string& upload_id,
                                                const std::vector<completed_part>& parts,
                                                finalize_fn finalize) override {
    SLUICE_TRY(check_key(bucket, key));
    SLUICE_TRY(auto ver, versioning_of(bucket));
    const int set = set_of(bucket, key);
    std::lock_guard lock(key_lock(bucket, key));
    SLUICE_TRY(auto up, load_upload(set, bucket, key, upload_id));
    auto stored = load_parts(set, bucket, key, upload_id, up.ec.data);
    if (parts.empty()) return fail(errc::invalid_part, "no parts given");
    for (size_t i = 1; i < parts.size(); ++i) {
      if (parts[i].number <= parts[i - 1].number) {
        return fail(errc::invalid_part_order, "parts must be listed in ascending order");
      }
    }
    object_info info;
    std::string md5s;
    for (size_t i = 0; i < parts.size(); ++i) {
      const auto& cp = parts[i];
      auto it = stored.find(cp.number);
      std::string etag = cp.etag;
      if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
      if (it == stored.end() || it->second.first.etag != etag) {
        return fail(errc::invalid_part, "part " + std::to_string(cp.number) + " not found or ETag differs");
      }
      const part_info& p = it->second.first;
      if (i + 1 < parts.size() && p.size < kMinPartSize) {
        return fail(errc::entity_too_small, "part " + std::to_string(cp.number) + " is smaller than 5 MiB");
      }
      auto raw = from_hex(p.etag);
      if (!raw) return fail(errc::corrupt, "stored part ETag is not hex");
      md5s += *raw;
      info.parts.push_back(p);
      info.size += p.size;
    }
    info.bucket = bucket;
    info.key = key;
    info.etag = to_hex(md5(md5s)) + "-" + std::to_string(info.parts.size());
    info.mod_time = std::chrono::system_clock::now();
    info.metadata = up.metadata;
    info.tags = up.tags;
    info.version_id = ver == versioning::enabled ? uuid_v4() : std::string();
    if (finalize) {
      SLUICE_TRY(finalize(info));
    }
    entry e;
    e.v.info = info;
    e.v.ec = up.ec;
    e.v.data_dir = uuid_v4();
    // Each drive hard-links the upload's part files into the new data folder,
    // so the upload stays whole until the object is committed: a complete that
    // misses its write quorum leaves the upload as it was (a retry can succeed
    // once the drives are back), and one that succeeds removes it.
    std::vector<uint8_t> all(per_set_, 1);
    auto r = update_metas(set, bucket, key, all, true, up.write_quorum,
                          [&](int d, std::vector<entry>& entries) -> result<bool> {
                            drive& dr = set_drive(set, d);
                            const std::string dir = upload_dir(dr, bucket, key, upload_id);
                            const std::string staging = fs::join(dr.tmp, uuid_v4());
                            if (::mkdir(staging.c_str(), 0755) != 0) return fail(io(errno_error("mkdir " + staging, errno)));
                            auto staged = [&]() -> result<void> {
                              for (const auto& p : info.parts) {
                                const std::string from = fs::join(dir, stored[p.number].second);
                                const std::string to = fs::join(staging, "part." + std::to_string(p.number));
                                if (::link(from.c_str(), to.c_str()) != 0)
                                  return fail(errno_error("link " + from, errno));
                              }
                              SLUICE_TRY(fs::fsync_dir(staging));
                              return move_into_object(dr, bucket, key, staging, e.v.data_dir);
                            }();
                            if (!staged) {
                              (void)fs::remove_all(staging);
                              return fail(staged.error());
                            }
                            entry mine = e;
                            mine.v.ec->index = up.ec.dist[d];
                            if (ver != versioning::enabled) {
                              std::erase_if(entries, [](const entry& x) { return x.v.info.version_id.empty(); });
                            }
                            entries.insert(entries.begin(), std::move(mine));
                            return true;
                          });
    if (!r) return fail(r.error());
    for (int d = 0; d < per_set_; ++d) {
      drive& dr = set_drive(set, d);
      const std::string dir = upload_dir(dr, bucket, key, upload_id);
      (void)fs::remove_all(dir);
      (void)fs::remove(fs::parent_path(dir));
    }
    queue_if_partial(bucket, key, r.value());
    return info;
  }

  result<void> abort_multipart_upload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) override {
    SLUICE_TRY(check_key(bucket, key));
    const int set = set_of(bucket, key);
    std::lock_guard lock(key_lock(bucket, key));
    SLUICE_TRY(load_upload(set, bucket, key, upload_id));
    for (int d = 0; d < per_set_; ++d) {
      drive& dr = set_drive(set, d);
      const std::string dir = upload_dir(dr, bucket, key, upload_id);
      (void)fs::remove(fs::join(dir, "upload.json"));
      (void)fs::fsync_dir(dir);
      (void)fs::remove_all(dir);
      (void)fs::remove(fs::parent_path(dir));
    }
    return ok();
  }

  result<list_uploads_result> list_multipart_uploads(const std::string& bucket,
                                                     const list_uploads_options& opts) override {
    SLUICE_TRY(this->bucket(bucket));
    std::map<std::string, upload_info> by_id;
    for (auto& d : drives_) {
      if (!d->online) continue;
      const std::string bdir = fs::join(d->multipart, bucket);
      auto keys = fs::list_dir(bdir);
      if (!keys) continue;
      for (const auto& k : keys.value()) {
        auto ups = fs::list_dir(fs::join(bdir, k.name));
        if (!ups) continue;
        for (const auto& u : ups.value()) {
          if (by_id.count(u.name)) continue;
          auto j = read_json(fs::join(fs::join(fs::join(bdir, k.name), u.name), "upload.json"));
          if (!j) continue;
          by_id[u.name] = upload_info{jstr(j.value(), "key"), u.name, from_unix_nanos(jnum(j.value(), "initiated")),
                                      jstr(j.value(), "owner")};
        }
      }
    }
    std::vector<upload_info> all;
    for (auto& [id, u] : by_id) all.push_back(std::move(u));
    return detail::page_uploads(std::move(all), opts);
  }

  result<storage_info> storage() override {
    storage_info out;
    std::set<dev_t> counted;  // file systems already summed
    for (auto& d : drives_) {
      storage_info::drive sd;
      sd.path = d->root;
      sd.online = d->online;
      sd.healing = d->healing;
      sd.set = d->index / per_set_;
      struct statvfs st {};
      struct stat sb {};
      if (sd.online && ::statvfs(d->root.c_str(), &st) == 0) {
        sd.total_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
        sd.free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
        if (::stat(d->root.c_str(), &sb) == 0 && counted.insert(sb.st_dev).second) {
          out.total_bytes += sd.total_bytes;
          out.free_bytes += sd.free_bytes;
        }
      }
      out.drives.push_back(sd);
    }
    out.deployment_id = deployment_;
    out.backend = "erasure";
    out.sets = set_count_;
    out.drives_per_set = per_set_;
    out.parity = parity_;
    out.heal_backlog = heal_backlog();
    std::lock_guard l(heal_mu_);
    out.heal = heal_;
    return out;
  }

 private:
  enum class probe_state { online, offline, empty, missing };

  static int count(const std::vector<uint8_t>& v) { return static_cast<int>(std::count(v.begin(), v.end(), 1)); }
  int bucket_read_quorum() const { return std::max<int>(1, static_cast<int>(drives_.size()) / 2); }
  int online_drives() const {
    return static_cast<int>(
        std::count_if(drives_.begin(), drives_.end(), [](auto& d) { return d->online.load(); }));
  }
  int bucket_write_quorum() const { return static_cast<int>(drives_.size()) / 2 + 1; }
  bool stopping() {
    std::lock_guard l(bg_mu_);
    return stopping_;
  }

  drive& set_drive(int set, int d) { return *drives_[static_cast<size_t>(set * per_set_ + d)]; }
  int set_of(const std::string& bucket, const std::string& key) const {
    return ec::set_for_key(bucket, key, set_count_, placement_id_);
  }

  result<ec::codec> codec_for(int k, int m) {
    std::lock_guard l(codec_mu_);
    auto it = codecs_.find({k, m});
    if (it != codecs_.end()) return it->second;
    auto c = ec::codec::make(k, m);
    if (!c) return fail(errc::corrupt, c.error().message());
    codecs_.emplace(std::make_pair(k, m), c.value());
    return c.value();
  }

  result<void> format_drive(drive& d) {
    for (const auto& dir : {d.sys, d.tmp, d.buckets, d.multipart}) {
      SLUICE_TRY(fs::mkdirs(dir));
    }
    d.format_gen = ++format_gen_;
    json::object f{{"format", kFormatVersion}, {"id", deployment_},          {"layout", "erasure"},
                   {"sets", set_count_},       {"drives_per_set", per_set_}, {"parity", parity_},
                   {"drive", d.index},         {"drive_id", uuid_v4()}};
    SLUICE_TRY(fs::write_file_durable(d.format, json::serialize(f)));
    return fs::fsync_dir(d.root);
  }

  probe_state probe(drive& d) {
    auto f = read_json(d.format);
    if (f) {
      return jstr(f.value(), "id") == deployment_ && jnum(f.value(), "drive") == d.index ? probe_state::online
                                                                                         : probe_state::offline;
    }
    if (!not_found(f.error())) return probe_state::offline;
    struct stat st {};
    if (::stat(d.root.c_str(), &st) != 0)
      return errno == ENOENT ? probe_state::missing : probe_state::offline;
    if (!S_ISDIR(st.st_mode)) return probe_state::offline;
    auto entries = fs::list_dir(d.root);
    if (!entries || !entries.value().empty()) return probe_state::offline;
    return probe_state::empty;
  }

  // An operation on d failed: if the drive itself is gone, take it offline
  // until a probe finds it again.
  void note_failure(drive& d, const error& e) {
    if (probe(d) == probe_state::online) {
      spdlog::warn("drive {}: {}", d.root, e.message());
      return;
    }
    if (d.online.exchange(false)) {
      spdlog::warn("drive {} went offline: {}", d.root, e.message());
      invalidate_buckets();
    }
  }

  // Probes every drive (one caller at a time): offline drives that answer
  // again come online; an empty folder in place of a drive is formatted and
  // marked healing. So is a deleted drive folder, created again as at start,
  // but only when its parent is on the file system the drive was on: a
  // folder that vanished with an unmounted disk stays offline rather than
  // being refilled on the disk below the mount point.
  // Returns whether a drive was formatted (it then needs a full heal).
  bool probe_drives() {
    std::lock_guard check(drive_check_mu_);
    bool formatted = false, changed = false;
    for (auto& d : drives_) {
      auto st = probe(*d);
      if (st == probe_state::missing) {
        const uint64_t parent = device_of(fs::parent_path(d->root));
        st = probe_state::offline;
        if (parent == 0 || (d->dev != 0 && parent != d->dev)) {
          if (d->online)
            spdlog::warn("drive folder {} is gone, its parent is on another file system: offline", d->root);
        } else if (::mkdir(d->root.c_str(), 0755) == 0 || errno == EEXIST) {
          spdlog::warn("drive folder {} was gone: created it empty", d->root);
          st = probe(*d);
        }
      }
      if (st == probe_state::online) {
        if (!d->online) {
          spdlog::info("drive {} is back online", d->root);
          changed = true;
        }
        d->dev = device_of(d->root);
        d->online = true;
      } else if (st == probe_state::empty) {
        if (auto r = format_drive(*d); r) {
          d->dev = device_of(d->root);
          for (const auto& dir : {d->tmp, d->buckets, d->multipart}) (void)fs::mkdirs(dir);
          spdlog::info("drive {} was replaced by an empty folder: formatted, healing", d->root);
          d->healing = true;
          d->online = true;
          formatted = changed = true;
        } else {
          if (d->online) changed = true;
          d->online = false;
        }
      } else {
        if (d->online) {
          spdlog::warn("drive {} is offline", d->root);
          changed = true;
        }
        d->online = false;
      }
    }
    if (changed) invalidate_buckets();
    return formatted;
  }

  result<void> check_key(const std::string& bucket, const std::string& key) {
    SLUICE_TRY(this->bucket(bucket));
    if (auto why = invalid_object_key(key)) return fail(errc::invalid_object_name, *why);
    return ok();
  }

  result<versioning> versioning_of(const std::string& bucket) {
    SLUICE_TRY(auto doc, bucket_config(bucket, "versioning"));
    if (!doc) return versioning::off;
    if (*doc == "Enabled") return versioning::enabled;
    if (*doc == "Suspended") return versioning::suspended;
    return versioning::off;
  }

  std::string object_dir(const drive& d, const std::string& bucket, const std::string& key) const {
    std::string base = fs::join(d.root, bucket);
    if (key.ends_with('/')) return base + "/" + key + std::string(kDirObject);
    return base + "/" + key;
  }

  std::string upload_dir(const drive& d, const std::string& bucket, const std::string& key, const std::string& id) const {
    return fs::join(fs::join(fs::join(d.multipart, bucket), sha256_hex(key).substr(0, 32)), id);
  }

  std::mutex& key_lock(const std::string& bucket, const std::string& key) {
    size_t h = std::hash<std::string>{}(bucket) ^ (std::hash<std::string>{}(key) * 31);
    return key_locks_[h % key_locks_.size()];
  }

  std::vector<std::string> bucket_names() {
    std::set<std::string> names;
    for (auto& d : drives_) {
      if (!d->online) continue;
      auto entries = fs::list_dir(d->buckets);
      if (!entries) continue;
      for (const auto& e : entries.value()) {
        if (e.is_dir && valid_bucket_name(e.name)) names.insert(e.name);
      }
    }
    return {names.begin(), names.end()};
  }

  result<void> create_bucket_on(drive& d, const std::string& bucket, const std::string& doc) {
    const std::string dir = fs::join(d.buckets, bucket);
    if (!fs::is_dir(d.buckets)) return fail(errno_error("drive missing " + d.buckets, ENOENT));
    SLUICE_TRY(fs::mkdirs(dir));
    const std::string data = fs::join(d.root, bucket);
    if (::mkdir(data.c_str(), 0755) != 0 && errno != EEXIST) return fail(errno_error("mkdir " + data, errno));
    SLUICE_TRY(fs::fsync_dir(d.root));
    SLUICE_TRY(fs::fsync_dir(d.buckets));
    return fs::write_file_durable(fs::join(dir, "bucket.json"), doc);
  }

  bool remove_bucket_on(drive& d, const std::string& bucket) {
    const std::string meta_dir = fs::join(d.buckets, bucket);
    auto r = fs::remove(fs::join(meta_dir, "bucket.json"));
    (void)fs::fsync_dir(meta_dir);
    (void)fs::remove_all(meta_dir);
    (void)fs::remove_all(fs::join(d.root, bucket));
    (void)fs::remove_all(fs::join(d.multipart, bucket));
    (void)fs::fsync_dir(d.root);
    return bool(r);
  }

  // Copies bucket.json and configuration documents to drives that lack them.
  // The bucket is restored when the drives that are not being healed
  // themselves hold it more often than they lack it.
  result<void> heal_bucket_meta(const std::string& bucket) {
    if (!valid_bucket_name(bucket)) return fail(errc::bucket_not_found, bucket);
    drive* source = nullptr;
    int found = 0, lacking = 0;
    for (auto& d : drives_) {
      if (!d->online) continue;
      if (fs::exists(fs::join(fs::join(d->buckets, bucket), "bucket.json"))) {
        ++found;
        if (!source) source = d.get();
      } else if (!d->healing && fs::exists(d->format)) {
        ++lacking;
      }
    }
    if (!source || found <= lacking) return fail(errc::bucket_not_found, bucket);
    const std::string src_dir = fs::join(source->buckets, bucket);
    SLUICE_TRY(auto doc, fs::read_file(fs::join(src_dir, "bucket.json")));
    auto cfgs = fs::list_dir(src_dir);
    for (auto& d : drives_) {
      if (!d->online || d.get() == source) continue;
      const std::string dir = fs::join(d->buckets, bucket);
      if (fs::exists(fs::join(dir, "bucket.json")) && fs::is_dir(fs::join(d->root, bucket))) continue;
      if (auto r = create_bucket_on(*d, bucket, doc); !r) {
        note_failure(*d, r.error());
        continue;
      }
      if (!cfgs) continue;
      for (const auto& e : cfgs.value()) {
        if (e.is_dir || !e.name.ends_with(".cfg")) continue;
        if (auto bytes = fs::read_file(fs::join(src_dir, e.name))) {
          (void)fs::write_file_durable(fs::join(dir, e.name), bytes.value());
        }
      }
      invalidate_bucket(bucket);
    }
    return ok();
  }

  // Creates dir and its missing ancestors below the bucket folder, making
  // each new entry durable. The bucket folder itself must exist: a drive
  // that lost it (wiped, replaced) is not written until healed.
  result<void> ensure_dirs(drive& d, const std::string& bucket, const std::string& dir) {
    const std::string bucket_dir = fs::join(d.root, bucket);
    if (!fs::is_dir(bucket_dir)) return fail(errno_error("bucket folder missing: " + bucket_dir, ENOENT));
    std::vector<std::string> missing;
    for (std::string p = dir; p.size() > bucket_dir.size() && !fs::is_dir(p); p = fs::parent_path(p)) missing.push_back(p);
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) return fail(errno_error("mkdir " + *it, errno));
      SLUICE_TRY(fs::fsync_dir(fs::parent_path(*it)));
    }
    return ok();
  }

  void prune_empty_dirs(drive& d, const std::string& bucket, std::string dir) {
    const std::string bucket_dir = fs::join(d.root, bucket);
    while (dir.size() > bucket_dir.size()) {
      if (::rmdir(dir.c_str()) != 0) break;
      dir = fs::parent_path(dir);
    }
  }

  // Renames a staged data folder into the object folder as .sluice.d-<data_dir>.
  result<void> move_into_object(drive& d, const std::string& bucket, const std::string& key, const std::string& staged,
                                const std::string& data_dir) {
    const std::string dir = object_dir(d, bucket, key);
    for (int attempt = 0;; ++attempt) {
      SLUICE_TRY(ensure_dirs(d, bucket, dir));
      const std::string target = fs::join(dir, std::string(kDataPrefix) + data_dir);
      (void)fs::remove_all(target);
      auto r = fs::rename(staged, target);
      if (r) return fs::fsync_dir(dir);
      // A concurrent delete of a neighbour may have pruned a folder we just created.
      if (attempt < 3 && is_errno(r.error(), ENOENT) && fs::exists(staged)) continue;
      return r;
    }
  }

  void remove_staging(int set, const std::string& staging) {
    if (staging.empty()) return;
    for (int d = 0; d < per_set_; ++d) (void)fs::remove_all(fs::join(set_drive(set, d).tmp, staging));
  }

  // Drops data folders no version of the key's metadata on this drive names
  // (replaced versions, rolled-back writes, crash leftovers), and the key's
  // empty folders when no metadata is left.
  void clean_object_dir(drive& d, const std::string& bucket, const std::string& key) {
    const std::string dir = object_dir(d, bucket, key);
    std::set<std::string> referenced;
    bool has_meta = false;
    if (auto bytes = fs::read_file(fs::join(dir, kMetaName))) {
      has_meta = true;
      if (auto m = decode_meta(bytes.value())) {
        for (const auto& v : m.value().versions) referenced.insert(v.data_dir);
      } else {
        return;  // unreadable metadata: leave its data for healing
      }
    } else if (!not_found(bytes.error())) {
      return;  // nor is metadata that cannot be read now (I/O error, no file handles ...) "no metadata"
    }
    if (auto entries = fs::list_dir(dir)) {
      for (const auto& e : entries.value()) {
        if (!e.is_dir || !e.name.starts_with(kDataPrefix)) continue;
        if (referenced.count(e.name.substr(kDataPrefix.size()))) continue;
        if (d.bin) {
          d.bin->discard(fs::join(dir, e.name));
        } else {
          (void)fs::remove_all(fs::join(dir, e.name));
        }
      }
    }
    if (!has_meta) prune_empty_dirs(d, bucket, dir);
  }

  drive_meta read_meta(drive& d, const std::string& bucket, const std::string& key) {
    drive_meta out;
    if (!d.online) return out;
    auto bytes = fs::read_file(fs::join(object_dir(d, bucket, key), kMetaName));
    if (!bytes) {
      if (not_found(bytes.error()) && fs::exists(d.format)) {
        out.st = drive_meta::state::missing;
      } else {
        note_failure(d, bytes.error());
      }
      return out;
    }
    auto m = decode_meta(bytes.value());
    if (!m) {
      out.st = drive_meta::state::corrupt;
      return out;
    }
    out.st = drive_meta::state::ok;
    out.entries = expand(m.value());
    return out;
  }

  std::vector<drive_meta> read_metas(int set, const std::string& bucket, const std::string& key) {
    std::vector<drive_meta> out;
    out.reserve(per_set_);
    for (int d = 0; d < per_set_; ++d) out.push_back(read_meta(set_drive(set, d), bucket, key));
    return out;
  }

  static const entry* find_entry(const drive_meta& m, const std::string& sig) {
    for (const auto& e : m.entries) {
      if (signature(e.v) == sig) return &e;
    }
    return nullptr;
  }

  int quorum_of(const stored_version& v) const { return v.ec ? v.ec->data : default_k_; }

  // The version of a key the drives agree on: the latest (version_id ""),
  // or the one named ("null" = the unversioned one). The latest is what
  // each drive holds on top, so a drive with a stale top never lends a vote
  // to an older version. Errors: object_not_found / version_not_found when
  // enough drives answered that no version can have quorum, else read_quorum.
  result<resolved> resolve(const std::vector<drive_meta>& metas, const std::string& version_id,
                           const std::string& key) const {
    std::map<std::string, resolved> groups;
    int unknown = 0;
    bool any_entries = false;
    const std::string want = version_id == "null" ? std::string() : version_id;
    for (int d = 0; d < per_set_; ++d) {
      const auto& m = metas[d];
      if (m.st == drive_meta::state::failed || m.st == drive_meta::state::corrupt) {
        ++unknown;
        continue;
      }
      if (m.entries.empty()) continue;
      any_entries = true;
      const entry* pick = nullptr;
      if (version_id.empty()) {
        pick = &m.entries.front();
      } else {
        for (const auto& e : m.entries) {
          if (e.v.info.version_id == want) {
            pick = &e;
            break;
          }
        }
      }
      if (!pick) continue;
      std::string sig = signature(pick->v);
      auto [it, fresh] = groups.try_emplace(sig);
      if (fresh) {
        it->second.e = *pick;
        it->second.sig = sig;
      }
      it->second.holders.push_back(d);
    }
    const resolved* best = nullptr;
    int most = 0;
    for (const auto& [sig, g] : groups) {
      most = std::max<int>(most, static_cast<int>(g.holders.size()));
      if (static_cast<int>(g.holders.size()) < quorum_of(g.e.v)) continue;
      if (!best || g.e.v.info.mod_time > best->e.v.info.mod_time) best = &g;
    }
    if (!best) {
      if (most + unknown >= default_k_ || unknown >= default_k_) {
        return fail(errc::read_quorum, key + ": too few drives agree on its metadata");
      }
      if (version_id.empty() || !any_entries) return fail(errc::object_not_found, key);
      return fail(errc::version_not_found, version_id);
    }
    resolved out = *best;
    // Shards can come from every drive holding this version, on top or not.
    out.holders.clear();
    for (int d = 0; d < per_set_; ++d) {
      if (find_entry(metas[d], out.sig)) out.holders.push_back(d);
    }
    return out;
  }

  // Every version found on any drive, keyed by its signature, with the drives holding it.
  std::map<std::string, resolved> group_versions(const std::vector<drive_meta>& metas) const {
    std::map<std::string, resolved> groups;
    for (int d = 0; d < per_set_; ++d) {
      for (const auto& e : metas[d].entries) {
        std::string sig = signature(e.v);
        auto [it, fresh] = groups.try_emplace(sig);
        if (fresh) {
          it->second.e = e;
          it->second.sig = sig;
        }
        it->second.holders.push_back(d);
      }
    }
    return groups;
  }

  // Every version enough drives agree on, newest first.
  std::vector<resolved> agreed_versions(const std::vector<drive_meta>& metas) const {
    std::map<std::string, resolved> groups = group_versions(metas);
    std::vector<resolved> out;
    for (auto& [sig, g] : groups) {
      if (static_cast<int>(g.holders.size()) >= quorum_of(g.e.v)) out.push_back(std::move(g));
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const resolved& a, const resolved& b) { return a.e.v.info.mod_time > b.e.v.info.mod_time; });
    return out;
  }

  using mutate_fn = std::function<result<bool>(int d, std::vector<entry>& entries)>;

  // Applies fn to the key's metadata on every participating drive of the set
  // in parallel, each drive editing its own copy (so inline shard bytes stay
  // per drive). A drive commits by replacing its metadata file atomically
  // (or removing it when no version is left). Fewer than `quorum` commits:
  // every committed drive gets its old file back and errc::write_quorum is
  // returned. Returns which drives committed. Caller holds the key lock.
  result<std::vector<uint8_t>> update_metas(int set, const std::string& bucket, const std::string& key,
                                            const std::vector<uint8_t>& participate, bool create_dirs, int quorum,
                                            const mutate_fn& fn) {
    struct txn {
      bool touched = false, changed = false, committed = false;
      std::optional<std::string> old_bytes;
    };
    std::vector<txn> t(per_set_);
    pool_.run(per_set_, [&](int d) {
      drive& dr = set_drive(set, d);
      if (!participate[d] || !dr.online) return;
      t[d].touched = true;
      const std::string dir = object_dir(dr, bucket, key);
      const std::string path = fs::join(dir, kMetaName);
      auto step = [&]() -> result<void> {
        if (create_dirs) {
          SLUICE_TRY(ensure_dirs(dr, bucket, dir));
        }
        std::vector<entry> entries;
        auto bytes = fs::read_file(path);
        if (bytes) {
          t[d].old_bytes = bytes.value();
          if (auto m = decode_meta(bytes.value())) entries = expand(m.value());
        } else if (!not_found(bytes.error())) {
          return fail(bytes.error());
        } else if (!fs::exists(dr.format)) {
          return fail(bytes.error());
        }
        SLUICE_TRY(bool changed, fn(d, entries));
        if (changed) {
          t[d].changed = true;
          if (entries.empty()) {
            if (t[d].old_bytes) {
              SLUICE_TRY(fs::remove(path));
              SLUICE_TRY(fs::fsync_dir(dir));
            }
          } else {
            SLUICE_TRY(fs::write_file_durable(path, encode_meta(pack(entries))));
          }
        }
        return ok();
      };
      if (auto r = step(); !r) {
        if (!r.error().is(errc::version_not_found)) note_failure(dr, r.error());
        return;
      }
      t[d].committed = true;
    });
    std::vector<uint8_t> committed(per_set_, 0);
    for (int d = 0; d < per_set_; ++d) committed[d] = t[d].committed ? 1 : 0;
    const bool enough = count(committed) >= quorum;
    pool_.run(per_set_, [&](int d) {
      if (!t[d].touched) return;
      drive& dr = set_drive(set, d);
      const std::string dir = object_dir(dr, bucket, key);
      if (!enough && t[d].changed) {
        const std::string path = fs::join(dir, kMetaName);
        if (t[d].old_bytes) {
          (void)fs::write_file_durable(path, *t[d].old_bytes);
        } else {
          (void)fs::remove(path);
          (void)fs::fsync_dir(dir);
        }
      }
      clean_object_dir(dr, bucket, key);
    });
    if (!enough) {
      return fail(errc::write_quorum, bucket + "/" + key + ": " + std::to_string(count(committed)) + " of " +
                                          std::to_string(per_set_) + " drives took the write, " +
                                          std::to_string(quorum) + " needed");
    }
    return committed;
  }

  void queue_if_partial(const std::string& bucket, const std::string& key, const std::vector<uint8_t>& committed) {
    if (count(committed) < per_set_) enqueue_heal(bucket, key);
  }

  // Streams a body into shards: inline (in memory) when allowed and it fits,
  // else into tmp/<staging>/<file_name> on every online drive of the set,
  // block by block (one block and its shards in memory), then fdatasync.
  // Fails with write_quorum when too few drives keep up.
  result<encoded> encode_stream(int set, source& data, uint64_t max_size, bool allow_inline,
                                const ec::codec& c, const std::vector<int>& dist,
                                const std::string& file_name, bool md5_etag = true) {
    const int n = per_set_;
    const int wq = ec::write_quorum(c.data_shards(), c.parity_shards());
    encoded out;
    out.ok.assign(n, 0);
    hasher etag(md5_etag ? hash_kind::md5 : hash_kind::xxh3_128);
    std::vector<std::byte> block(opts_.block_size);
    auto fill = [&]() -> result<size_t> {
      size_t got = 0;
      while (got < block.size()) {
        SLUICE_TRY(size_t r, data.read(reinterpret_cast<char*>(block.data()) + got, block.size() - got));
        if (r == 0) break;
        got += r;
      }
      out.size += got;
      if (out.size > max_size) return fail(errc::object_too_large, "object larger than the allowed maximum");
      etag.update(block.data(), got);
      return got;
    };
    std::vector<std::vector<std::byte>> shards(n);
    std::vector<std::span<std::byte>> spans(n);
    auto encode_block = [&](size_t len) -> result<void> {
      const size_t sl = c.shard_size(len);
      for (int s = 0; s < n; ++s) {
        shards[s].resize(sl);
        spans[s] = shards[s];
      }
      if (auto r = c.encode(std::span<const std::byte>(block).first(len), spans); !r) {
        return fail(errc::corrupt, r.error().message());
      }
      return ok();
    };
    const size_t full_len = ec::shard_layout{0, opts_.block_size, c.data_shards()}.full_shard_block_len();
    SLUICE_TRY(size_t len, fill());
    if (allow_inline && len < block.size() && out.size <= opts_.inline_threshold) {
      out.is_inline = true;
      out.inline_shards.resize(n);
      if (len > 0) {
        SLUICE_TRY(encode_block(len));
        for (int d = 0; d < n; ++d) {
          string_shard_sink sink(out.inline_shards[d]);
          ec::bitrot_writer w(sink, full_len);
          if (auto r = w.write_block(spans[dist[d]]); !r) return fail(errc::corrupt, r.error().message());
        }
      }
      for (int d = 0; d < n; ++d) out.ok[d] = set_drive(set, d).online ? 1 : 0;
      out.etag_hex = to_hex(etag.finish());
      if (count(out.ok) < wq) return fail(errc::write_quorum, "too few drives online for a write");
      return out;
    }
    out.staging = uuid_v4();
    std::vector<fs::file> files(n);
    std::vector<std::unique_ptr<ec::fd_shard_sink>> sinks(n);
    std::vector<std::unique_ptr<ec::bitrot_writer>> writers(n);
    auto failed = [&](const error& e) {
      remove_staging(set, out.staging);
      return fail(e);
    };
    pool_.run(n, [&](int d) {
      drive& dr = set_drive(set, d);
      if (!dr.online) return;
      const std::string dir = fs::join(dr.tmp, out.staging);
      if (::mkdir(dir.c_str(), 0755) != 0) {
        note_failure(dr, errno_error("mkdir " + dir, errno));
        return;
      }
      auto f = fs::file::open(fs::join(dir, file_name), O_WRONLY | O_CREAT | O_TRUNC);
      if (!f) {
        note_failure(dr, f.error());
        return;
      }
      files[d] = std::move(f).value();
      sinks[d] = std::make_unique<ec::fd_shard_sink>(files[d].fd());
      writers[d] = std::make_unique<ec::bitrot_writer>(*sinks[d], full_len);
      out.ok[d] = 1;
    });
    auto quorum_error = [&] {
      return error(errc::write_quorum, std::to_string(count(out.ok)) + " of " + std::to_string(n) +
                                           " drives took the data, " + std::to_string(wq) + " needed");
    };
    if (count(out.ok) < wq) return failed(quorum_error());
    for (;;) {
      if (len > 0) {
        if (auto r = encode_block(len); !r) return failed(r.error());
        pool_.run(n, [&](int d) {
          if (!out.ok[d]) return;
          if (auto r = writers[d]->write_block(spans[dist[d]]); !r) {
            note_failure(set_drive(set, d), r.error());
            out.ok[d] = 0;
          }
        });
        if (count(out.ok) < wq) return failed(quorum_error());
      }
      if (len < block.size()) break;
      auto next = fill();
      if (!next) return failed(next.error());
      len = next.value();
    }
    pool_.run(n, [&](int d) {
      if (!out.ok[d]) return;
      drive& dr = set_drive(set, d);
      auto r = files[d].sync();
      if (r) r = fs::fsync_dir(fs::join(dr.tmp, out.staging));
      files[d] = fs::file();
      if (!r) {
        note_failure(dr, r.error());
        out.ok[d] = 0;
      }
    });
    if (count(out.ok) < wq) return failed(quorum_error());
    out.etag_hex = to_hex(etag.finish());
    return out;
  }

  struct upload_state {
    upload_info info;
    metadata_map metadata;
    std::string tags;
    erasure_info ec;
    int write_quorum = 0;
  };

  result<upload_state> load_upload(int set, const std::string& bucket, const std::string& key,
                                   const std::string& upload_id) {
    if (!valid_upload_id(upload_id)) return fail(errc::upload_not_found, upload_id);
    int found = 0;
    std::optional<upload_state> out;
    for (int d = 0; d < per_set_; ++d) {
      drive& dr = set_drive(set, d);
      if (!dr.online) continue;
      auto j = read_json(fs::join(upload_dir(dr, bucket, key, upload_id), "upload.json"));
      if (!j || jstr(j.value(), "key") != key) continue;
      ++found;
      if (out) continue;
      const auto& o = j.value();
      upload_state u;
      u.info = upload_info{key, upload_id, from_unix_nanos(jnum(o, "initiated")), jstr(o, "owner")};
      u.metadata = json_to_map(o.if_contains("meta"));
      u.tags = jstr(o, "tags");
      u.ec.data = static_cast<int>(jnum(o, "k"));
      u.ec.parity = static_cast<int>(jnum(o, "m"));
      u.ec.block_size = static_cast<uint64_t>(jnum(o, "block"));
      u.ec.bitrot = std::string(ec::bitrot_algorithm);
      if (auto* dist = o.if_contains("dist"); dist && dist->is_array()) {
        for (const auto& v : dist->as_array()) u.ec.dist.push_back(v.is_int64() ? static_cast<int>(v.as_int64()) : -1);
      }
      if (u.ec.data < 1 || u.ec.data + u.ec.parity != per_set_ || u.ec.block_size == 0 ||
          static_cast<int>(u.ec.dist.size()) != per_set_) {
        return fail(errc::corrupt, "upload " + upload_id + " has bad erasure parameters");
      }
      u.write_quorum = ec::write_quorum(u.ec.data, u.ec.parity);
      out = std::move(u);
    }
    if (!out) return fail(errc::upload_not_found, upload_id);
    if (found < out->ec.data) return fail(errc::read_quorum, "upload " + upload_id + " is on too few drives");
    return std::move(*out);
  }

  bool upload_exists_anywhere(int set, const std::string& bucket, const std::string& key, const std::string& id) {
    for (int d = 0; d < per_set_; ++d) {
      if (fs::exists(fs::join(upload_dir(set_drive(set, d), bucket, key, id), "upload.json"))) return true;
    }
    return false;
  }

  // part number -> (info, shard file name) for parts that k drives agree on.
  std::map<int, std::pair<part_info, std::string>> load_parts(int set, const std::string& bucket,
                                                              const std::string& key, const std::string& upload_id,
                                                              int k) {
    std::map<std::string, std::pair<std::pair<part_info, std::string>, int>> votes;
    for (int d = 0; d < per_set_; ++d) {
      drive& dr = set_drive(set, d);
      if (!dr.online) continue;
      const std::string dir = upload_dir(dr, bucket, key, upload_id);
      auto entries = fs::list_dir(dir);
      if (!entries) continue;
      for (const auto& e : entries.value()) {
        if (!e.name.starts_with("part.") || !e.name.ends_with(".json")) continue;
        auto j = read_json(fs::join(dir, e.name));
        if (!j) continue;
        const auto& o = j.value();
        part_info p{static_cast<int>(jnum(o, "n")), static_cast<uint64_t>(jnum(o, "size")), jstr(o, "etag"),
                    from_unix_nanos(jnum(o, "mtime")), json_to_map(o.if_contains("checksums"))};
        const std::string file = jstr(o, "file");
        const std::string sig = std::to_string(p.number) + '\n' + p.etag + '\n' + file + '\n' + std::to_string(p.size);
        auto& v = votes[sig];
        if (v.second == 0) v.first = {p, file};
        ++v.second;
      }
    }
    std::map<int, std::pair<part_info, std::string>> out;
    for (auto& [sig, v] : votes) {
      if (v.second < k) continue;
      auto& slot = out[v.first.first.number];
      if (slot.second.empty() || v.first.first.mod_time > slot.first.mod_time) slot = v.first;
    }
    return out;
  }

  // Sub-folders of bucket/rel on any online drive -> whether one holds a metadata file.
  std::map<std::string, bool> merged_dir(const std::string& bucket, const std::string& rel) {
    std::map<std::string, bool> out;
    for (auto& d : drives_) {
      if (!d->online) continue;
      std::string dir = fs::join(d->root, bucket);
      if (!rel.empty()) dir += "/" + rel.substr(0, rel.size() - 1);
      auto entries = fs::list_dir(dir);
      if (!entries) continue;
      for (const auto& e : entries.value()) {
        if (!e.is_dir) continue;
        bool& has_meta = out[e.name];
        if (!has_meta) has_meta = fs::exists(fs::join(fs::join(dir, e.name), kMetaName));
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- healing

  // Whether drive d's copy of version `e` (metadata entry and shards) is whole.
  bool copy_is_good(drive& dr, const std::string& bucket, const std::string& key, const entry& e, int d) {
    if (!e.v.ec) return true;  // delete marker or empty object: metadata only
    const auto& x = *e.v.ec;
    if (x.index != x.dist[d]) return false;
    if (e.v.inline_data) {
      memory_shard_source src(e.inline_bytes);
      return bool(ec::bitrot_reader(src, ec::shard_layout{e.v.info.size, x.block_size, x.data}).verify_all());
    }
    const std::string dir = fs::join(object_dir(dr, bucket, key), std::string(kDataPrefix) + e.v.data_dir);
    for (const auto& p : parts_of(e.v.info)) {
      auto f = fs::file::open(fs::join(dir, "part." + std::to_string(p.number)), O_RDONLY);
      if (!f) return false;
      ec::fd_shard_source src(f.value().fd());
      if (!ec::bitrot_reader(src, ec::shard_layout{p.size, x.block_size, x.data}).verify_all()) return false;
    }
    return true;
  }

  result<heal_result> heal_object_locked(const std::string& bucket, const std::string& key) {
    heal_result hr;
    hr.objects_scanned = 1;
    const int set = set_of(bucket, key);
    auto metas = read_metas(set, bucket, key);
    int unknown = 0;
    for (const auto& m : metas) unknown += (m.st == drive_meta::state::failed || m.st == drive_meta::state::corrupt) ? 1 : 0;
    // Group every version of every drive.
    std::map<std::string, resolved> groups = group_versions(metas);
    std::set<std::string> agreed, droppable;
    for (const auto& [sig, g] : groups) {
      const int held = static_cast<int>(g.holders.size());
      if (held >= quorum_of(g.e.v)) {
        agreed.insert(sig);
      } else if (held + unknown < quorum_of(g.e.v)) {
        droppable.insert(sig);  // a failed write's leftover: it can never reach quorum
      }
    }
    // Per drive: which agreed versions it must get back.
    std::vector<std::vector<std::string>> rebuild(per_set_);
    std::vector<uint8_t> rewrite(per_set_, 0);
    std::map<std::string, std::vector<int>> good;  // sig -> drives with a whole copy
    for (int d = 0; d < per_set_; ++d) {
      drive& dr = set_drive(set, d);
      if (!dr.online || metas[d].st == drive_meta::state::failed) continue;
      for (const auto& sig : agreed) {
        const entry* mine = find_entry(metas[d], sig);
        if (mine && copy_is_good(dr, bucket, key, *mine, d)) {
          good[sig].push_back(d);
        } else {
          rebuild[d].push_back(sig);
          rewrite[d] = 1;
        }
      }
      for (const auto& e : metas[d].entries) {
        if (droppable.count(signature(e.v))) rewrite[d] = 1;
      }
      if (metas[d].st == drive_meta::state::corrupt) rewrite[d] = 1;
    }
    if (std::count(rewrite.begin(), rewrite.end(), 1) == 0) return hr;
    // New entries per drive: rebuilt copies of agreed versions, its own good ones, undecided ones as they are.
    std::vector<std::vector<entry>> next(per_set_);
    std::vector<std::vector<std::pair<std::string, std::string>>> staged(per_set_);  // (staging dir, data dir)
    std::vector<uint8_t> drive_failed(per_set_, 0);
    for (const auto& sig : agreed) {
      const auto& g = groups.at(sig);
      std::vector<int> targets;
      for (int d = 0; d < per_set_; ++d) {
        if (rewrite[d] && std::find(rebuild[d].begin(), rebuild[d].end(), sig) != rebuild[d].end()) targets.push_back(d);
      }
      if (targets.empty()) continue;
      if (!g.e.v.ec || g.e.v.info.size == 0) {
        for (int d : targets) {
          entry x = g.e;
          if (x.v.ec) x.v.ec->index = x.v.ec->dist[d];
          next[d].push_back(std::move(x));
          ++hr.shards_written;
        }
        continue;
      }
      const erasure_info& e = *g.e.v.ec;
      auto c = codec_for(e.data, e.parity);
      if (!c || static_cast<int>(good[sig].size()) < e.data) {
        spdlog::warn("heal {}/{}: version {} has {} good copies, {} needed", bucket, key, g.e.v.info.version_id,
                     good[sig].size(), e.data);
        ++hr.failed;
        for (int d : targets) drive_failed[d] = 1;
        continue;
      }
      // Sources: the good copies (inline bytes or open shard files, per part).
      std::vector<const entry*> src_entry(per_set_, nullptr);
      for (int d : good[sig]) src_entry[d] = find_entry(metas[d], sig);
      std::vector<std::string> inline_out(per_set_);
      std::vector<fs::file> out_files(per_set_);
      std::vector<std::string> staging(per_set_);
      bool ok_all = true;
      for (int d : targets) {
        if (g.e.v.inline_data) continue;
        drive& dr = set_drive(set, d);
        staging[d] = fs::join(dr.tmp, uuid_v4());
        if (::mkdir(staging[d].c_str(), 0755) != 0) {
          note_failure(dr, errno_error("mkdir " + staging[d], errno));
          drive_failed[d] = 1;
        }
      }
      for (const auto& p : parts_of(g.e.v.info)) {
        std::vector<fs::file> in_files(per_set_);
        std::vector<std::unique_ptr<ec::shard_source>> srcs(per_set_);
        std::vector<ec::shard_source*> sources(per_set_, nullptr);
        for (int d = 0; d < per_set_; ++d) {
          if (!src_entry[d]) continue;
          if (g.e.v.inline_data) {
            srcs[d] = std::make_unique<memory_shard_source>(src_entry[d]->inline_bytes);
          } else {
            auto f = fs::file::open(fs::join(fs::join(object_dir(set_drive(set, d), bucket, key),
                                                      std::string(kDataPrefix) + g.e.v.data_dir),
                                             "part." + std::to_string(p.number)),
                                    O_RDONLY);
            if (!f) continue;
            in_files[d] = std::move(f).value();
            srcs[d] = std::make_unique<ec::fd_shard_source>(in_files[d].fd());
          }
          sources[d] = srcs[d].get();
        }
        std::vector<std::unique_ptr<ec::shard_sink>> snks(per_set_);
        std::vector<ec::shard_sink*> sinks(per_set_, nullptr);
        for (int d : targets) {
          if (drive_failed[d]) continue;
          if (g.e.v.inline_data) {
            snks[d] = std::make_unique<string_shard_sink>(inline_out[d]);
          } else {
            auto f = fs::file::open(fs::join(staging[d], "part." + std::to_string(p.number)), O_WRONLY | O_CREAT | O_TRUNC);
            if (!f) {
              drive_failed[d] = 1;
              continue;
            }
            out_files[d] = std::move(f).value();
            snks[d] = std::make_unique<ec::fd_shard_sink>(out_files[d].fd());
          }
          sinks[d] = snks[d].get();
        }
        if (auto r = rebuild_part(c.value(), e, p.size, sources, sinks); !r) {
          spdlog::warn("heal {}/{}: {}", bucket, key, r.error().message());
          ok_all = false;
          break;
        }
        for (int d : targets) {
          if (!out_files[d].valid()) continue;
          if (!out_files[d].sync()) drive_failed[d] = 1;
          out_files[d] = fs::file();
        }
      }
      if (!ok_all) {
        ++hr.failed;
        for (int d : targets) {
          if (!staging[d].empty()) (void)fs::remove_all(staging[d]);
          drive_failed[d] = 1;
        }
        continue;
      }
      for (int d : targets) {
        if (drive_failed[d]) continue;
        entry x = g.e;
        x.v.ec->index = e.dist[d];
        if (g.e.v.inline_data) {
          x.inline_bytes = std::move(inline_out[d]);
        } else {
          (void)fs::fsync_dir(staging[d]);
          staged[d].emplace_back(staging[d], g.e.v.data_dir);
        }
        next[d].push_back(std::move(x));
        ++hr.shards_written;
      }
    }
    bool healed = false;
    for (int d = 0; d < per_set_; ++d) {
      if (!rewrite[d] || drive_failed[d]) {
        for (auto& [st, dd] : staged[d]) (void)fs::remove_all(st);
        continue;
      }
      drive& dr = set_drive(set, d);
      for (const auto& e : metas[d].entries) {
        const std::string sig = signature(e.v);
        if (droppable.count(sig)) continue;
        if (agreed.count(sig) && std::find(rebuild[d].begin(), rebuild[d].end(), sig) != rebuild[d].end()) continue;
        if (std::any_of(next[d].begin(), next[d].end(), [&](const entry& x) { return signature(x.v) == sig; })) continue;
        next[d].push_back(e);
      }
      sort_newest_first(next[d]);
      auto r = [&]() -> result<void> {
        const std::string dir = object_dir(dr, bucket, key);
        for (auto& [st, dd] : staged[d]) {
          SLUICE_TRY(move_into_object(dr, bucket, key, st, dd));
        }
        if (next[d].empty()) {
          SLUICE_TRY(fs::remove(fs::join(dir, kMetaName)));
          return fs::fsync_dir(dir);
        }
        SLUICE_TRY(ensure_dirs(dr, bucket, dir));
        return fs::write_file_durable(fs::join(dir, kMetaName), encode_meta(pack(next[d])));
      }();
      for (auto& [st, dd] : staged[d]) (void)fs::remove_all(st);
      if (!r) {
        note_failure(dr, r.error());
        ++hr.failed;
        continue;
      }
      clean_object_dir(dr, bucket, key);
      healed = true;
    }
    if (healed) hr.objects_healed = 1;
    return hr;
  }

  // ---------------------------------------------------------------- background

  void enqueue_heal(const std::string& bucket, const std::string& key) {
    std::lock_guard l(bg_mu_);
    if (heal_queue_.size() >= opts_.heal_queue_limit) return;  // a scan (heal_bucket) finds the rest
    if (!queued_.insert(bucket + '\n' + key).second) return;
    heal_queue_.emplace_back(bucket, key);
    bg_cv_.notify_all();
  }

  // A drive needs a full heal: run it on the heal thread once it is idle
  // (right away, on this thread, without background threads).
  void schedule_full_heal() {
    std::unique_lock l(heal_mu_);
    full_heal_pending_ = true;
    if (opts_.background) {
      heal_cv_.notify_all();
      return;
    }
    if (heal_.st == heal_status::state::running) return;  // the running sequence's caller runs it next
    while (full_heal_pending_ && !stop_requested_) {
      begin_sequence_locked("drive replaced", "", "");
      l.unlock();
      run_sequence("", "");
      l.lock();
    }
  }

  void begin_sequence_locked(const std::string& reason, const std::string& bucket,
                             const std::string& prefix) {
    if (heal_.id != 0) {
      heal_history_.push_back(heal_);
      if (heal_history_.size() > kHealHistory) heal_history_.pop_front();
    }
    heal_ = heal_status{};
    heal_.id = ++heal_ids_;
    heal_.st = heal_status::state::running;
    heal_.reason = reason;
    heal_.bucket = bucket;
    heal_.prefix = prefix;
    heal_.started = std::chrono::system_clock::now();
  }

  // Runs the heal sequence heal_ describes (state running) on this thread.
  // Drives are probed first, so a folder replaced since the last check is
  // formatted and covered. A sequence over every bucket ends the healing
  // state of the drives formatted before its walk began.
  void run_sequence(const std::string& bucket, const std::string& prefix) {
    if (probe_drives()) {
      std::lock_guard l(heal_mu_);
      full_heal_pending_ = true;
    }
    const uint64_t covered = format_gen_.load();
    const bool whole = bucket.empty() && prefix.empty();
    {
      std::lock_guard l(heal_mu_);
      spdlog::info("heal {}: started ({}, {})", heal_.id, heal_.reason,
                   bucket.empty() ? std::string("every bucket") : bucket + "/" + prefix);
    }
    auto r = heal_scope(bucket, prefix, [this](const heal_result& so_far) {
      std::lock_guard l(heal_mu_);
      heal_.counts = so_far;
    });
    const bool stopped = stopping();
    if (whole && r && !stopped) {
      for (auto& d : drives_) {
        if (d->online && d->healing && d->format_gen <= covered) {
          d->healing = false;
          spdlog::info("drive {} is fully healed", d->root);
        }
      }
    }
    std::lock_guard l(heal_mu_);
    heal_.finished = std::chrono::system_clock::now();
    if (!r) {
      heal_.st = heal_status::state::failed;
      heal_.error = r.error().message();
    } else {
      heal_.counts = r.value();
      heal_.st = stopped ? heal_status::state::stopped : heal_status::state::done;
      if (whole && !stopped && format_gen_.load() == covered) full_heal_pending_ = false;
    }
    spdlog::info("heal {}: {}: {} objects scanned, {} healed, {} shards written, {} failed{}", heal_.id,
                 to_string(heal_.st), heal_.counts.objects_scanned, heal_.counts.objects_healed,
                 heal_.counts.shards_written, heal_.counts.failed,
                 heal_.error.empty() ? "" : "; " + heal_.error);
  }

  // The heal thread: runs admin sequences, then pending full heals.
  void heal_loop() {
    std::unique_lock l(heal_mu_);
    for (;;) {
      heal_cv_.wait(l, [&] { return stop_requested_ || admin_request_ || full_heal_pending_; });
      if (stop_requested_) return;
      std::string bucket, prefix;
      if (admin_request_) {
        admin_request_ = false;  // heal_ already describes it (start_heal)
        bucket = heal_.bucket;
        prefix = heal_.prefix;
      } else {
        begin_sequence_locked("drive replaced", "", "");
      }
      l.unlock();
      run_sequence(bucket, prefix);
      l.lock();
    }
  }

  void background_loop() {
    using clock = std::chrono::steady_clock;
    const auto interval = opts_.drive_check_interval;
    auto next_check = clock::now() + interval;
    std::unique_lock l(bg_mu_);
    while (!stopping_) {
      if (heal_queue_.empty()) {
        if (interval.count() > 0) {
          bg_cv_.wait_until(l, next_check);
        } else {
          bg_cv_.wait(l);
        }
      }
      if (stopping_) break;
      if (interval.count() > 0 && clock::now() >= next_check) {
        l.unlock();
        check_drives();
        l.lock();
        next_check = clock::now() + interval;
        continue;
      }
      if (!heal_queue_.empty()) {
        auto [bucket, key] = heal_queue_.front();
        heal_queue_.pop_front();
        queued_.erase(bucket + '\n' + key);
        l.unlock();
        if (auto r = heal_object(bucket, key); !r) spdlog::warn("heal {}/{}: {}", bucket, key, r.error().message());
        l.lock();
      }
    }
  }

  // ---------------------------------------------------------------- bucket cache

  // Every request checks its bucket, and writes read its versioning: answers
  // agreed by quorum are kept in memory while enough drives are online to
  // have answered them. Entries change only through this store, which drops
  // them on every bucket write and drive state change; a fill that raced
  // with a drop (generation moved) is not kept.
  struct cached_bucket {
    bucket_info info;
    std::map<std::string, std::optional<std::string>> configs;
  };
  static constexpr size_t kBucketCacheLimit = 1024;

  std::optional<bucket_info> cached_bucket_info(const std::string& bucket, uint64_t& gen) {
    std::lock_guard l(bcache_mu_);
    gen = bcache_gen_;
    if (online_drives() < bucket_read_quorum()) return std::nullopt;
    auto it = bcache_.find(bucket);
    if (it == bcache_.end()) return std::nullopt;
    return it->second.info;
  }

  std::optional<std::optional<std::string>> cached_config(const std::string& bucket, const std::string& name,
                                                          uint64_t& gen) {
    std::lock_guard l(bcache_mu_);
    gen = bcache_gen_;
    if (online_drives() < bucket_read_quorum()) return std::nullopt;
    auto it = bcache_.find(bucket);
    if (it == bcache_.end()) return std::nullopt;
    auto c = it->second.configs.find(name);
    if (c == it->second.configs.end()) return std::nullopt;
    return c->second;
  }

  void cache_bucket(const bucket_info& info, uint64_t gen) {
    std::lock_guard l(bcache_mu_);
    if (gen != bcache_gen_) return;
    if (bcache_.size() >= kBucketCacheLimit && !bcache_.count(info.name)) bcache_.clear();
    bcache_.try_emplace(info.name, cached_bucket{info, {}});
  }

  void cache_config(const std::string& bucket, const std::string& name,
                    const std::optional<std::string>& value, uint64_t gen) {
    std::lock_guard l(bcache_mu_);
    if (gen != bcache_gen_) return;
    if (auto it = bcache_.find(bucket); it != bcache_.end()) it->second.configs[name] = value;
  }

  void invalidate_bucket(const std::string& bucket) {
    std::lock_guard l(bcache_mu_);
    ++bcache_gen_;
    bcache_.erase(bucket);
  }

  void invalidate_buckets() {
    std::lock_guard l(bcache_mu_);
    ++bcache_gen_;
    bcache_.clear();
  }

  erasure_store_options opts_;
  std::vector<std::unique_ptr<drive>> drives_;
  int set_count_ = 1, per_set_ = 1, parity_ = 0, default_k_ = 1;
  std::string deployment_;
  ec::deployment_id placement_id_{};
  bool fresh_ = false;

  std::mutex codec_mu_;
  std::map<std::pair<int, int>, ec::codec> codecs_;
  std::mutex bucket_mu_;
  std::array<std::mutex, 512> key_locks_;
  io_pool pool_;

  std::mutex drive_check_mu_;            // one probe_drives() at a time
  std::atomic<uint64_t> format_gen_{0};  // drives formatted so far

  std::mutex bcache_mu_;
  std::map<std::string, cached_bucket> bcache_;
  uint64_t bcache_gen_ = 0;

  std::mutex bg_mu_;  // heal queue and the background thread
  std::condition_variable bg_cv_;
  bool stopping_ = false;
  std::deque<std::pair<std::string, std::string>> heal_queue_;
  std::set<std::string> queued_;
  std::thread bg_;

  std::mutex heal_mu_;  // heal sequences and their thread
  std::condition_variable heal_cv_;
  bool stop_requested_ = false;
  bool admin_request_ = false;      // start_heal set heal_; the heal thread runs it
  bool full_heal_pending_ = false;  // a drive was formatted and awaits a full heal
  uint64_t heal_ids_ = 0;
  heal_status heal_;  // the running or last sequence
  static constexpr size_t kHealHistory = 16;
  std::deque<heal_status> heal_history_;  // finished sequences before heal_, oldest first
  std::thread heal_thread_;
};

}  // namespace

result<std::unique_ptr<erasure_store>> open_erasure_store(const erasure_store_options& opts) {
  auto store = std::make_unique<erasure_store_impl>(opts);
  SLUICE_TRY(store->init());
  return std::unique_ptr<erasure_store>(std::move(store));
}

}  // namespace sluice::objstore
