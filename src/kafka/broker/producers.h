#pragma once
// Idempotent-producer state of one partition: for every producer id, its
// epoch and the last few batches (sequence range -> offsets), so a retried
// batch is answered with its original offsets instead of being written
// twice, and a gap in sequences is refused (OUT_OF_ORDER_SEQUENCE_NUMBER).
//
// The state is rebuilt after a restart by scanning the tail of the
// partition's log (batch headers carry producer id, epoch and sequences), so
// a retry of a batch that was durable before a kill -9 is still detected.
#include <cstdint>
#include <deque>
#include <unordered_map>

#include "kafka/protocol/record_batch.h"

namespace sluice::kafka {

using protocol::batch_header;

class producer_table {
 public:
  static constexpr size_t batches_kept = 5;  // Kafka keeps the last 5 per producer

  enum class verdict { append, duplicate, out_of_order, fenced_epoch };
  struct check_result {
    verdict v = verdict::append;
    int64_t base_offset = -1;  // duplicate: the original offsets
    int64_t last_offset = -1;
  };

  // What to do with a batch from producer h. Call with the partition's append lock held.
  check_result check(const batch_header& h) const;
  // Records an appended batch (its assigned base offset).
  void record(const batch_header& h, int64_t base_offset);
  void clear();
  size_t producers() const { return state_.size(); }

 private:
  struct batch {
    int32_t first_seq, last_seq;
    int64_t base_offset, last_offset;
  };
  struct producer {
    int16_t epoch = -1;
    std::deque<batch> recent;
  };
  std::unordered_map<int64_t, producer> state_;
};

}  // namespace sluice::kafka
