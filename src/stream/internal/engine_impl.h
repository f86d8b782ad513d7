#pragma once
// Internals of the stream engine, shared by engine.cc and compaction.cc.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "stream/block_cache.h"
#include "stream/engine.h"
#include "stream/format/object_format.h"

namespace sluice::stream::detail {

int64_t now_ms();

struct stream_state {
  stream_id id;
  std::mutex mu;  // offset assignment and WAL order; epoch changes
  stream::epoch ep;
  bool open = false;
  std::atomic<bool> deleted{false};
  offset next = 0;                   // next offset to assign (mu)
  std::atomic<offset> confirmed{0};  // durable end: the high watermark
  std::atomic<offset> start{0};
  std::atomic<offset> committed{0};  // end of the data in objects
  std::map<std::string, std::string> tags;
  std::map<offset, record_ptr> cached;  // records in the log cache by base (engine cache_mu_)
  std::mutex read_mu;                   // read-ahead state
  // [from, end) of the previous read from objects: a read starting inside it
  // is sequential (a caller may stop short of what a read returned).
  offset last_read_from = -1;
  offset last_read_end = -1;
  size_t readahead = 0;
};

// Records appended since the previous block was sealed, in WAL order. Blocks
// are uploaded in order; a block's records leave the cache after upload.
struct cache_block {
  uint64_t seq = 0;
  std::vector<std::pair<std::shared_ptr<stream_state>, record_ptr>> records;
  size_t bytes = 0;
  std::optional<wal::wal_offset> first_wal;  // WAL position of its first record
  std::chrono::steady_clock::time_point created;
  bool sealed = false;
  bool uploaded = false;
};

// How fast an upload's bytes go to the store (engine_options::upload_pace).
struct put_pacing {
  uint64_t bytes_per_sec = 0;  // 0 = unpaced
  std::function<bool()> hurry;
};

class engine_impl final : public engine {
 public:
  engine_impl(const engine_options& opts, meta::meta_store& meta, object_storage& storage);
  ~engine_impl() override;

  result<void> start(std::unique_ptr<wal::device> dev);

  result<stream_status> create_stream(std::map<std::string, std::string> tags) override;
  result<stream_status> open_stream(stream_id id) override;
  result<void> close_stream(stream_id id) override;
  result<void> delete_stream(stream_id id) override;
  result<stream_status> status(stream_id id) override;
  void append(stream_id id, append_request req, append_callback done) override;
  result<std::vector<record_ptr>> read(stream_id id, offset from, const read_options& opts) override;
  result<offset> offset_for_time(stream_id id, int64_t ts) override;
  result<void> trim(stream_id id, offset new_start) override;
  void set_retention(stream_id id, retention_policy p) override;
  void on_append(std::function<void(stream_id, offset)> fn) override;
  result<void> flush() override;
  result<void> run_janitor() override;
  engine_stats stats() override;
  void close() override;

 private:
  result<std::shared_ptr<stream_state>> state(stream_id id);
  std::shared_ptr<stream_state> make_state(const meta::stream_info& info);
  static stream_status status_of(const stream_state& st);
  void on_durable(const std::shared_ptr<stream_state>& st, const record_ptr& rec, size_t size,
                  result<wal::wal_offset> w, const append_callback& done);
  void release_reservation(size_t size);
  cache_block& active_block_locked();
  void seal_active_locked();
  void seal_for_space_locked();  // seal_active_locked() unless a sealed block waits for upload
  std::shared_ptr<cache_block> next_upload_locked();
  // Drops uploaded blocks beyond the cache size from the cache; returns them
  // so the caller frees their records after releasing cache_mu_.
  std::vector<std::shared_ptr<cache_block>> evict_locked();
  void uploader_loop();
  void janitor_loop();
  // The pace for uploading block b, taken by the uploader at `now`; 0 = unpaced.
  uint64_t upload_pace_for(const cache_block& b, std::chrono::steady_clock::time_point now) const;
  bool upload_should_hurry(const cache_block& b);
  result<void> upload_block(const std::shared_ptr<cache_block>& b, uint64_t pace = 0);
  result<meta::object_info> write_object(object_id id, meta::object_kind kind,
                                         const std::vector<record_ptr>& records, const put_pacing& pace = {});
  // A written object's info: its size and the ranges `w` wrote; counted in the stats.
  meta::object_info finish_info(meta::object_info info, uint64_t size, const format::object_writer& w);
  result<void> put_object(const std::string& key, std::string_view bytes);
  void trim_wal();
  result<void> upload_pending_inline();
  result<object_index> load_index(const meta::object_info& obj);
  result<std::vector<record_ptr>> read_objects(stream_state& st, offset cur, offset end, size_t budget);
  result<std::vector<record_ptr>> read_whole_object(const meta::object_info& obj);
  result<void> apply_retention();
  result<void> compact();
  result<void> compact_stream_sets();
  result<void> compact_stream_objects();
  result<void> write_compacted(const std::vector<meta::object_info>& inputs, std::vector<record_ptr> records);
  void throttle(uint64_t bytes);
  result<void> delete_unreferenced();

  engine_options opts_;
  meta::meta_store& meta_;
  object_storage& storage_;
  std::unique_ptr<wal::log> wal_;
  block_cache bcache_;

  std::shared_mutex streams_mu_;
  std::unordered_map<stream_id, std::shared_ptr<stream_state>> streams_;

  std::mutex cache_mu_;
  std::condition_variable space_cv_, upload_cv_, uploaded_cv_;
  std::deque<std::shared_ptr<cache_block>> blocks_;
  uint64_t next_block_seq_ = 1;
  uint64_t uploaded_seq_ = 0;
  size_t cache_bytes_ = 0;       // records held by blocks
  size_t unuploaded_bytes_ = 0;  // logged or being logged, not uploaded yet
  std::atomic<int64_t> in_flight_{0};

  std::mutex upload_mu_;  // one upload at a time, in order
  // Buffers objects are built in, kept for the next object (upload or
  // compaction) so each one does not fault in tens of MiB of fresh pages.
  // At most two are kept, each no larger than an upload; a buffer is simply
  // freed on an error path.
  std::mutex object_bufs_mu_;
  std::vector<std::string> object_bufs_;
  std::string take_object_buffer();
  size_t object_buffer_keep_bytes() const { return opts_.upload_bytes + opts_.upload_bytes / 16 + (2 << 20); }
  void give_object_buffer(std::string b);
  std::mutex trim_mu_;
  std::mutex janitor_mu_;  // one janitor pass at a time
  std::mutex retention_mu_;
  std::unordered_map<stream_id, retention_policy> retention_;
  // Copy-on-write: on_append() replaces the list, an append takes a reference
  // to the current one (no copy of the functions per append).
  using listener_list = std::vector<std::function<void(stream_id, offset)>>;
  std::mutex listeners_mu_;
  std::shared_ptr<const listener_list> listeners_ = std::make_shared<const listener_list>();

  std::atomic<bool> closing_{false}, stopping_{false}, failed_{false}, closed_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread uploader_, janitor_;

  struct {
    std::atomic<uint64_t> appends{0}, append_bytes{0}, uploads{0}, upload_bytes{0}, put_requests{0};
    std::atomic<uint64_t> cache_reads{0}, object_reads{0}, object_read_bytes{0}, get_requests{0};
    std::atomic<uint64_t> compactions{0}, compacted_bytes{0}, objects_deleted{0}, recovered_records{0};
  } stats_;
};

}  // namespace sluice::stream::detail
