#include "objstore/local_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/aligned_buffer.h"
#include "base/crypto.h"
#include "base/encoding.h"
#include "base/free_list.h"
#include "base/fs.h"
#include "base/helper_threads.h"
#include "objstore/internal/common.h"
#include "objstore/internal/slot_file.h"
#include "objstore/internal/trash.h"
#include "objstore/meta_file.h"

namespace sluice::objstore {

namespace json = boost::json;

namespace {

using namespace detail;

constexpr size_t kIoChunk = 1 << 20;
constexpr size_t kFirstPiece = 256 << 10;  // stage(): the first chunk of a body, before they grow to kIoChunk
constexpr size_t kDirectAlign = 4096;  // O_DIRECT offsets, lengths and buffers
constexpr int kFormatVersion = 1;

// Opens the spill file for direct I/O when the file system allows it (ext4,
// xfs; not tmpfs): large bodies then go to the disk without a copy through the
// page cache, which costs more CPU than the hashing on small machines.
result<fs::file> open_spill(const std::string& path, bool& direct) {
  direct = true;
  auto f = fs::file::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  if (f) return f;
  direct = false;
  return fs::file::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

// Chunk buffers of the PUT path, kept for reuse. A fresh 1 MiB buffer is a
// new mapping whose pages fault in as the body fills it and are unmapped
// again after the request: on the VM of docs/BENCHMARKS.md that was ~512
// page faults (two buffers) per 1 MiB PUT. Keeps at most kKeep buffers; more
// concurrent bodies allocate and free their own.
class chunk_pool {
 public:
  static constexpr size_t kKeep = 32;

  static chunk_pool& instance() {
    static auto* pool = new chunk_pool;  // never destroyed: request threads may outlive static destructors
    return *pool;
  }
  aligned_buffer get() {
    if (auto b = free_.take()) return std::move(*b);
    return aligned_buffer(kIoChunk, kDirectAlign);
  }
  void put(aligned_buffer b) {
    if (b.capacity() == kIoChunk) free_.give(std::move(b));
  }

 private:
  free_list<aligned_buffer> free_{kKeep};
};

// A chunk buffer taken from the pool (take()), returned to it when this goes.
class pooled_chunk {
 public:
  pooled_chunk() = default;  // none
  static pooled_chunk take() {
    pooled_chunk c;
    c.b_ = chunk_pool::instance().get();
    return c;
  }
  ~pooled_chunk() {
    if (b_.data()) chunk_pool::instance().put(std::move(b_));
  }
  pooled_chunk(pooled_chunk&&) noexcept = default;
  pooled_chunk& operator=(pooled_chunk&& o) noexcept {
    if (this != &o) {
      if (b_.data()) chunk_pool::instance().put(std::move(b_));
      b_ = std::move(o.b_);
    }
    return *this;
  }
  char* data() const { return b_.data(); }

 private:
  aligned_buffer b_;
};

// The spill pipeline of a large body: the receiving thread fills a ring of
// chunk buffers; a writer thread writes them to the file in order and a hasher
// thread hashes them in order, each at its own pace; a buffer is refilled once
// both are done with it. Decoupled, the writes run ahead of the hash (the
// slowest step: MD5 ~1.5 ms per MiB on the 2-core VM of docs/BENCHMARKS.md,
// against ~1 ms for a direct write), and the writer starts an fdatasync every
// kSyncEvery bytes, so the flush a PUT must end with overlaps the hashing of
// the last chunks instead of following it. In lockstep (hash and write of one
// chunk, then the next) the final fdatasync of a 64 MiB body, ~50 ms, came
// after the last hash.
//
// Once the body has ended (end_input()) the writer, as soon as its last write
// is done, cuts the file to size and fdatasyncs it (the receiving thread
// fsyncs the file's folder at the same time), while the hasher finishes and
// the store goes on: it writes and fdatasyncs the
// object's metadata file beside that flush and waits for it (wait_durable())
// only before the metadata's rename. A 1 MiB PUT waited for the hash, then
// for four flushes in series; now the flushes start with the hash and run in
// two rounds.
class spill_pipeline {
 public:
  static constexpr size_t kRing = 4;                   // chunk buffers per body (4 MiB)
  static constexpr uint64_t kSyncEvery = 16ull << 20;  // bytes between the writer's fdatasyncs

  // `first` becomes the buffer of the first chunk (the caller fills it
  // before it knows the body spills); the others come from the pool as needed.
  spill_pipeline(fs::file f, bool direct, hasher& etag, pooled_chunk first)
      : f_(std::move(f)), direct_(direct), etag_(etag) {
    bufs_[0] = std::move(first);
    writer_ = run_helper("put-write", [this] { write_loop(); });
    hasher_ = run_helper("put-hash", [this] { hash_loop(); });
  }
  ~spill_pipeline() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    if (hasher_.joinable()) hasher_.join();
  }
  spill_pipeline(const spill_pipeline&) = delete;
  spill_pipeline& operator=(const spill_pipeline&) = delete;

  // The buffer for the next chunk, once both threads are done with its last
  // use; nullptr after a write error (finish() returns it).
  char* next_buffer() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return failed_ || received_ - std::min(written_, hashed_) < kRing; });
    if (failed_) return nullptr;
    pooled_chunk& b = bufs_[received_ % kRing];
    if (!b.data()) b = pooled_chunk::take();
    return b.data();
  }
  // Hands over the chunk just filled: n bytes at file offset `offset`.
  void submit(size_t n, uint64_t offset) {
    slot& s = slots_[received_ % kRing];
    s.n = n;
    s.offset = offset;
    s.write_len = n;
    if (direct_ && n % kDirectAlign != 0) {  // direct writes are whole blocks: pad, cut back at the end
      s.write_len = (n + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
      std::memset(bufs_[received_ % kRing].data() + n, 0, s.write_len - n);
    }
    {
      std::lock_guard lk(mu_);
      ++received_;
    }
    cv_.notify_all();
  }
  // After end_input(): waits until every chunk is hashed (the hasher then
  // stops: the caller's hasher may go) and written; the first write error.
  // The final flush may still be running (wait_durable()).
  result<void> finish() {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return failed_ || (written_ == received_ && hashed_ == received_); });
      if (failed_) return fail(error_);
    }
    hasher_.join();
    return ok();
  }
  // The body ended at `size` bytes (every chunk submitted): once the writer
  // has written them it cuts the file to size (direct writes are padded) and
  // fdatasyncs it, while the hasher may still be hashing. Meanwhile this
  // (the receiving) thread fsyncs `dir`, the file's folder, so that its entry
  // is durable too: the two flushes run at once instead of one after the
  // other on the writer (the folder's fsync, ~0.5-1 ms here, was on the path
  // of every spilled PUT). Returns that fsync's error.
  result<void> end_input(uint64_t size, const std::string& dir) {
    auto d = fs::file::open(dir, O_RDONLY | O_DIRECTORY);
    if (!d) return fail(io(d.error()));
    {
      std::lock_guard lk(mu_);
      size_ = size;
      input_closed_ = true;
    }
    cv_.notify_all();
    if (::fsync(d.value().fd()) != 0) return fail(io(errno_error("fsync dir " + dir, errno)));
    return ok();
  }
  // Waits for the writer's final flush; its result.
  result<void> wait_durable() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return durable_done_; });
    return durable_;
  }

 private:
  struct slot {
    size_t n = 0, write_len = 0;
    uint64_t offset = 0;
  };

  // Runs step(slot) for every chunk received, in order, counting them in
  // `done`; the first failing step fails the pipeline.
  template <class Step>
  void consume(size_t& done, Step step) {
    for (;;) {
      size_t i;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_ || input_closed_ || done < received_; });
        if (done == received_) return;  // input closed, or stopping
        i = done % kRing;
      }
      result<void> r = step(i);
      {
        std::lock_guard lk(mu_);
        if (!r && !failed_) {
          failed_ = true;
          error_ = io(r.error());
        }
        ++done;
      }
      cv_.notify_all();
    }
  }

  void write_loop() {
    uint64_t unsynced = 0;
    consume(written_, [&](size_t i) -> result<void> {
      const slot& s = slots_[i];
      SLUICE_TRY(f_.write_all(std::string_view(bufs_[i].data(), s.write_len)));
      if (!direct_) {
        // Start writeback now, so the final fdatasync finds little left to flush.
        ::sync_file_range(f_.fd(), static_cast<off_t>(s.offset), static_cast<off_t>(s.n),
                          SYNC_FILE_RANGE_WRITE);
      }
      unsynced += s.n;
      if (unsynced < kSyncEvery) return ok();
      unsynced = 0;
      return f_.sync();  // durability still comes from the final flush; this moves work earlier
    });
    result<void> r = final_flush();
    {
      std::lock_guard lk(mu_);
      durable_ = std::move(r);
      durable_done_ = true;
    }
    cv_.notify_all();
  }

  result<void> final_flush() {
    {
      std::lock_guard lk(mu_);
      if (failed_) return fail(error_);
      if (!input_closed_) return fail(errc::io_error, "spill pipeline stopped before the body ended");
    }
    if (direct_ && size_ % kDirectAlign != 0 && ::ftruncate(f_.fd(), static_cast<off_t>(size_)) != 0) {
      return fail(io(errno_error("truncate spill file", errno)));
    }
    if (auto r = f_.sync(); !r) return fail(io(r.error()));
    return ok();
  }

  void hash_loop() {
    consume(hashed_, [&](size_t i) -> result<void> {
      etag_.update(std::string_view(bufs_[i].data(), slots_[i].n));
      return ok();
    });
  }

  fs::file f_;
  const bool direct_;
  hasher& etag_;
  pooled_chunk bufs_[kRing];  // taken from the pool when first used
  slot slots_[kRing];  // slot i: written by the receiver before it counts in received_
  std::mutex mu_;
  std::condition_variable cv_;
  size_t received_ = 0, written_ = 0, hashed_ = 0;
  bool stop_ = false;
  bool failed_ = false;
  error error_;
  bool input_closed_ = false;  // end_input(): size_ set
  uint64_t size_ = 0;
  bool durable_done_ = false;  // the writer's final flush ended with durable_
  result<void> durable_ = ok();
  helper_task writer_, hasher_;  // last: they start once the rest is in place
};

