#pragma once
// Where committed offsets live. The coordinator keeps every committed offset
// in memory, writes each commit through to an offset_store before it answers
// OffsetCommit, and reads the store once, at open.
//
// Threading: implementations must accept calls from any thread. The
// coordinator never issues two calls for the same group at once, but calls for
// different groups may run concurrently.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "base/result.h"

namespace sluice::stream::meta {
class meta_store;
}

namespace sluice::kafka::group {

struct committed_offset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_time_ms = 0;  // wall clock, ms since the Unix epoch
};

struct offset_record {
  std::string topic;
  int32_t partition = 0;
  committed_offset value;
};

struct topic_partition {
  std::string topic;
  int32_t partition = 0;
  friend auto operator<=>(const topic_partition&, const topic_partition&) = default;
};

struct stored_offset {
  std::string group;
  offset_record record;
};

class offset_store {
 public:
  virtual ~offset_store() = default;

  // Makes the records of group durable (a later record of the same partition
  // replaces an earlier one). ok: every record is on stable storage. On
  // failure, *stored (never null) says how many leading records are durable;
  // the others are not. A store with atomic batches reports 0 or all.
  virtual result<void> put(const std::string& group, std::span<const offset_record> records,
                           size_t* stored) = 0;
  // Removes committed offsets; absent ones are fine. Same failure contract as
  // put (*erased leading keys are gone).
  virtual result<void> erase(const std::string& group, std::span<const topic_partition> keys,
                             size_t* erased) = 0;
  // Everything stored (restart). Records the store cannot read are skipped
  // and logged rather than failing the broker's start.
  virtual result<std::vector<stored_offset>> load_all() = 0;
};

// Offsets in the stream engine's metadata KV (SQLite on one node), one key per
// partition (README.md: key and value format). `kv` must outlive the store.
// The KV has no multi-key transaction, so a commit of n partitions is n
// durable puts (n fsyncs on SQLite), in request order.
std::unique_ptr<offset_store> make_meta_offset_store(stream::meta::meta_store& kv);

// In memory, for tests: survives a coordinator "restart" when the same
// instance is handed to the next coordinator. Can be told to fail.
class memory_offset_store final : public offset_store {
 public:
  result<void> put(const std::string& group, std::span<const offset_record> records, size_t* stored) override;
  result<void> erase(const std::string& group, std::span<const topic_partition> keys,
                     size_t* erased) override;
  result<std::vector<stored_offset>> load_all() override;

  // The next put or erase call stores (erases) n records, then fails with
  // std::errc::io_error; later calls succeed again. n = -1 disarms.
  void fail_after(int64_t n);
  // Records written and keys erased so far (each counts one).
  uint64_t writes() const;
  size_t size() const;

 private:
  using key = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition
  mutable std::mutex mu_;
  std::map<key, committed_offset> data_;
  int64_t fail_after_ = -1;
  uint64_t writes_ = 0;
};

}  // namespace sluice::kafka::group
