#include "stream/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "base/thread.h"
#include "stream/block_cache.h"
#include "stream/format/object_format.h"
#include "stream/internal/engine_impl.h"
#include "stream/record_codec.h"

namespace sluice::stream {

using namespace std::chrono_literals;

result<append_result> engine::append_sync(stream_id id, append_request req) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<result<append_result>> out;
  append(id, std::move(req), [&](result<append_result> r) {
    std::lock_guard lk(mu);
    out.emplace(std::move(r));
    cv.notify_all();
  });
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return out.has_value(); });
  return std::move(*out);
}

std::string object_key(const std::string& cluster_id, object_id id) {
  // A reversed hex prefix spreads keys over the store's partitions (as AutoMQ does).
  std::string h = fmt::format("{:08x}", static_cast<uint32_t>(id.value()));
  std::reverse(h.begin(), h.end());
  return fmt::format("{}/{}/data/{:016x}", h, cluster_id, id.value());
}

namespace detail {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

engine_impl::engine_impl(const engine_options& opts, meta::meta_store& meta, object_storage& storage)
    : opts_(opts), meta_(meta), storage_(storage), bcache_(opts.block_cache_bytes) {}

engine_impl::~engine_impl() {
  close();
}

// ---------------------------------------------------------------- streams

result<std::shared_ptr<stream_state>> engine_impl::state(stream_id id) {
  {
    std::shared_lock lk(streams_mu_);
    if (auto it = streams_.find(id); it != streams_.end()) return it->second;
  }
  SLUICE_TRY(auto info, meta_.get_stream(id));
  std::unique_lock lk(streams_mu_);
  auto& slot = streams_[id];
  if (!slot) slot = make_state(info);
  return slot;
}

std::shared_ptr<stream_state> engine_impl::make_state(const meta::stream_info& info) {
  auto st = std::make_shared<stream_state>();
  st->id = info.id;
  st->ep = info.epoch;
  st->next = info.end;
  st->confirmed = info.end;
  st->committed = info.end;
  st->start = info.start;
  st->tags = info.tags;
  st->readahead = opts_.readahead_min;
  return st;
}

stream_status engine_impl::status_of(const stream_state& st) {
  stream_status s;
  s.id = st.id;
  s.epoch = st.ep;
  s.start = st.start.load();
  s.end = st.confirmed.load();
  s.committed = st.committed.load();
  s.tags = st.tags;
  return s;
}

result<stream_status> engine_impl::create_stream(std::map<std::string, std::string> tags) {
  SLUICE_TRY(auto info, meta_.create_stream(std::move(tags)));
  auto st = make_state(info);
  std::unique_lock lk(streams_mu_);
  streams_[info.id] = st;
  return status_of(*st);
}

result<stream_status> engine_impl::open_stream(stream_id id) {
  if (closing_) return fail(errc::closed, "the stream engine is closing");
  SLUICE_TRY(auto st, state(id));
  std::lock_guard lk(st->mu);
  SLUICE_TRY(auto info, meta_.open_stream(id, opts_.node));
  st->ep = info.epoch;
  st->open = true;
  if (info.start > st->start) st->start = info.start;
  return status_of(*st);
}

result<void> engine_impl::close_stream(stream_id id) {
  SLUICE_TRY(auto st, state(id));
  SLUICE_TRY(flush());
  std::lock_guard lk(st->mu);
  SLUICE_TRY(meta_.close_stream(id, st->ep));
  st->open = false;
  return ok();
}

result<void> engine_impl::delete_stream(stream_id id) {
  SLUICE_TRY(auto st, state(id));
  {
    std::lock_guard lk(st->mu);
    SLUICE_TRY(auto info, meta_.get_stream(id));
    SLUICE_TRY(meta_.delete_stream(id, info.epoch));
    st->deleted = true;
    st->open = false;
  }
  {
    std::lock_guard lk(cache_mu_);
    st->cached.clear();
  }
  {
    std::lock_guard lk(retention_mu_);
    retention_.erase(id);
  }
  std::unique_lock lk(streams_mu_);
  streams_.erase(id);
  return ok();
}

result<stream_status> engine_impl::status(stream_id id) {
  SLUICE_TRY(auto st, state(id));
  return status_of(*st);
}

// ----------------------------------------------------------------- append

void engine_impl::append(stream_id id, append_request req, append_callback done_fn) {
  auto done = std::make_shared<append_callback>(std::move(done_fn));
  if (closing_) return (*done)(fail(errc::closed, "the stream engine is closing"));
  if (failed_) return (*done)(fail(errc::io_error, "the write-ahead log failed; restart the server"));
  if (req.count == 0) return (*done)(fail(errc::bad_argument, "a record covers at least one offset"));
  auto found = state(id);
  if (!found) return (*done)(found.error());
  auto st = found.value();
  if (!st->open || st->deleted)
    return (*done)(fail(errc::stream_not_open, fmt::format("stream {} is not open", id.value())));
  size_t size = req.payload.size() + record_header_bytes;
  if (size > opts_.wal.max_record_bytes) {
    return (*done)(fail(errc::record_too_large,
                        fmt::format("record of {} bytes exceeds {}", size, opts_.wal.max_record_bytes)));
  }
  // Room in the log cache: data not yet uploaded may not exceed it.
  {
    std::unique_lock lk(cache_mu_);
    auto deadline = std::chrono::steady_clock::now() + opts_.append_wait;
    while (unuploaded_bytes_ + size > opts_.log_cache_bytes && unuploaded_bytes_ > 0) {
      seal_for_space_locked();
      upload_cv_.notify_all();
      if (!opts_.background) {
        // No uploader thread: the appending thread uploads.
        lk.unlock();
        auto r = upload_pending_inline();
        lk.lock();
        if (!r) return (*done)(r.error());
        if (unuploaded_bytes_ + size <= opts_.log_cache_bytes) break;
      }
      if (closing_ || space_cv_.wait_until(lk, deadline) == std::cv_status::timeout) {
        if (unuploaded_bytes_ + size > opts_.log_cache_bytes && unuploaded_bytes_ > 0) {
          return (*done)(fail(errc::cache_full, "the log cache is full of data waiting for upload; retry"));
        }
      }
    }
    unuploaded_bytes_ += size;
  }
  std::lock_guard lk(st->mu);
  if (!st->open || st->deleted) {
    release_reservation(size);
    return (*done)(fail(errc::stream_not_open, fmt::format("stream {} is not open", id.value())));
  }
  auto rec = std::make_shared<record>();
  rec->stream = id;
  rec->epoch = st->ep;
  rec->base = st->next;
  rec->count = req.count;
  rec->max_timestamp = req.max_timestamp;
  if (req.stamp) req.stamp(req.payload.span(), rec->base);
  rec->payload = std::move(req.payload).share();
  // Header and payload are copied into the WAL's group buffer as they are (no joined copy).
  const auto header = encode_wal_record_header(*rec);
  const std::string_view parts[] = {std::string_view(header.data(), header.size()), rec->payload};
  in_flight_.fetch_add(1);
  auto r = wal_->append(parts, [this, st, rec, size, done](result<wal::wal_offset> w) {
    on_durable(st, rec, size, std::move(w), *done);
  });
  if (!r) {
    in_flight_.fetch_sub(1);
    release_reservation(size);
    if (r.error().is(errc::wal_full)) {
      std::lock_guard ck(cache_mu_);
      seal_for_space_locked();
      upload_cv_.notify_all();
    }
    return (*done)(r.error());
  }
  st->next = rec->end();
}

void engine_impl::release_reservation(size_t size) {
  std::lock_guard lk(cache_mu_);
  unuploaded_bytes_ -= size;
  space_cv_.notify_all();
}

void engine_impl::on_durable(const std::shared_ptr<stream_state>& st, const record_ptr& rec, size_t size,
                             result<wal::wal_offset> w, const append_callback& done) {
  if (!w) {
    if (!w.error().is(errc::closed)) {
      spdlog::error("stream engine: WAL write failed: {}; appends are refused until restart",
                    w.error().message());
      failed_ = true;
    }
    {
      std::lock_guard lk(cache_mu_);
      unuploaded_bytes_ -= size;
      in_flight_.fetch_sub(1);
      space_cv_.notify_all();
    }
    done(w.error());
    return;
  }
  {
    std::lock_guard lk(cache_mu_);
    auto& b = active_block_locked();
    if (!b.first_wal) b.first_wal = w.value();
    b.records.push_back({st, rec});
    b.bytes += size;
    cache_bytes_ += size;
    // A stream's records become durable in offset order, so the record almost
    // always goes after the last one: the hint spares a descent of the tree
    // per append (perf: 7% of the WAL syncer's time was that descent's cache
    // misses). Out of order it is still correct, only not O(1).
    st->cached.emplace_hint(st->cached.end(), rec->base, rec);
    if (b.bytes >= opts_.upload_bytes) {
      b.sealed = true;
      upload_cv_.notify_all();
    }
    in_flight_.fetch_sub(1);
  }
  st->confirmed.store(rec->end());
  stats_.appends.fetch_add(1, std::memory_order_relaxed);
  stats_.append_bytes.fetch_add(rec->payload.size(), std::memory_order_relaxed);
  done(append_result{rec->base, rec->end(), st->start.load()});
  std::shared_ptr<const listener_list> listeners;
  {
    std::lock_guard lk(listeners_mu_);
    listeners = listeners_;
  }
  for (const auto& fn : *listeners) fn(rec->stream, rec->end());
}

cache_block& engine_impl::active_block_locked() {
  if (blocks_.empty() || blocks_.back()->sealed) {
    auto b = std::make_shared<cache_block>();
    b->seq = next_block_seq_++;
    b->created = std::chrono::steady_clock::now();
    blocks_.push_back(std::move(b));
  }
  return *blocks_.back();
}

void engine_impl::seal_active_locked() {
  if (!blocks_.empty() && !blocks_.back()->sealed && !blocks_.back()->records.empty())
    blocks_.back()->sealed = true;
}

// Space (log cache or WAL) is freed only by uploads. While sealed blocks wait
// for the uploader, sealing the active block too frees nothing sooner: it only
// makes it a small object of its own. Under sustained load the waiting appends
// did that on every wake-up, and each small upload, finishing quickly, woke
// them to seal the next (the stream bench saw 43 PUTs per GB instead of 16).
void engine_impl::seal_for_space_locked() {
  for (const auto& b : blocks_) {
    if (b->sealed && !b->uploaded) return;
  }
  seal_active_locked();
}

void engine_impl::on_append(std::function<void(stream_id, offset)> fn) {
  std::lock_guard lk(listeners_mu_);
  auto next = std::make_shared<listener_list>(*listeners_);
  next->push_back(std::move(fn));
  listeners_ = std::move(next);
}

// ----------------------------------------------------------------- upload

std::shared_ptr<cache_block> engine_impl::next_upload_locked() {
  for (auto& b : blocks_) {
    if (b->uploaded) continue;
    if (b->sealed) return b;
    if (!b->records.empty() && std::chrono::steady_clock::now() - b->created >= opts_.upload_interval) {
      b->sealed = true;
      return b;
    }
    return nullptr;
  }
  return nullptr;
}

void engine_impl::uploader_loop() {
  auto backoff = 100ms;
  while (!stopping_) {
    std::shared_ptr<cache_block> b;
    {
      std::unique_lock lk(cache_mu_);
      upload_cv_.wait_for(lk, 100ms, [&] { return stopping_ || (b = next_upload_locked()) != nullptr; });
      if (stopping_) break;
    }
    if (!b) {
      trim_wal();
      continue;
    }
    const auto started = std::chrono::steady_clock::now();
    auto r = upload_block(b, upload_pace_for(*b, started));
    if (!r) {
      spdlog::warn("stream engine: upload of {} records failed: {}; retrying in {} ms", b->records.size(),
                   r.error().message(), backoff.count());
      std::unique_lock lk(stop_mu_);
      stop_cv_.wait_for(lk, backoff, [&] { return stopping_.load(); });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    spdlog::debug(
        "stream engine: uploaded {} records, {:.1f} MiB, in {:.1f} ms", b->records.size(),
        static_cast<double>(b->bytes) / (1 << 20),
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    backoff = 100ms;
    trim_wal();
  }
}

uint64_t engine_impl::upload_pace_for(const cache_block& b, std::chrono::steady_clock::time_point now) const {
  if (opts_.upload_pace == 0) return 0;
  // The block filled between its creation and now (the uploader takes a
  // sealed block at once unless it is behind, and then hurry() unpaces it).
  double secs = std::max(std::chrono::duration<double>(now - b.created).count(), 0.001);
  double rate = static_cast<double>(b.bytes) / secs * opts_.upload_pace;
  return std::max<uint64_t>(static_cast<uint64_t>(rate), opts_.upload_pace_min_bytes);
}

bool engine_impl::upload_should_hurry(const cache_block& b) {
  if (stopping_ || closing_) return true;
  std::lock_guard lk(cache_mu_);
  // Another upload's worth (or a quarter of the cache) waits behind this one:
  // appends would soon wait for space, so the upload goes at full speed.
  size_t behind = unuploaded_bytes_ > b.bytes ? unuploaded_bytes_ - b.bytes : 0;
  return behind >= std::min(opts_.upload_bytes, opts_.log_cache_bytes / 4);
}

result<void> engine_impl::upload_block(const std::shared_ptr<cache_block>& b, uint64_t pace) {
  std::lock_guard ul(upload_mu_);
  if (b->uploaded) return ok();
  put_pacing pacing;
  if (pace > 0) pacing = {pace, [this, &b] { return upload_should_hurry(*b); }};
  // Records by stream, in offset order (WAL order is offset order within a stream).
  std::map<stream_id, std::pair<std::shared_ptr<stream_state>, std::vector<record_ptr>>> by_stream;
  for (const auto& [st, rec] : b->records) {
    if (st->deleted) continue;
    auto& slot = by_stream[rec->stream];
    slot.first = st;
    slot.second.push_back(rec);
  }
  std::vector<std::vector<record_ptr>> objects;  // each sorted by (stream, offset)
  std::vector<record_ptr> shared;
  for (auto& [id, entry] : by_stream) {
    size_t bytes = 0;
    for (const auto& r : entry.second) bytes += r->payload.size();
    if (bytes >= opts_.stream_split_bytes && by_stream.size() > 1) {
      objects.push_back(entry.second);
    } else {
      shared.insert(shared.end(), entry.second.begin(), entry.second.end());
    }
  }
  if (!shared.empty()) objects.push_back(std::move(shared));
  meta::commit_request req;
  req.node = opts_.node;
  if (!objects.empty()) {
    SLUICE_TRY(auto ids, meta_.prepare_objects(static_cast<uint32_t>(objects.size()), now_ms()));
    for (size_t i = 0; i < objects.size(); ++i) {
      bool single = objects.size() > 1 && i + 1 < objects.size();
      auto kind =
          (single || by_stream.size() == 1) ? meta::object_kind::stream : meta::object_kind::stream_set;
      SLUICE_TRY(auto info, write_object(ids[i], kind, objects[i], pacing));
      req.objects.push_back(std::move(info));
    }
    for (auto& [id, entry] : by_stream) req.stream_ends[id] = {entry.first->ep, entry.second.back()->end()};
    SLUICE_TRY(meta_.commit(req, now_ms()));
  }
  for (auto& [id, entry] : by_stream) {
    offset end = entry.second.back()->end();
    offset cur = entry.first->committed.load();
    while (cur < end && !entry.first->committed.compare_exchange_weak(cur, end)) {
    }
  }
  stats_.uploads.fetch_add(1, std::memory_order_relaxed);
  std::vector<std::shared_ptr<cache_block>> evicted;
  {
    std::lock_guard lk(cache_mu_);
    b->uploaded = true;
    unuploaded_bytes_ -= b->bytes;
    uploaded_seq_ = std::max(uploaded_seq_, b->seq);
    evicted = evict_locked();
    space_cv_.notify_all();
    uploaded_cv_.notify_all();
  }
  // The evicted records (an upload's worth, tens of thousands) are freed here,
  // outside cache_mu_, which every acknowledged append takes.
  evicted.clear();
  return ok();
}

namespace {

// An object streamed out as it is built: blocks are assembled in a buffer of
// about one block (object_writer's in-place mode) and handed to the reader,
// then dropped, so a 64 MiB upload needs no 64 MiB buffer and its building
// (copies, CRCs) runs at the pace the store takes the bytes.
class object_build_source final : public source {
 public:
  object_build_source(const std::vector<record_ptr>& records, size_t block_bytes)
      : records_(records), w_(buf_, block_bytes) {}

  result<size_t> read(char* out, size_t n) override {
    while (pos_ == w_.final_bytes()) {  // everything final has been read
      if (pos_ > 0) {
        SLUICE_TRY(w_.drop_final());
        pos_ = 0;
        continue;
      }
      if (finished_) return size_t{0};
      if (next_ < records_.size()) {
        SLUICE_TRY(w_.add(*records_[next_++]));
      } else {
        SLUICE_TRY(w_.finish());
        finished_ = true;
      }
    }
    size_t k = std::min(n, w_.final_bytes() - pos_);
    std::memcpy(out, buf_.data() + pos_, k);
    pos_ += k;
    return k;
  }

  const format::object_writer& writer() const { return w_; }
  bool finished() const { return finished_; }

 private:
  const std::vector<record_ptr>& records_;
  std::string buf_;  // before w_, which builds in it
  format::object_writer w_;
  size_t next_ = 0;
  size_t pos_ = 0;  // bytes of buf_ already read
  bool finished_ = false;
};

}  // namespace

result<meta::object_info> engine_impl::write_object(object_id id, meta::object_kind kind,
                                                    const std::vector<record_ptr>& records,
                                                    const put_pacing& pace) {
  meta::object_info info;
  info.id = id;
  info.kind = kind;
  int64_t data_time = -1;
  for (const auto& r : records) data_time = std::max(data_time, r->max_timestamp);
  info.data_time_ms = data_time >= 0 ? data_time : now_ms();
  if (storage_.streams_puts()) {
    object_build_source body(records, opts_.object_block_bytes);
    stats_.put_requests.fetch_add(1, std::memory_order_relaxed);
    SLUICE_TRY(storage_.put_stream(object_key(opts_.cluster_id, id), body, pace.bytes_per_sec, pace.hurry));
    if (!body.finished())
      return fail(errc::storage_error, "object storage stopped reading before the object's end");
    return finish_info(std::move(info), body.writer().bytes_written(), body.writer());
  }
  // Built in memory once: reserve it whole (records plus room
  // for block framing and the index) so appending never reallocates and
  // copies what was already written.
  size_t payload_bytes = 0;
  for (const auto& r : records) payload_bytes += r->payload.size();
  std::string bytes = take_object_buffer();
  // Every upload-sized object asks for the same capacity, so a kept buffer is
  // always big enough and never reallocated (a fresh one faults in every page).
  const size_t need = payload_bytes + payload_bytes / 32 + records.size() * 64 + (64 << 10);
  bytes.reserve(need <= object_buffer_keep_bytes() ? object_buffer_keep_bytes() : need);
  format::object_writer w(bytes, opts_.object_block_bytes);  // blocks built in place
  for (const auto& r : records) {
    SLUICE_TRY(w.add(*r));
  }
  SLUICE_TRY(w.finish());
  SLUICE_TRY(put_object(object_key(opts_.cluster_id, id), bytes));
  info = finish_info(std::move(info), bytes.size(), w);
  give_object_buffer(std::move(bytes));
  return info;
}

meta::object_info engine_impl::finish_info(meta::object_info info, uint64_t size,
                                           const format::object_writer& w) {
  info.size = size;
  for (const auto& r : w.ranges())
    info.ranges.push_back(meta::object_range{r.stream, r.start, r.end, r.bytes});
  stats_.upload_bytes.fetch_add(size, std::memory_order_relaxed);
  return info;
}

std::string engine_impl::take_object_buffer() {
  std::lock_guard lk(object_bufs_mu_);
  if (object_bufs_.empty()) return {};
  std::string b = std::move(object_bufs_.back());
  object_bufs_.pop_back();
  b.clear();
  return b;
}

void engine_impl::give_object_buffer(std::string b) {
  if (b.capacity() > object_buffer_keep_bytes()) return;
  std::lock_guard lk(object_bufs_mu_);
  if (object_bufs_.size() < 2) object_bufs_.push_back(std::move(b));
}

result<void> engine_impl::put_object(const std::string& key, std::string_view bytes) {
  if (bytes.size() <= std::max<uint64_t>(opts_.part_bytes, storage_.single_put_max())) {
    stats_.put_requests.fetch_add(1, std::memory_order_relaxed);
    return storage_.put(key, bytes);
  }
  SLUICE_TRY(auto up, storage_.start_upload(key));
  size_t part = std::max(opts_.part_bytes, storage_.min_part_size());
  for (size_t pos = 0; pos < bytes.size(); pos += part) {
    stats_.put_requests.fetch_add(1, std::memory_order_relaxed);
    SLUICE_TRY(up->write_part(bytes.substr(pos, part)));
  }
  return up->complete();
}

std::vector<std::shared_ptr<cache_block>> engine_impl::evict_locked() {
  std::vector<std::shared_ptr<cache_block>> evicted;
  while (cache_bytes_ > opts_.log_cache_bytes && !blocks_.empty() && blocks_.front()->uploaded) {
    auto b = blocks_.front();
    evicted.push_back(b);
    blocks_.pop_front();
    for (const auto& [st, rec] : b->records) {
      auto it = st->cached.find(rec->base);
      if (it != st->cached.end() && it->second == rec) st->cached.erase(it);
    }
    cache_bytes_ -= b->bytes;
  }
  return evicted;
}

void engine_impl::trim_wal() {
  if (!wal_) return;
  std::lock_guard tl(trim_mu_);
  wal::wal_offset end = wal_->end_offset();
  std::optional<wal::wal_offset> target;
  {
    std::lock_guard lk(cache_mu_);
    for (const auto& b : blocks_) {
      if (b->uploaded || b->records.empty()) continue;
      target = b->first_wal;
      break;
    }
    if (!target && in_flight_.load() == 0) target = end;
  }
  if (target && *target > wal_->trim_offset()) {
    if (auto r = wal_->trim(*target); !r)
      spdlog::warn("stream engine: WAL trim failed: {}", r.error().message());
  }
}

result<void> engine_impl::flush() {
  uint64_t target = 0;
  {
    std::lock_guard lk(cache_mu_);
    seal_active_locked();
    for (const auto& b : blocks_) {
      if (!b->uploaded && !b->records.empty()) target = b->seq;
    }
    upload_cv_.notify_all();
  }
  if (target == 0) {
    trim_wal();
    return ok();
  }
  if (opts_.background && uploader_.joinable()) {
    std::unique_lock lk(cache_mu_);
    if (!uploaded_cv_.wait_for(lk, 60s, [&] { return uploaded_seq_ >= target || stopping_; })) {
      return fail(errc::timeout, "flush: uploads did not finish within 60 s");
    }
    if (uploaded_seq_ < target) return fail(errc::closed, "flush: the engine stopped");
  } else {
    SLUICE_TRY(upload_pending_inline());
  }
  trim_wal();
  return ok();
}

result<void> engine_impl::upload_pending_inline() {
  while (true) {
    std::shared_ptr<cache_block> b;
    {
      std::lock_guard lk(cache_mu_);
      for (auto& x : blocks_) {
        if (!x->uploaded && !x->records.empty()) {
          b = x;
          break;
        }
      }
      if (!b) break;
      b->sealed = true;
    }
    SLUICE_TRY(upload_block(b));
  }
  return ok();
}

// ------------------------------------------------------------------- read

result<std::vector<record_ptr>> engine_impl::read(stream_id id, offset from, const read_options& opts) {
  SLUICE_TRY(auto st, state(id));
  if (st->deleted) return fail(errc::stream_not_found, "stream deleted");
  offset hw = st->confirmed.load();
  offset start = st->start.load();
  if (from < start || from > hw) {
    return fail(errc::offset_out_of_range,
                fmt::format("offset {} is outside [{}, {}] of stream {}", from, start, hw, id.value()));
  }
  offset end = opts.end >= 0 ? std::min(opts.end, hw) : hw;
  std::vector<record_ptr> out;
  size_t bytes = 0;
  offset cur = from;
  while (cur < end && (out.empty() || bytes < opts.max_bytes)) {
    bool hit = false;
    {
      std::lock_guard lk(cache_mu_);
      auto it = st->cached.upper_bound(cur);
      if (it != st->cached.begin() && std::prev(it)->second->end() > cur) {
        hit = true;
        --it;
        // The record covering cur, then the ones that follow it without a gap.
        while (it != st->cached.end() && it->second->base <= cur && cur < end &&
               (out.empty() || bytes < opts.max_bytes)) {
          out.push_back(it->second);
          bytes += it->second->payload.size();
          cur = it->second->end();
          ++it;
        }
      }
    }
    if (hit) {
      stats_.cache_reads.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    SLUICE_TRY(auto recs, read_objects(*st, cur, end, opts.max_bytes > bytes ? opts.max_bytes - bytes : 1));
    if (recs.empty()) {
      return fail(errc::corrupt, fmt::format("stream {}: no data found for offset {}", id.value(), cur));
    }
    for (auto& r : recs) {
      if (r->end() <= cur) continue;
      if (!out.empty() && bytes >= opts.max_bytes) break;
      bytes += r->payload.size();
      cur = r->end();
      out.push_back(std::move(r));
    }
  }
  return out;
}

result<object_index> engine_impl::load_index(const meta::object_info& obj) {
  if (auto idx = bcache_.get_index(obj.id)) return idx;
  const std::string key = object_key(opts_.cluster_id, obj.id);
  uint64_t want = std::min<uint64_t>(format::tail_guess(obj.size), obj.size);
  for (int attempt = 0; attempt < 2; ++attempt) {
    stats_.get_requests.fetch_add(1, std::memory_order_relaxed);
    SLUICE_TRY(auto tail, storage_.get(key, obj.size - want, want));
    if (tail.size() != want)
      return fail(errc::corrupt, fmt::format("object {}: short read of its index", key));
    SLUICE_TRY(auto parsed, format::parse_index(tail, obj.size));
    if (parsed.need_tail_bytes) {
      want = std::min<uint64_t>(*parsed.need_tail_bytes, obj.size);
      continue;
    }
    auto idx = std::make_shared<const std::vector<format::block_entry>>(std::move(parsed.blocks));
    bcache_.put_index(obj.id, idx);
    return object_index(idx);
  }
  return fail(errc::corrupt, fmt::format("object {}: index larger than announced", key));
}

result<std::vector<record_ptr>> engine_impl::read_objects(stream_state& st, offset cur, offset end,
                                                          size_t budget) {
  const offset from = cur;
  SLUICE_TRY(auto objs, meta_.objects_for(st.id, cur, end, 4));
  const meta::object_info* obj = nullptr;
  for (const auto& o : objs) {
    for (const auto& r : o.ranges) {
      if (r.stream == st.id && r.start <= cur && r.end > cur) {
        obj = &o;
        break;
      }
    }
    if (obj) break;
  }
  if (!obj) return std::vector<record_ptr>{};
  SLUICE_TRY(auto idx, load_index(*obj));
  auto blocks = format::find_blocks(*idx, st.id, cur, end);
  if (blocks.empty()) return std::vector<record_ptr>{};
  // Read-ahead: grows while reads are sequential, back to the minimum on a jump.
  size_t readahead;
  {
    std::lock_guard lk(st.read_mu);
    if (st.last_read_end >= 0 && cur >= st.last_read_from && cur <= st.last_read_end) {
      st.readahead = std::min(st.readahead * 2, opts_.readahead_max);
    } else {
      st.readahead = opts_.readahead_min;
    }
    readahead = std::max(st.readahead, budget);
  }
  const std::string key = object_key(opts_.cluster_id, obj->id);
  std::vector<record_ptr> out;
  size_t bytes = 0;
  for (size_t i = 0; i < blocks.size() && (out.empty() || bytes < budget); ++i) {
    auto recs = bcache_.get_block(obj->id, blocks[i].position);
    if (!recs) {
      // One GET for this block and the following ones until it covers the
      // read-ahead (or the stream's run of blocks in this object ends).
      size_t j = i;
      uint64_t len = 0;
      while (j < blocks.size() &&
             (j == i || (len < readahead && blocks[j].position == blocks[i].position + len))) {
        len += blocks[j].size;
        ++j;
      }
      stats_.get_requests.fetch_add(1, std::memory_order_relaxed);
      SLUICE_TRY(auto data, storage_.get(key, blocks[i].position, len));
      if (data.size() != len) return fail(errc::corrupt, fmt::format("object {}: short block read", key));
      stats_.object_read_bytes.fetch_add(len, std::memory_order_relaxed);
      // The records are views into this buffer: no copy of their payloads.
      const shared_bytes buffer(std::move(data));
      uint64_t pos = 0;
      for (size_t k = i; k < j; ++k) {
        auto decoded = format::decode_block(buffer.substr(pos, blocks[k].size), blocks[k]);
        if (!decoded) {
          spdlog::error("stream engine: object {} block at {}: {}", key, blocks[k].position,
                        decoded.error().message());
          return decoded.error();
        }
        auto v = std::make_shared<std::vector<record_ptr>>();
        for (auto& r : decoded.value()) v->push_back(std::make_shared<const record>(std::move(r)));
        bcache_.put_block(obj->id, blocks[k].position, v, buffer.owner());
        if (k == i) recs = v;
        pos += blocks[k].size;
      }
    }
    for (const auto& r : *recs) {
      if (r->end() <= cur || r->base >= end) continue;
      out.push_back(r);
      bytes += r->payload.size();
      cur = r->end();
    }
  }
  stats_.object_reads.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lk(st.read_mu);
    st.last_read_from = from;
    st.last_read_end = out.empty() ? -1 : out.back()->end();
  }
  return out;
}

result<offset> engine_impl::offset_for_time(stream_id id, int64_t ts) {
  SLUICE_TRY(auto st, state(id));
  offset start = st->start.load();
  offset committed = st->committed.load();
  if (committed > start) {
    SLUICE_TRY(auto objs, meta_.objects_for(id, start, committed));
    for (const auto& o : objs) {
      SLUICE_TRY(auto idx, load_index(o));
      for (const auto& b : format::find_blocks(*idx, id, start, committed)) {
        if (b.max_timestamp < ts) continue;
        SLUICE_TRY(auto recs, read_objects(*st, std::max(b.start, start), b.end, 1));
        for (const auto& r : recs) {
          if (r->max_timestamp >= ts && r->end() > start) return std::max(r->base, start);
        }
      }
    }
  }
  std::lock_guard lk(cache_mu_);
  for (auto it = st->cached.lower_bound(committed > start ? committed : start); it != st->cached.end();
       ++it) {
    if (it->second->max_timestamp >= ts) return std::max(it->first, start);
  }
  // Records below `committed` may still sit in the cache only if the upload
  // raced this call; they were covered by the object scan above.
  return st->confirmed.load();
}

// ------------------------------------------------------- trim / retention

result<void> engine_impl::trim(stream_id id, offset new_start) {
  SLUICE_TRY(auto st, state(id));
  std::lock_guard lk(st->mu);
  new_start = std::min(new_start, st->confirmed.load());
  if (new_start <= st->start.load()) return ok();
  SLUICE_TRY(meta_.trim_stream(id, st->ep, new_start));
  st->start = new_start;
  return ok();
}

void engine_impl::set_retention(stream_id id, retention_policy p) {
  std::lock_guard lk(retention_mu_);
  if (!p.time && !p.bytes) {
    retention_.erase(id);
  } else {
    retention_[id] = p;
  }
}

result<void> engine_impl::apply_retention() {
  std::vector<std::pair<stream_id, retention_policy>> policies;
  {
    std::lock_guard lk(retention_mu_);
    policies.assign(retention_.begin(), retention_.end());
  }
  const int64_t now = now_ms();
  for (const auto& [id, p] : policies) {
    auto st = state(id);
    if (!st) continue;
    offset start = st.value()->start.load();
    offset committed = st.value()->committed.load();
    if (committed <= start) continue;
    SLUICE_TRY(auto objs, meta_.objects_for(id, start, committed));
    // Per-object ranges of this stream, oldest first.
    struct piece {
      offset start, end;
      uint64_t bytes;
      int64_t time;
    };
    std::vector<piece> pieces;
    for (const auto& o : objs) {
      for (const auto& r : o.ranges) {
        if (r.stream == id) pieces.push_back({r.start, r.end, r.bytes, o.data_time_ms});
      }
    }
    std::sort(pieces.begin(), pieces.end(), [](const piece& a, const piece& b) { return a.start < b.start; });
    offset new_start = start;
    if (p.time) {
      for (const auto& pc : pieces) {
        if (pc.time >= now - p.time->count()) break;
        new_start = std::max(new_start, pc.end);
      }
    }
    if (p.bytes) {
      uint64_t total = 0;
      for (const auto& pc : pieces) total += pc.bytes;
      // Data still only in the WAL counts too (it is not deletable yet).
      for (const auto& pc : pieces) {
        if (total <= *p.bytes) break;
        total -= pc.bytes;
        new_start = std::max(new_start, pc.end);
      }
    }
    if (new_start > start) {
      spdlog::info("stream {}: retention moves the start from {} to {}", id.value(), start, new_start);
      SLUICE_TRY(trim(id, new_start));
    }
  }
  return ok();
}

result<void> engine_impl::delete_unreferenced() {
  const int64_t now = now_ms();
  SLUICE_TRY(meta_.expire_trimmed_objects(now));
  SLUICE_TRY(meta_.expire_prepared(now, opts_.prepared_ttl));
  SLUICE_TRY(auto ids, meta_.deletable(now, opts_.delete_grace));
  if (ids.empty()) return ok();
  std::vector<std::string> keys;
  for (auto id : ids) keys.push_back(object_key(opts_.cluster_id, id));
  SLUICE_TRY(storage_.remove(keys));
  SLUICE_TRY(meta_.forget_objects(ids));
  stats_.objects_deleted.fetch_add(ids.size(), std::memory_order_relaxed);
  return ok();
}

result<void> engine_impl::run_janitor() {
  std::lock_guard lk(janitor_mu_);
  SLUICE_TRY(apply_retention());
  if (opts_.compaction) {
    SLUICE_TRY(compact());
  }
  SLUICE_TRY(delete_unreferenced());
  return ok();
}

void engine_impl::janitor_loop() {
  while (!stopping_) {
    {
      std::unique_lock lk(stop_mu_);
      stop_cv_.wait_for(lk, opts_.janitor_interval, [&] { return stopping_.load(); });
    }
    if (stopping_) break;
    const auto started = std::chrono::steady_clock::now();
    const uint64_t compacted = stats_.compacted_bytes.load();
    if (auto r = run_janitor(); !r) spdlog::warn("stream engine: janitor: {}", r.error().message());
    spdlog::debug(
        "stream engine: janitor run in {:.1f} ms, {:.1f} MiB compacted",
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count(),
        static_cast<double>(stats_.compacted_bytes.load() - compacted) / (1 << 20));
  }
}

engine_stats engine_impl::stats() {
  engine_stats s;
  s.appends = stats_.appends.load();
  s.append_bytes = stats_.append_bytes.load();
  s.uploads = stats_.uploads.load();
  s.upload_bytes = stats_.upload_bytes.load();
  s.put_requests = stats_.put_requests.load();
  s.cache_reads = stats_.cache_reads.load();
  s.object_reads = stats_.object_reads.load();
  s.object_read_bytes = stats_.object_read_bytes.load();
  s.get_requests = stats_.get_requests.load();
  s.block_cache_hits = bcache_.hits();
  s.block_cache_misses = bcache_.misses();
  s.compactions = stats_.compactions.load();
  s.compacted_bytes = stats_.compacted_bytes.load();
  s.objects_deleted = stats_.objects_deleted.load();
  s.recovered_records = stats_.recovered_records.load();
  {
    std::lock_guard lk(cache_mu_);
    s.cache_bytes = cache_bytes_;
    s.unuploaded_bytes = unuploaded_bytes_;
  }
  if (wal_) s.wal_used = wal_->used();
  return s;
}

// -------------------------------------------------------------- lifecycle

void engine_impl::close() {
  if (closed_.exchange(true)) return;
  closing_ = true;
  // Let appends already handed to the WAL finish, then upload what is logged.
  for (int i = 0; i < 500 && in_flight_.load() > 0; ++i) std::this_thread::sleep_for(10ms);
  if (wal_ && !failed_ && opts_.upload_on_close) {
    if (auto r = flush(); !r)
      spdlog::warn("stream engine: final upload failed ({}); the WAL keeps the data", r.error().message());
  }
  stopping_ = true;
  {
    std::lock_guard lk(stop_mu_);
    stop_cv_.notify_all();
  }
  {
    std::lock_guard lk(cache_mu_);
    upload_cv_.notify_all();
    uploaded_cv_.notify_all();
    space_cv_.notify_all();
  }
  if (uploader_.joinable()) uploader_.join();
  if (janitor_.joinable()) janitor_.join();
  if (wal_) wal_->close();
}

result<void> engine_impl::start(std::unique_ptr<wal::device> dev) {
  SLUICE_TRY(auto streams, meta_.list_streams());
  std::unordered_map<stream_id, meta::stream_info> infos;
  for (auto& s : streams) infos.emplace(s.id, s);
  std::unordered_map<stream_id, offset> expect;
  std::vector<std::pair<record_ptr, wal::wal_offset>> recovered;
  uint64_t skipped = 0;
  auto visit = [&](const wal::recovered_record& rr) -> result<void> {
    auto r = decode_wal_record(rr.payload);
    if (!r) {
      spdlog::error("stream engine: WAL record at {}: {}; skipped", rr.offset.value(), r.error().message());
      return ok();
    }
    auto it = infos.find(r.value().stream);
    if (it == infos.end()) return ok();  // deleted stream
    auto [e, fresh] = expect.try_emplace(it->first, it->second.end);
    (void)fresh;
    if (r.value().end() <= e->second) {
      ++skipped;
      return ok();  // already in objects
    }
    if (r.value().base != e->second) {
      spdlog::error("stream engine: stream {}: WAL record at offset {} does not follow {}", it->first.value(),
                    r.value().base, e->second);
      if (r.value().base < e->second) return ok();
    }
    e->second = r.value().end();
    recovered.emplace_back(std::make_shared<const record>(std::move(r).value()), rr.offset);
    return ok();
  };
  SLUICE_TRY(wal_, wal::open(std::move(dev), opts_.wal, visit));
  if (!recovered.empty()) {
    spdlog::info("stream engine: recovered {} records from the WAL ({} already in objects)", recovered.size(),
                 skipped);
    auto b = std::make_shared<cache_block>();
    b->seq = next_block_seq_++;
    b->created = std::chrono::steady_clock::now();
    b->first_wal = recovered.front().second;
    std::unique_lock lk(streams_mu_);
    for (auto& [rec, off] : recovered) {
      auto& st = streams_[rec->stream];
      if (!st) st = make_state(infos.at(rec->stream));
      size_t size = rec->payload.size() + record_header_bytes;
      b->records.push_back({st, rec});
      b->bytes += size;
      st->cached.emplace(rec->base, rec);
      st->next = rec->end();
      st->confirmed = rec->end();
    }
    b->sealed = true;
    cache_bytes_ += b->bytes;
    unuploaded_bytes_ += b->bytes;
    blocks_.push_back(b);
    stats_.recovered_records = recovered.size();
  }
  if (recovered.empty()) trim_wal();
  if (opts_.background) {
    uploader_ = named_thread("stream-upload", [this] {
      lower_thread_priority();
      uploader_loop();
    });
    janitor_ = named_thread("stream-janitor", [this] {
      lower_thread_priority();
      janitor_loop();
    });
  }
  return ok();
}

}  // namespace detail

result<std::unique_ptr<engine>> open_engine(const engine_options& opts,
                                            std::unique_ptr<wal::device> wal_device, meta::meta_store& meta,
                                            object_storage& storage) {
  auto e = std::make_unique<detail::engine_impl>(opts, meta, storage);
  SLUICE_TRY(e->start(std::move(wal_device)));
  return std::unique_ptr<engine>(std::move(e));
}

}  // namespace sluice::stream