// Reads a source to the end into staging: the first `inline_max` bytes in
// memory, the rest spilled to a file. Computes the ETag hash and size on the way.
struct staged_body {
  std::string memory;
  std::string file_path;  // set when spilled
  uint64_t size = 0;
  std::string etag_hex;  // MD5, or XXH3-128 (put_options::md5_etag)
  // Set when spilled: its writer is making the file and its folder entry
  // durable (see spill_pipeline); durable() waits for that.
  std::unique_ptr<spill_pipeline> spill;

  result<void> durable() { return spill ? spill->wait_durable() : ok(); }
};

// A body that spills is written with direct I/O when `direct_io` says so
// (large bodies), else through the page cache.
result<staged_body> stage(source& data, uint64_t inline_max, uint64_t max_size, bool direct_io,
                          const std::string& spill_dir, const std::string& spill_name, bool md5_etag = true) {
  staged_body out;
  hasher etag(md5_etag ? hash_kind::md5 : hash_kind::xxh3_128);
  bool direct = false;
  pooled_chunk first = pooled_chunk::take();  // chunks before the body spills (it may stay inline)
  std::unique_ptr<spill_pipeline> pipe;       // owns the spill file once made
  // The first chunks are short and grow to kIoChunk, so hashing and writing
  // start while the rest of the body arrives: a whole first chunk of 1 MiB
  // kept the hasher idle until the body of a 1 MiB PUT was in (by the receive
  // and MD5 rates ~0.4 ms of its ~5 ms on the VM of docs/BENCHMARKS.md; A/B
  // runs there could not tell it from the noise). The first is longer than
  // inline_max, so a body that does not stay inline spills from its first
  // byte (direct I/O from the file's start).
  size_t piece = std::min(
      kIoChunk,
      std::max(kFirstPiece, (std::min<uint64_t>(inline_max, kIoChunk) / kDirectAlign + 1) * kDirectAlign));
  for (bool eof = false; !eof; piece = std::min(kIoChunk, 2 * piece)) {
    char* buf = pipe ? pipe->next_buffer() : first.data();
    if (!buf) break;  // a write failed: finish() reports it
    // Fill the whole chunk before hashing and writing: sources may deliver small pieces.
    size_t n = 0;
    while (n < piece) {
      SLUICE_TRY(size_t k, data.read(buf + n, piece - n));
      if (k == 0) {
        eof = true;
        break;
      }
      n += k;
    }
    if (n == 0) break;
    out.size += n;
    if (out.size > max_size) return fail(errc::object_too_large, "object larger than the allowed maximum");
    std::string_view chunk(buf, n);
    if (!pipe && out.memory.size() + n <= inline_max) {
      etag.update(chunk);
      out.memory.append(chunk);
      continue;
    }
    if (!pipe) {
      if (auto r = fs::mkdirs(spill_dir); !r) return fail(io(r.error()));
      out.file_path = fs::join(spill_dir, spill_name);
      // Direct I/O only from the start of the file: bytes kept in memory so
      // far (only with an inline limit above a chunk) go through the page cache.
      bool want_direct = direct_io && out.memory.empty();
      auto of = want_direct ? open_spill(out.file_path, direct)
                            : fs::file::open(out.file_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (!of) return fail(io(of.error()));
      fs::file f = std::move(of).value();
      if (auto r = f.write_all(out.memory); !r) return fail(io(r.error()));
      out.memory.clear();
      out.memory.shrink_to_fit();
      // This chunk is in `first`, which becomes the pipeline's first buffer.
      pipe = std::make_unique<spill_pipeline>(std::move(f), direct, etag, std::move(first));
    }
    pipe->submit(n, out.size - n);
  }
  if (pipe) {
    SLUICE_TRY(pipe->end_input(out.size, spill_dir));
    SLUICE_TRY(pipe->finish());
    out.spill = std::move(pipe);
  }
  out.etag_hex = to_hex(etag.finish());
  return out;
}

// Serves bytes [offset, offset+length) of an object from its inline bytes or part files.
class local_reader final : public object_reader {
 public:
  local_reader(object_info info, std::string inline_bytes, std::vector<std::pair<fs::file, uint64_t>> parts,
               uint64_t offset, uint64_t length)
      : info_(std::move(info)), inline_(std::move(inline_bytes)), parts_(std::move(parts)), pos_(offset),
        end_(offset + length) {}

  const object_info& info() const override { return info_; }

  result<void> set_range(uint64_t offset, uint64_t length) override {
    if (offset + length > info_.size) return fail(errc::invalid_range);
    pos_ = offset;
    end_ = offset + length;
    return ok();
  }

  // Parts are plain files holding the object's bytes as they are.
  result<std::optional<file_span>> next_file_span(uint64_t max_bytes) override {
    if (parts_.empty() || pos_ >= end_ || max_bytes == 0) return std::optional<file_span>();
    SLUICE_TRY(auto at, locate(max_bytes));
    file_span sp{at.file->fd(), at.offset, at.length};
    pos_ += at.length;
    return std::optional<file_span>(sp);
  }

  result<size_t> read(char* buf, size_t n) override {
    if (pos_ >= end_) return size_t{0};
    if (parts_.empty()) {
      n = static_cast<size_t>(std::min<uint64_t>(n, end_ - pos_));
      std::memcpy(buf, inline_.data() + pos_, n);
      pos_ += n;
      return n;
    }
    SLUICE_TRY(auto at, locate(n));
    const auto want = static_cast<size_t>(at.length);
    auto got = at.file->pread(buf, want, at.offset);
    if (!got) return fail(io(got.error()));
    if (got.value() != want) return fail(errc::corrupt, "object data shorter than its metadata says");
    pos_ += want;
    return want;
  }

 private:
  // The part holding pos_, where in it pos_ lies, and how many bytes (at most
  // `max_bytes`, never past end_ or the part's end) can be taken from there.
  struct part_run {
    const fs::file* file;
    uint64_t offset;
    uint64_t length;
  };
  result<part_run> locate(uint64_t max_bytes) const {
    uint64_t base = 0;
    for (const auto& [file, size] : parts_) {
      if (pos_ < base + size)
        return part_run{&file, pos_ - base, std::min({max_bytes, end_ - pos_, base + size - pos_})};
      base += size;
    }
    return fail(errc::corrupt, "object data shorter than its metadata says");
  }

  object_info info_;
  std::string inline_;
  std::vector<std::pair<fs::file, uint64_t>> parts_;
  uint64_t pos_;
  uint64_t end_;
};

class local_store final : public object_layer {
 public:
  explicit local_store(local_store_options opts) : opts_(std::move(opts)) {
    sys_ = fs::join(opts_.root, kSys);
    tmp_ = fs::join(sys_, "tmp");
    buckets_ = fs::join(sys_, "buckets");
    multipart_ = fs::join(sys_, "multipart");
  }

  result<void> init() {
    for (const auto& d : {opts_.root, sys_, tmp_, buckets_, multipart_}) {
      if (auto r = fs::mkdirs(d); !r) return fail(io(r.error()));
    }
    std::string format = fs::join(sys_, "format.json");
    if (!fs::exists(format)) {
      json::object f{{"format", kFormatVersion}, {"id", uuid_v4()}, {"layout", "single-drive"}};
      if (auto r = fs::write_file_durable(format, json::serialize(f)); !r) return fail(io(r.error()));
    }
    SLUICE_TRY(auto f, read_json(format));
    if (jnum(f, "format") != kFormatVersion) {
      return fail(errc::corrupt, "drive " + opts_.root + " has an unknown format version");
    }
    deployment_id_ = jstr(f, "id");
    // Leftovers of writes interrupted by a crash: never visible, safe to drop.
    if (auto entries = fs::list_dir(tmp_); entries) {
      for (const auto& e : entries.value()) {
        (void)fs::remove_all(fs::join(tmp_, e.name));
      }
      if (!entries.value().empty()) spdlog::info("cleaned {} interrupted writes in {}", entries.value().size(), tmp_);
    }
    trash_ = std::make_unique<detail::trash>(fs::join(sys_, "trash"));
    return ok();
  }

  // ---------------------------------------------------------------- buckets

  result<void> make_bucket(const std::string& bucket, const std::string& owner) override {
    if (!valid_bucket_name(bucket)) return fail(errc::invalid_bucket_name, bucket);
    std::lock_guard lock(bucket_mu_);
    std::string dir = fs::join(buckets_, bucket);
    if (fs::exists(fs::join(dir, "bucket.json"))) return fail(errc::bucket_exists, bucket);
    if (auto r = fs::mkdirs(dir); !r) return fail(io(r.error()));
    if (auto r = fs::mkdirs(fs::join(opts_.root, bucket)); !r) return fail(io(r.error()));
    if (auto r = fs::fsync_dir(opts_.root); !r) return fail(io(r.error()));
    if (auto r = fs::fsync_dir(buckets_); !r) return fail(io(r.error()));
    auto now = std::chrono::system_clock::now();
    json::object b{{"name", bucket}, {"created", unix_nanos(now)}, {"owner", owner}};
    if (auto r = fs::write_file_durable(fs::join(dir, "bucket.json"), json::serialize(b)); !r) {
      return fail(io(r.error()));
    }
    std::lock_guard cache_lock(cache_mu_);
    bucket_cache_[bucket] = bucket_info{bucket, from_unix_nanos(unix_nanos(now)), owner};
    return ok();
  }

  // Every request checks its bucket: known buckets are answered from memory.
  // The cache changes only under bucket_mu_, with the files it mirrors.
  result<bucket_info> bucket(const std::string& bucket) override {
    if (!valid_bucket_name(bucket)) return fail(errc::bucket_not_found, bucket);
    {
      std::lock_guard lock(cache_mu_);
      if (auto it = bucket_cache_.find(bucket); it != bucket_cache_.end()) return it->second;
    }
    std::lock_guard lock(bucket_mu_);
    SLUICE_TRY(auto info, read_bucket(bucket));
    std::lock_guard cache_lock(cache_mu_);
    bucket_cache_[bucket] = info;
    return info;
  }

  result<bucket_info> read_bucket(const std::string& bucket) {
    auto j = read_json(fs::join(fs::join(buckets_, bucket), "bucket.json"));
    if (!j) {
      if (j.error().code() == std::error_code(ENOENT, std::system_category())) {
        return fail(errc::bucket_not_found, bucket);
      }
      return fail(j.error());
    }
    return bucket_info{bucket, from_unix_nanos(jnum(j.value(), "created")), jstr(j.value(), "owner")};
  }

  result<std::vector<bucket_info>> list_buckets() override {
    auto entries = fs::list_dir(buckets_);
    if (!entries) return fail(io(entries.error()));
    std::vector<bucket_info> out;
    for (const auto& e : entries.value()) {
      if (!e.is_dir) continue;
      auto b = bucket(e.name);
      if (b) out.push_back(std::move(b).value());
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  }

  result<void> delete_bucket(const std::string& bucket) override {
    SLUICE_TRY(this->bucket(bucket));
    std::lock_guard lock(bucket_mu_);
    std::string data = fs::join(opts_.root, bucket);
    auto entries = fs::list_dir(data);
    if (!entries) return fail(io(entries.error()));
    for (const auto& e : entries.value()) {
      if (!reserved(e.name)) return fail(errc::bucket_not_empty, bucket);
    }
    // Drop the bucket's metadata first: a crash half-way leaves an invisible empty folder, never a ghost bucket.
    std::string meta_dir = fs::join(buckets_, bucket);
    if (auto r = fs::remove(fs::join(meta_dir, "bucket.json")); !r) return fail(io(r.error()));
    {
      std::lock_guard cache_lock(cache_mu_);
      bucket_cache_.erase(bucket);
    }
    (void)fs::fsync_dir(meta_dir);
    (void)fs::remove_all(meta_dir);
    (void)fs::remove_all(data);
    (void)fs::remove_all(fs::join(multipart_, bucket));
    (void)fs::fsync_dir(opts_.root);
    return ok();
  }

  result<std::optional<std::string>> bucket_config(const std::string& bucket, const std::string& name) override {
    SLUICE_TRY(this->bucket(bucket));
    std::string path = fs::join(fs::join(buckets_, bucket), name + ".cfg");
    if (!fs::exists(path)) return std::optional<std::string>();
    auto r = fs::read_file(path);
    if (!r) return fail(io(r.error()));
    return std::optional<std::string>(std::move(r).value());
  }

  result<void> set_bucket_config(const std::string& bucket, const std::string& name,
                                 std::optional<std::string> value) override {
    SLUICE_TRY(this->bucket(bucket));
    std::string dir = fs::join(buckets_, bucket);
    std::string path = fs::join(dir, name + ".cfg");
    std::lock_guard lock(bucket_mu_);
    if (!value) {
      if (auto r = fs::remove(path); !r) return fail(io(r.error()));
      (void)fs::fsync_dir(dir);
      return ok();
    }
    if (auto r = fs::write_file_durable(path, *value); !r) return fail(io(r.error()));
    return ok();
  }

  // ---------------------------------------------------------------- objects

  result<object_info> put_object(const std::string& bucket, const std::string& key, source& data,
                                 put_options opts) override {
    SLUICE_TRY(check_key(bucket, key));
    std::string staging = fs::join(tmp_, uuid_v4());
    auto cleanup = [&] { (void)fs::remove_all(staging); };
    auto staged =
        stage(data, opts_.inline_threshold, std::min(opts_.max_object_size, opts.size.value_or(UINT64_MAX)),
              direct_io(opts.size), staging, "part.1", opts.md5_etag);
    if (!staged) {
      cleanup();
      return fail(staged.error());
    }
    auto& body = staged.value();
    if (opts.size && *opts.size != body.size) {
      cleanup();
      return fail(errc::bad_argument, "body length differs from the declared size");
    }
    object_info info;
    info.bucket = bucket;
    info.key = key;
    info.size = body.size;
    info.etag = body.etag_hex;
    info.mod_time = std::chrono::system_clock::now();
    info.metadata = std::move(opts.metadata);
    info.tags = std::move(opts.tags);
    if (opts.finalize) {
      if (auto r = opts.finalize(info); !r) {
        cleanup();
        return fail(r.error());
      }
    }
    stored_version v;
    v.info = info;
    auto r = commit(bucket, key, std::move(v), body.file_path.empty() ? std::string() : staging,
                    std::move(body.memory), [&] { return body.durable(); });
    cleanup();
    if (!r) return fail(r.error());
    return info;
  }

  result<object_info> stat_object(const std::string& bucket, const std::string& key,
                                  const std::string& version_id) override {
    SLUICE_TRY(check_key(bucket, key));
    SLUICE_TRY(auto m, load_meta(bucket, key));
    SLUICE_TRY(auto* v, pick_version(m, version_id));
    object_info info = v->info;
    info.bucket = bucket;
    info.key = key;
    if (info.delete_marker) return fail(errc::object_not_found, key);
    return info;
  }

  result<std::unique_ptr<object_reader>> get_object(const std::string& bucket, const std::string& key,
                                                    const get_options& opts) override {
    SLUICE_TRY(check_key(bucket, key));
    // A concurrent overwrite may remove the data folder between reading the
    // metadata and opening the files; reading the metadata again then finds the new version.
    for (int attempt = 0;; ++attempt) {
      SLUICE_TRY(auto m, load_meta(bucket, key));
      SLUICE_TRY(auto* v, pick_version(m, opts.version_id));
      object_info info = v->info;
      info.bucket = bucket;
      info.key = key;
      if (info.delete_marker) return fail(errc::object_not_found, key);
      uint64_t offset = 0, length = info.size;
      if (opts.range) {
        if (opts.range->offset + opts.range->length > info.size) return fail(errc::invalid_range);
        offset = opts.range->offset;
        length = opts.range->length;
      }
      if (v->inline_data || info.size == 0) {
        std::string bytes = m.inline_area.substr(v->inline_offset, info.size);
        return std::unique_ptr<object_reader>(
            std::make_unique<local_reader>(std::move(info), std::move(bytes),
                                           std::vector<std::pair<fs::file, uint64_t>>{}, offset, length));
      }
      std::string data_dir = fs::join(object_dir(bucket, key), std::string(kDataPrefix) + v->data_dir);
      std::vector<std::pair<fs::file, uint64_t>> files;
      bool vanished = false;
      std::vector<part_info> parts = info.parts;
      if (parts.empty()) parts.push_back(part_info{1, info.size, info.etag, {}, {}});
      for (const auto& p : parts) {
        auto f = fs::file::open(fs::join(data_dir, "part." + std::to_string(p.number)), O_RDONLY);
        if (!f) {
          if (f.error().code() == std::error_code(ENOENT, std::system_category())) {
            vanished = true;
            break;
          }
          return fail(io(f.error()));
        }
        files.emplace_back(std::move(f).value(), p.size);
      }
      if (vanished) {
        if (attempt < 3) continue;
        return fail(errc::corrupt, "data of " + bucket + "/" + key + " is missing");
      }
      return std::unique_ptr<object_reader>(
          std::make_unique<local_reader>(std::move(info), std::string(), std::move(files), offset, length));
    }
  }

  result<object_info> update_object_metadata(const std::string& bucket, const std::string& key,
                                             const std::string& version_id, std::optional<metadata_map> metadata,
                                             std::optional<std::string> tags) override {
    SLUICE_TRY(check_key(bucket, key));
    std::lock_guard lock(key_lock(bucket, key));
    SLUICE_TRY(auto m, load_meta(bucket, key));
    SLUICE_TRY(auto* v, pick_version(m, version_id));
    if (v->info.delete_marker) return fail(errc::method_not_allowed, "version is a delete marker");
    if (metadata) {
      v->info.metadata = std::move(*metadata);
      v->info.mod_time = std::chrono::system_clock::now();
    }
    if (tags) v->info.tags = std::move(*tags);
    if (auto r = detail::write_slot_file(fs::join(object_dir(bucket, key), kMetaName), encode_meta(m)); !r) {
      return fail(io(r.error()));
    }
    object_info info = v->info;
    info.bucket = bucket;
    info.key = key;
    return info;
  }

  result<object_info> delete_object(const std::string& bucket, const std::string& key,
                                    const std::string& version_id) override {
    SLUICE_TRY(check_key(bucket, key));
    std::lock_guard lock(key_lock(bucket, key));
    object_info removed;
    removed.bucket = bucket;
    removed.key = key;
    auto m = load_meta(bucket, key);
    if (!m) {
      if (m.error().is(errc::object_not_found)) return removed;
      return fail(m.error());
    }
    if (!version_id.empty() && version_id != "null") {
      bool found = false;
      for (const auto& v : m.value().versions) found = found || v.info.version_id == version_id;
      if (!found) return fail(errc::version_not_found, version_id);
    }
    removed = m.value().versions.front().info;
    removed.bucket = bucket;
    removed.key = key;
    std::string dir = object_dir(bucket, key);
    if (auto r = fs::remove(fs::join(dir, kMetaName)); !r) return fail(io(r.error()));
    if (auto r = fs::fsync_dir(dir); !r) return fail(io(r.error()));
    for (const auto& v : m.value().versions) {
      if (!v.data_dir.empty()) trash_->discard(fs::join(dir, std::string(kDataPrefix) + v.data_dir));
    }
    prune_empty_dirs(bucket, dir);
    return removed;
  }

  result<list_result> list_objects(const std::string& bucket, const list_options& opts) override {
    SLUICE_TRY(this->bucket(bucket));
    if (opts.max_keys <= 0) return list_result{};
    std::string bucket_dir = fs::join(opts_.root, bucket);
    // Start the walk in the deepest folder that the prefix names completely.
    std::string start;
    if (auto slash = opts.prefix.rfind('/'); slash != std::string::npos) start = opts.prefix.substr(0, slash + 1);
    list_page page(opts);
    auto emit = [&](const std::string& key, bool is_object) -> bool {
      return page.offer(key, is_object, [&]() -> std::optional<object_info> {
        auto m = load_meta(bucket, key);
        if (!m || m.value().versions.front().info.delete_marker) return std::nullopt;  // deleted meanwhile
        object_info info = std::move(m.value().versions.front().info);
        info.bucket = bucket;
        info.key = key;
        return info;
      });
    };
    walk_keys([&](const std::string& rel) { return folders(bucket_dir, rel); }, start, opts, page.last_prefix(), emit);
    return page.take();
  }

  // ---------------------------------------------------------------- multipart

  result<std::string> new_multipart_upload(const std::string& bucket, const std::string& key,
                                           put_options opts) override {
    SLUICE_TRY(check_key(bucket, key));
    std::string id = uuid_v4();
    std::string dir = upload_dir(bucket, key, id);
    if (auto r = fs::mkdirs(dir); !r) return fail(io(r.error()));
    json::object u{{"bucket", bucket},
                   {"key", key},
                   {"initiated", unix_nanos(std::chrono::system_clock::now())},
                   {"owner", opts.owner},
                   {"meta", map_to_json(opts.metadata)},
                   {"tags", opts.tags}};
    if (auto r = fs::write_file_durable(fs::join(dir, "upload.json"), json::serialize(u)); !r) {
      return fail(io(r.error()));
    }
    (void)fs::fsync_dir(fs::parent_path(dir));
    return id;
  }

  result<part_info> put_object_part(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                    int part_number, source& data, std::optional<uint64_t> size,
                                    finalize_fn finalize) override {
    SLUICE_TRY(check_key(bucket, key));
    if (part_number < 1 || part_number > kMaxPartNumber) return fail(errc::bad_argument, "part number out of range");
    SLUICE_TRY(auto upload, load_upload(bucket, key, upload_id));
    (void)upload;
    std::string dir = upload_dir(bucket, key, upload_id);
    std::string file_name = "part." + std::to_string(part_number) + "." + random_token(12);
    std::string staging = fs::join(tmp_, uuid_v4());
    auto cleanup = [&] { (void)fs::remove_all(staging); };
    auto staged = stage(data, 0, std::min<uint64_t>(5ull << 30, size.value_or(UINT64_MAX)), direct_io(size),
                        staging, file_name);
    if (!staged) {
      cleanup();
      return fail(staged.error());
    }
    auto& body = staged.value();
    if (auto r = body.durable(); !r) {
      cleanup();
      return fail(r.error());
    }
    if (size && *size != body.size) {
      cleanup();
      return fail(errc::bad_argument, "body length differs from the declared size");
    }
    if (body.file_path.empty()) {
      // Empty part: every part still has a file.
      body.file_path = fs::join(staging, file_name);
      auto made = fs::mkdirs(staging);
      result<fs::file> f = made ? fs::file::open(body.file_path, O_WRONLY | O_CREAT | O_TRUNC)
                                : result<fs::file>(made.error());
      if (!f) {
        cleanup();
        return fail(io(f.error()));
      }
    }
    object_info info;
    info.size = body.size;
    info.etag = body.etag_hex;
    if (finalize) {
      if (auto r = finalize(info); !r) {
        cleanup();
        return fail(r.error());
      }
    }
    part_info part{part_number, body.size, body.etag_hex, std::chrono::system_clock::now(), info.checksums};
    std::lock_guard lock(key_lock(bucket, key));
    if (!fs::exists(fs::join(dir, "upload.json"))) {
      cleanup();
      return fail(errc::upload_not_found, upload_id);
    }
    std::string meta_path = fs::join(dir, "part." + std::to_string(part_number) + ".json");
    std::string old_file;
    if (auto old = read_json(meta_path)) old_file = jstr(old.value(), "file");
    if (auto r = fs::rename(body.file_path, fs::join(dir, file_name)); !r) {
      cleanup();
      return fail(io(r.error()));
    }
    json::object pj{{"n", part_number},
                    {"size", part.size},
                    {"etag", part.etag},
                    {"mtime", unix_nanos(part.mod_time)},
                    {"file", file_name},
                    {"checksums", map_to_json(part.checksums)}};
    auto w = fs::write_file_durable(meta_path, json::serialize(pj));  // also makes the rename durable
    cleanup();
    if (!w) return fail(io(w.error()));
    if (!old_file.empty() && old_file != file_name) (void)fs::remove(fs::join(dir, old_file));
    return part;
  }

  result<list_parts_result> list_parts(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id, int part_marker, int max_parts) override {
    SLUICE_TRY(check_key(bucket, key));
    SLUICE_TRY(auto upload, load_upload(bucket, key, upload_id));
    SLUICE_TRY(auto parts, load_parts(bucket, key, upload_id));
    list_parts_result out;
    out.upload = upload.first;
    out.metadata = upload.second;
    page_parts(parts, part_marker, max_parts, out);
    return out;
  }

  result<object_info> complete_multipart_upload(const std::string& bucket, const std::string& key,
                                                const std::string& upload_id,
                                                const std::vector<completed_part>& parts,
                                                finalize_fn finalize) override {
    SLUICE_TRY(check_key(bucket, key));
    std::lock_guard lock(key_lock(bucket, key));
    SLUICE_TRY(auto upload, load_upload(bucket, key, upload_id));
    SLUICE_TRY(auto stored, load_parts(bucket, key, upload_id));
    if (parts.empty()) return fail(errc::invalid_part, "no parts given");
    std::string dir = upload_dir(bucket, key, upload_id);
    object_info info;
    std::string md5s;
    for (size_t i = 1; i < parts.size(); ++i) {
      if (parts[i].number <= parts[i - 1].number) {
        return fail(errc::invalid_part_order, "parts must be listed in ascending order");
      }
    }
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
    std::string staging = fs::join(tmp_, uuid_v4());
    if (auto r = fs::mkdirs(staging); !r) return fail(io(r.error()));
    auto cleanup = [&] { (void)fs::remove_all(staging); };
    for (const auto& p : info.parts) {
      if (auto r = fs::rename(fs::join(dir, stored[p.number].second), fs::join(staging, "part." + std::to_string(p.number)));
          !r) {
        cleanup();
        return fail(io(r.error()));
      }
    }
    if (auto r = fs::fsync_dir(staging); !r) {
      cleanup();
      return fail(io(r.error()));
    }
    info.bucket = bucket;
    info.key = key;
    info.etag = to_hex(md5(md5s)) + "-" + std::to_string(info.parts.size());
    info.mod_time = std::chrono::system_clock::now();
    info.metadata = upload.second;
    if (auto t = read_json(fs::join(dir, "upload.json")); t) info.tags = jstr(t.value(), "tags");
    if (finalize) {
      if (auto r = finalize(info); !r) {
        // Put the parts back so the upload can still be completed or aborted.
        for (const auto& p : info.parts) {
          (void)fs::rename(fs::join(staging, "part." + std::to_string(p.number)), fs::join(dir, stored[p.number].second));
        }
        cleanup();
        return fail(r.error());
      }
    }
    stored_version v;
    v.info = info;
    auto r = commit_locked(bucket, key, std::move(v), staging, {});
    cleanup();
    if (!r) return fail(r.error());
    (void)fs::remove_all(dir);
    (void)fs::remove(fs::parent_path(dir));  // the key's folder of uploads, when now empty
    return info;
  }

  result<void> abort_multipart_upload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) override {
    SLUICE_TRY(check_key(bucket, key));
    std::lock_guard lock(key_lock(bucket, key));
    SLUICE_TRY(load_upload(bucket, key, upload_id));
    std::string dir = upload_dir(bucket, key, upload_id);
    if (auto r = fs::remove(fs::join(dir, "upload.json")); !r) return fail(io(r.error()));
    (void)fs::fsync_dir(dir);
    (void)fs::remove_all(dir);
    (void)fs::remove(fs::parent_path(dir));
    return ok();
  }

  result<list_uploads_result> list_multipart_uploads(const std::string& bucket,
                                                     const list_uploads_options& opts) override {
    SLUICE_TRY(this->bucket(bucket));
    std::vector<upload_info> all;
    std::string bdir = fs::join(multipart_, bucket);
    SLUICE_TRY(auto keys, list_or_io(bdir));
    for (const auto& k : keys) {
      SLUICE_TRY(auto ups, list_or_io(fs::join(bdir, k.name)));
      for (const auto& u : ups) {
        auto j = read_json(fs::join(fs::join(fs::join(bdir, k.name), u.name), "upload.json"));
        if (!j) continue;
        all.push_back(upload_info{jstr(j.value(), "key"), u.name, from_unix_nanos(jnum(j.value(), "initiated")),
                                  jstr(j.value(), "owner")});
      }
    }
    return detail::page_uploads(std::move(all), opts);
  }

  result<storage_info> storage() override {
    storage_info out;
    struct statvfs st {};
    storage_info::drive d;
    d.path = opts_.root;
    if (::statvfs(opts_.root.c_str(), &st) == 0) {
      d.total_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
      d.free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    } else {
      d.online = false;
    }
    out.drives.push_back(d);
    out.deployment_id = deployment_id_;
    out.backend = "single-drive";
    out.total_bytes = d.total_bytes;
    out.free_bytes = d.free_bytes;
    return out;
  }

 private:
  // Direct I/O for large bodies only. Measured on a 2-vCPU VM with a ~300 MB/s
  // disk (docs/BENCHMARKS.md): a 1 MiB PUT through the page cache (writeback
  // started per chunk, one fdatasync) ran 1.2-1.5x the direct one, whose
  // synchronous writes keep one I/O in flight; for 64 MiB at 8-32 clients on a
  // faster disk, direct I/O's saved copy won (386 vs 354, 463 vs 316 MiB/s).
  bool direct_io(std::optional<uint64_t> size) const { return !size || *size >= opts_.direct_io_min; }

  result<void> check_key(const std::string& bucket, const std::string& key) {
    SLUICE_TRY(this->bucket(bucket));
    if (auto why = invalid_object_key(key)) return fail(errc::invalid_object_name, *why);
    return ok();
  }

  std::string object_dir(const std::string& bucket, const std::string& key) const {
    std::string base = fs::join(opts_.root, bucket);
    if (key.ends_with('/')) return base + "/" + key + std::string(kDirObject);
    return base + "/" + key;
  }

  std::string upload_dir(const std::string& bucket, const std::string& key, const std::string& id) const {
    return fs::join(fs::join(fs::join(multipart_, bucket), sha256_hex(key).substr(0, 32)), id);
  }

  std::mutex& key_lock(const std::string& bucket, const std::string& key) {
    size_t h = std::hash<std::string>{}(bucket) ^ (std::hash<std::string>{}(key) * 31);
    return key_locks_[h % key_locks_.size()];
  }

  result<meta_file> load_meta(const std::string& bucket, const std::string& key) {
    auto bytes = detail::read_slot_file(fs::join(object_dir(bucket, key), kMetaName));
    if (!bytes) {
      if (bytes.error().is(errc::corrupt)) return fail(bytes.error());
      auto c = bytes.error().code();
      if (c == std::error_code(ENOENT, std::system_category()) || c == std::error_code(ENOTDIR, std::system_category())) {
        return fail(errc::object_not_found, key);
      }
      if (c == std::error_code(EISDIR, std::system_category())) return fail(errc::object_not_found, key);
      return fail(io(bytes.error()));
    }
    auto m = decode_meta(bytes.value());
    if (!m) return fail(m.error());
    if (m.value().versions.empty()) return fail(errc::object_not_found, key);
    return m;
  }

  static result<stored_version*> pick_version(meta_file& m, const std::string& version_id) {
    if (version_id.empty()) return &m.versions.front();
    for (auto& v : m.versions) {
      if (v.info.version_id == version_id || (version_id == "null" && v.info.version_id.empty())) return &v;
    }
    return fail(errc::version_not_found, version_id);
  }

  result<std::pair<upload_info, metadata_map>> load_upload(const std::string& bucket, const std::string& key,
                                                           const std::string& upload_id) {
    if (!valid_upload_id(upload_id)) return fail(errc::upload_not_found, upload_id);
    auto j = read_json(fs::join(upload_dir(bucket, key, upload_id), "upload.json"));
    if (!j) return fail(errc::upload_not_found, upload_id);
    const auto& o = j.value();
    if (jstr(o, "key") != key) return fail(errc::upload_not_found, upload_id);
    upload_info u{key, upload_id, from_unix_nanos(jnum(o, "initiated")), jstr(o, "owner")};
    return std::make_pair(u, json_to_map(o.if_contains("meta")));
  }

  // part number -> (info, data file name)
  result<std::map<int, std::pair<part_info, std::string>>> load_parts(const std::string& bucket,
                                                                       const std::string& key,
                                                                       const std::string& upload_id) {
    std::string dir = upload_dir(bucket, key, upload_id);
    SLUICE_TRY(auto entries, list_or_io(dir));
    std::map<int, std::pair<part_info, std::string>> out;
    for (const auto& e : entries) {
      if (!e.name.starts_with("part.") || !e.name.ends_with(".json")) continue;
      auto j = read_json(fs::join(dir, e.name));
      if (!j) continue;
      const auto& o = j.value();
      part_info p{static_cast<int>(jnum(o, "n")), static_cast<uint64_t>(jnum(o, "size")), jstr(o, "etag"),
                  from_unix_nanos(jnum(o, "mtime")), json_to_map(o.if_contains("checksums"))};
      out[p.number] = {p, jstr(o, "file")};
    }
    return out;
  }

  result<std::vector<fs::dir_entry>> list_or_io(const std::string& dir) {
    auto r = fs::list_dir(dir);
    if (!r) return fail(io(r.error()));
    return r;
  }

  // Creates dir and its missing ancestors below the bucket folder, making each new entry durable.
  result<void> ensure_dirs(const std::string& bucket, const std::string& dir) {
    std::string bucket_dir = fs::join(opts_.root, bucket);
    std::vector<std::string> missing;
    for (std::string d = dir; d.size() > bucket_dir.size() && !fs::is_dir(d); d = fs::parent_path(d)) {
      missing.push_back(d);
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) return fail(io(errno_error("mkdir " + *it, errno)));
      if (auto r = fs::fsync_dir(fs::parent_path(*it)); !r) return fail(io(r.error()));
    }
    return ok();
  }

  // Removes now-empty folders from dir up to (not including) the bucket folder.
  void prune_empty_dirs(const std::string& bucket, std::string dir) {
    std::string bucket_dir = fs::join(opts_.root, bucket);
    while (dir.size() > bucket_dir.size()) {
      if (::rmdir(dir.c_str()) != 0) break;
      dir = fs::parent_path(dir);
    }
  }

  result<void> commit(const std::string& bucket, const std::string& key, stored_version v,
                      const std::string& staged_dir, std::string inline_bytes,
                      const std::function<result<void>()>& data_durable = {}) {
    std::lock_guard lock(key_lock(bucket, key));
    return commit_locked(bucket, key, std::move(v), staged_dir, std::move(inline_bytes), data_durable);
  }

  // Makes a new version visible. Inline versions: the metadata file (a slot
  // file, internal/slot_file.h) is replaced in place, one write and one
  // fdatasync, or written anew when it has no room. Versions with a data
  // folder: the folder is renamed into the object folder, then a new
  // metadata file replaces the old one atomically (temporary file written and
  // fdatasynced, renamed, the object folder fsynced, which also makes the data
  // folder's rename durable). The metadata's rename waits until the data are
  // durable: data_durable (when given) is the flush of a staged body still
  // under way (staged_body), which then runs beside the metadata file's own
  // fdatasync. A crash before the metadata rename leaves an unreferenced data
  // folder, never a partial object; the next commit of the key removes it.
  result<void> commit_locked(const std::string& bucket, const std::string& key, stored_version v,
                             const std::string& staged_dir, std::string inline_bytes,
                             const std::function<result<void>()>& data_durable = {}) {
    std::string dir = object_dir(bucket, key);
    for (int attempt = 0;; ++attempt) {
      SLUICE_TRY(ensure_dirs(bucket, dir));
      if (!staged_dir.empty()) {
        v.data_dir = uuid_v4();
        auto r = fs::rename(staged_dir, fs::join(dir, std::string(kDataPrefix) + v.data_dir));
        if (!r) {
          // A concurrent delete may have pruned the folder we just created; try again.
          if (attempt < 3 && r.error().code() == std::error_code(ENOENT, std::system_category())) continue;
          return fail(io(r.error()));
        }
      }
      break;
    }
    meta_file m;
    v.info.bucket.clear();
    v.info.key.clear();
    if (staged_dir.empty()) {
      v.inline_data = true;
      v.inline_offset = 0;
      m.inline_area = std::move(inline_bytes);
    }
    m.versions.push_back(std::move(v));
    const std::string meta_path = fs::join(dir, kMetaName);
    if (staged_dir.empty()) {
      // Replaced in place where it can be: one write and one fdatasync.
      if (auto r = detail::write_slot_file(meta_path, encode_meta(m), 0644, data_durable); !r) {
        return fail(io(r.error()));
      }
    } else {
      // The data folder was just renamed into `dir`: the new file's rename
      // is followed by the folder's fsync, which makes both durable, and the
      // file's own fdatasync runs beside the data's final flush.
      if (auto r =
              fs::write_file_durable(meta_path, detail::new_slot_file(encode_meta(m)), 0644, data_durable);
          !r) {
        return fail(io(r.error()));
      }
    }
    // Drop data folders no version names: the replaced version's, and any a crash left behind.
    if (auto entries = fs::list_dir(dir)) {
      for (const auto& e : entries.value()) {
        if (!e.is_dir || !e.name.starts_with(kDataPrefix)) continue;
        bool referenced = false;
        for (const auto& v : m.versions) referenced = referenced || e.name.substr(kDataPrefix.size()) == v.data_dir;
        if (!referenced) trash_->discard(fs::join(dir, e.name));
      }
    }
    return ok();
  }

  // The sub-folders of bucket folder `rel`, each with whether it holds a metadata file.
  std::map<std::string, bool> folders(const std::string& bucket_dir, const std::string& rel) {
    std::map<std::string, bool> out;
    std::string dir = rel.empty() ? bucket_dir : bucket_dir + "/" + rel.substr(0, rel.size() - 1);
    auto entries = fs::list_dir(dir);
    if (!entries) return out;
    for (const auto& e : entries.value()) {
      if (e.is_dir) out[e.name] = fs::exists(fs::join(fs::join(dir, e.name), kMetaName));
    }
    return out;
  }

  local_store_options opts_;
  std::string sys_, tmp_, buckets_, multipart_;
  // Data folders no version names any more are removed in the background.
  std::unique_ptr<detail::trash> trash_;
  std::string deployment_id_;
  std::mutex bucket_mu_;  // bucket creation/removal and cache fills
  std::mutex cache_mu_;
  std::map<std::string, bucket_info> bucket_cache_;
  std::array<std::mutex, 512> key_locks_;
};

}  // namespace

result<std::unique_ptr<object_layer>> open_local_store(const local_store_options& opts) {
  auto store = std::make_unique<local_store>(opts);
  SLUICE_TRY(store->init());
  return std::unique_ptr<object_layer>(std::move(store));
}

}  // namespace sluice::objstore
