#pragma once
// The write-ahead log: where an append becomes durable before it is
// acknowledged. A fixed-capacity ring on a file or raw block device, written
// with aligned direct I/O; many concurrent appends are grouped into one write
// + one flush (group commit). Format and guarantees: src/stream/wal/README.md.
//
// Offsets are logical byte positions that only grow (position on the device
// = header area + offset % ring size), so a record from an older lap of the
// ring can never be mistaken for a new one: every record header repeats its
// own offset and is CRC'd.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <span>
#include <string_view>

#include "base/result.h"
#include "base/strong_type.h"

namespace sluice::stream::wal {

using wal_offset = strong<uint64_t, struct wal_offset_tag>;

// The block device or file under the log. Abstract so tests can inject
// torn/failed writes and lost flushes (stream/wal/fault_device.h). The log
// calls write()/read() from its writer thread and from open(), flush() from its
// syncer thread, and write()+flush() of a header block from trim(): an
// implementation must allow these calls concurrently (they never overlap in
// range). Errors are errc::io_error.
class device {
 public:
  virtual ~device() = default;
  virtual uint64_t size() const = 0;      // usable bytes
  virtual size_t block_size() const = 0;  // alignment of offsets/lengths for write() and read()
  // Writes/reads whole aligned blocks; buf is aligned to block_size().
  virtual result<void> write(uint64_t pos, const char* buf, size_t len) = 0;
  virtual result<void> read(uint64_t pos, char* buf, size_t len) = 0;
  // Makes every completed write durable (no-op when writes are already synchronous).
  virtual result<void> flush() = 0;
};

// Opens (creating and preallocating when missing) a file, or a raw block
// device, at path. capacity is ignored for block devices (their size is used)
// and for an existing file (its size is used; a log refuses to open when that
// no longer matches the capacity it was formatted with). A new file is created
// under a temporary name, preallocated and filled with zeros (so that later
// overwrites change no file system metadata and fdatasync has only the data
// to flush), synced, then renamed into place: a file at path is always
// complete. Block size 4096 (or the device's logical block size if larger).
// direct: O_DIRECT (falls back to buffered I/O + fdatasync where the file
// system refuses it, logging once). flush() is fdatasync.
result<std::unique_ptr<device>> open_file_device(const std::string& path, uint64_t capacity,
                                                 bool direct = true);

struct options {
  // Most bytes grouped into one device write; an append larger than this is
  // still written alone. Memory: the log holds two group buffers of this size
  // (one filling, one being written), more only while a larger record passes.
  size_t max_group_bytes = 4 << 20;
  // Largest payload of one append (at most 4 GiB - 1).
  size_t max_record_bytes = 64 << 20;
  // An append that finds the filling group full waits up to this long for the
  // writer to take it, then fails with errc::timeout (back-pressure when
  // appends outpace the device). append_sync() also gives up after this long
  // (the record may still become durable later).
  std::chrono::milliseconds append_timeout{30'000};
};

// One record found by recovery.
struct recovered_record {
  wal_offset offset;  // where it starts
  wal_offset next;    // where the next record starts (a block boundary after the last record of a group)
  std::string_view payload;  // valid during the visit call only
};

// What open() found on the device.
struct recovery_report {
  bool formatted = false;       // the device held no log: a new one was written
  bool clean_shutdown = false;  // the previous close() completed
  wal_offset trim;              // persisted trim point: records before it were skipped
  wal_offset end;               // end of the valid log: the first append goes here
  uint64_t records = 0;         // records passed to visit
  uint64_t payload_bytes = 0;
  // Bytes past `end` overwritten with zeros before appends resumed: the
  // previous run may have left unacknowledged, partly written groups there
  // that must never be replayed later (0 after a clean shutdown).
  uint64_t zeroed_bytes = 0;
  // The scan stopped at a damaged record although valid groups follow it:
  // that is not a torn tail but corruption of data that was on stable storage
  // (acknowledged records from `end` on are lost). Also logged as an error.
  bool corruption = false;
  std::string stop_reason;  // why the scan stopped at `end`, for the log
};

// All methods may be called from any thread. Durability: when a callback
// reports success, that record and every record appended before it are on
// stable storage (written, then the device flushed); see README.md.
class log {
 public:
  // Called on the log's syncer thread when the append is durable (or failed),
  // in append order. Must be quick, may call append(), must not call close()
  // or destroy the log.
  using append_callback = std::function<void(result<wal_offset>)>;

  virtual ~log() = default;

  // Queues payload (copied) for the next group commit. done is called once it
  // is on stable storage, with the record's offset. Fails at once with
  // errc::wal_full when the ring has no room until trim(), errc::record_too_large,
  // errc::closed, or errc::io_error once a device write or flush has failed
  // (the log then accepts nothing more; reopen it to recover). Waits (up to
  // append_timeout, then errc::timeout) while the group being filled is full.
  // When it fails, done is not called.
  virtual result<void> append(std::span<const std::string_view> parts, append_callback done) = 0;
  // One record whose payload is given in pieces, copied one after the other
  // (saves the caller joining them); otherwise as above.
  result<void> append(std::string_view payload, append_callback done) { return append({&payload, 1}, std::move(done)); }
  // append() and wait.
  virtual result<wal_offset> append_sync(std::string_view payload);

  // Space before `upto` may be overwritten from now on. Persisted (in the
  // header) before it returns; a restart replays only records at or after the
  // last persisted trim point. upto may be any offset up to the end of what
  // is acknowledged: a record offset, a recovered record's next, end_offset()
  // once all appends are acknowledged. Space is reclaimed by whole groups: the
  // group that holds `upto` stays until a later trim passes it. Smaller upto
  // than trim_offset() is a no-op; past the acknowledged end is bad_argument.
  virtual result<void> trim(wal_offset upto) = 0;

  virtual wal_offset trim_offset() const = 0;
  virtual wal_offset end_offset() const = 0;  // where the next record will go
  virtual uint64_t capacity() const = 0;      // ring bytes
  // Ring bytes not free for appends: end - (start of the group holding the
  // trim point), including padding.
  virtual uint64_t used() const = 0;
  virtual const recovery_report& recovery() const = 0;

  // Writes and flushes what is queued, calls its callbacks, stops the threads
  // and marks the header "clean"; later appends fail with errc::closed.
  // Idempotent; the destructor calls it.
  virtual void close() = 0;
};

// Opens the log on dev, formatting it when it holds no log (no header slot has
// the magic). Every valid record in [trim, torn tail) is passed to visit in
// order before open returns; appends then continue at the block after the last
// valid group. A visit error aborts the open. errc::corrupt when both header
// slots are damaged or do not match the device; errc::bad_argument for bad
// options; errc::io_error from the device.
result<std::unique_ptr<log>> open(std::unique_ptr<device> dev, const options& opts,
                                  const std::function<result<void>(const recovered_record&)>& visit);

}  // namespace sluice::stream::wal
