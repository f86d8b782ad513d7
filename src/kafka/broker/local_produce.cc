// broker::produce_local: Sluice's own producers append without a network hop.
#include <chrono>
#include <future>
#include <map>

#include "kafka/broker/broker.h"
#include "kafka/protocol/partitioner.h"
#include "kafka/protocol/record_batch.h"

namespace sluice::kafka {

namespace proto = protocol;

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

result<void> broker::produce_local(const std::string& topic, std::span<const local_record> records) {
  if (records.empty()) return ok();
  auto info = topics_->find(topic);
  if (!info) {
    auto created = topics_->create(topic, -1, -1, {});
    if (created) {
      info = std::move(created).value();
    } else if (created.error().is(topic_errc::topic_exists)) {
      info = topics_->find(topic);  // created concurrently
    } else {
      return fail(created.error());
    }
    if (!info) return fail(topic_errc::unknown_topic, "topic " + topic + " vanished while being created");
  }
  const auto partitions = static_cast<int32_t>(info->partitions.size());
  if (partitions <= 0) return fail(topic_errc::unknown_topic, "topic " + topic + " has no partitions");

  // One uncompressed batch per partition, records in the caller's order.
  std::map<int32_t, std::vector<proto::record_data>> by_partition;
  const int64_t now = wall_ms();
  for (const auto& r : records) {
    proto::record_data d;
    d.timestamp = now;
    d.key = r.key;
    d.value = r.value;
    for (const auto& [k, v] : r.headers) d.headers.emplace_back(k, v);
    by_partition[proto::partition_for_key(r.key, partitions)].push_back(std::move(d));
  }

  std::vector<std::future<result<stream::append_result>>> pending;
  for (auto& [p, recs] : by_partition) {
    auto sid = topics_->stream_of(topic, p);
    if (!sid) return fail(topic_errc::unknown_topic, "topic " + topic + " lost partition " + std::to_string(p));
    stream::append_request ar;
    ar.count = static_cast<uint32_t>(recs.size());
    ar.max_timestamp = now;
    ar.payload = unique_bytes(proto::build_batch(proto::batch_options{}, recs));
    ar.stamp = [](std::span<char> bytes, stream::offset base) {
      (void)proto::assign_offsets(bytes, base, 0);
    };
    auto done = std::make_shared<std::promise<result<stream::append_result>>>();
    pending.push_back(done->get_future());
    // The partition's append lock orders this append with Kafka producers'
    // idempotence checks (handle_produce holds it around its appends).
    auto part = partition(*sid);
    std::lock_guard lk(part->append_mu);
    engine_.append(*sid, std::move(ar), [done](result<stream::append_result> r) { done->set_value(std::move(r)); });
  }
  result<void> outcome = ok();
  for (auto& f : pending) {
    auto r = f.get();
    if (!r && outcome) outcome = fail(r.error());
  }
  return outcome;
}

}  // namespace sluice::kafka
