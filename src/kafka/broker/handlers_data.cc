// The data path: ApiVersions, Metadata, Produce, Fetch, ListOffsets,
// OffsetForLeaderEpoch, InitProducerId, DescribeCluster, SaslHandshake.
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>

#include "base/byte_arena.h"
#include "kafka/broker/broker.h"
#include "kafka/broker/internal/handler_util.h"
#include "kafka/protocol/messages/api_versions.h"
#include "kafka/protocol/messages/describe_cluster.h"
#include "kafka/protocol/messages/fetch.h"
#include "kafka/protocol/messages/init_producer_id.h"
#include "kafka/protocol/messages/list_offsets.h"
#include "kafka/protocol/messages/metadata.h"
#include "kafka/protocol/messages/offset_for_leader_epoch.h"
#include "kafka/protocol/messages/produce.h"
#include "kafka/protocol/messages/sasl_handshake.h"
#include "kafka/protocol/record_batch.h"

namespace sluice::kafka {

using protocol::error_code;
namespace proto = protocol;

namespace {

using detail::code;
using detail::read_request;
using detail::reply_target;
using detail::to_uuid;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Rebuilds a partition's idempotent-producer state from the tail of its log
// (once per partition and broker life). Call with the partition's append lock held.
void load_producers(broker& b, stream::stream_id id, partition_state& p) {
  if (p.producers_loaded) return;
  p.producers_loaded = true;
  auto st = b.engine().status(id);
  if (!st) return;
  // Producers retry within minutes, so their state is in the recent tail:
  // read the last offsets forward, keeping at most producer_scan_bytes.
  constexpr stream::offset scan_offsets = 100'000;
  uint64_t total = 0, read_bytes = 0;
  std::deque<stream::record_ptr> tail;
  stream::offset cur = std::max(st.value().start, st.value().end - scan_offsets);
  while (cur < st.value().end && read_bytes < 4 * b.options().producer_scan_bytes) {
    auto r = b.engine().read(id, cur, {.max_bytes = 1 << 20});
    if (!r || r.value().empty()) break;
    for (auto& rec : r.value()) {
      total += rec->payload.size();
      read_bytes += rec->payload.size();
      cur = rec->end();
      tail.push_back(std::move(rec));
    }
    while (total > b.options().producer_scan_bytes && !tail.empty()) {
      total -= tail.front()->payload.size();
      tail.pop_front();
    }
  }
  for (const auto& rec : tail) {
    auto h = proto::read_batch_header(rec->payload);
    if (h && h.value().producer_id >= 0) p.producers.record(h.value(), rec->base);
  }
  if (p.producers.producers() > 0) {
    spdlog::debug("kafka: stream {}: {} producers recovered from the log tail", id.value(),
                  p.producers.producers());
  }
}

}  // namespace

// ------------------------------------------------------------- ApiVersions

void handle_api_versions(request_context& c) {
  proto::api_versions_request req;
  auto r = c.body();
  req.read(r, c.version());  // the client's name/version are informational; a bad body is not fatal
  proto::api_versions_response resp;
  for (const auto& e : broker::registry()) resp.api_keys.push_back({e.key, e.min_version, e.max_version});
  c.reply(resp);
}

// ---------------------------------------------------------------- Metadata

void handle_metadata(request_context& c) {
  proto::metadata_request req;
  if (!read_request(c, req)) return;
  auto& b = c.b;
  const auto& o = b.options();
  proto::metadata_response resp;
  resp.brokers.push_back({o.node_id, o.advertised_host, o.advertised_port, std::nullopt});
  resp.cluster_id = o.cluster_id;
  resp.controller_id = o.node_id;
  auto describe = [&](const topic_info& t) {
    proto::metadata_response::topic out;
    out.name = t.name;
    out.topic_id = to_uuid(t.id);
    out.is_internal = t.internal;
    for (const auto& p : t.partitions) {
      proto::metadata_response::partition part;
      part.partition_index = p.index;
      part.leader_id = o.node_id;
      part.leader_epoch = 0;
      part.replica_nodes = {o.node_id};
      part.isr_nodes = {o.node_id};
      out.partitions.push_back(std::move(part));
    }
    return out;
  };
  bool all = !req.topics.has_value() || (c.version() == 0 && req.topics->empty());
  if (all) {
    for (const auto& t : b.topics().list()) resp.topics.push_back(describe(t));
  } else {
    bool may_create = o.topics.auto_create && (c.version() < 4 || req.allow_auto_topic_creation);
    for (const auto& rt : *req.topics) {
      std::optional<topic_info> t;
      if (rt.name) {
        t = b.topics().find(*rt.name);
      } else if (!rt.topic_id.is_zero()) {
        t = b.topics().find_by_id(rt.topic_id.bytes);
      }
      if (!t && rt.name && may_create) {
        auto created = b.topics().create(*rt.name, -1, -1, {});
        if (created) {
          t = std::move(created).value();
        } else if (created.error().is(topic_errc::topic_exists)) {
          t = b.topics().find(*rt.name);  // created concurrently
        } else {
          proto::metadata_response::topic out;
          out.name = rt.name;
          out.error_code = code(to_kafka_error(created.error()));
          resp.topics.push_back(std::move(out));
          continue;
        }
      }
      if (!t) {
        proto::metadata_response::topic out;
        out.name = rt.name;
        out.topic_id = rt.topic_id;
        out.error_code =
            code(rt.name ? error_code::unknown_topic_or_partition : error_code::unknown_topic_id);
        resp.topics.push_back(std::move(out));
        continue;
      }
      resp.topics.push_back(describe(*t));
    }
  }
  c.reply(resp);
}

// ----------------------------------------------------------------- Produce

namespace {

struct produce_state {
  std::mutex mu;
  proto::produce_response resp;
  int pending = 1;  // one for the handler itself, released when it has queued everything
  bool reply = true;
  std::optional<reply_target> target;

  // Marks one piece done; the last one sends the response.
  void done() {
    std::unique_lock lk(mu);
    if (--pending > 0) return;
    lk.unlock();
    if (reply) target->send(resp);
  }
};

// Produced batches are copied out of the request into chunks of the
// connection thread's arena, where the log cache keeps them until eviction:
// pooled chunks, not one heap allocation per batch (base/byte_arena.h).
thread_local byte_arena produce_arena;

}  // namespace

void handle_produce(request_context& c) {
  proto::produce_request req;
  if (!read_request(c, req)) return;
  auto& b = c.b;
  auto state = std::make_shared<produce_state>();
  state->target.emplace(c);
  state->reply = req.acks != 0;
  bool bad_acks = req.acks != 0 && req.acks != 1 && req.acks != -1;
  // The response mirrors the request; partitions are filled in as appends complete.
  for (const auto& td : req.topic_data) {
    proto::produce_response::topic_response tr;
    tr.name = td.name;
    for (const auto& pd : td.partition_data) {
      proto::produce_response::partition_response pr;
      pr.index = pd.index;
      tr.partition_responses.push_back(std::move(pr));
    }
    state->resp.responses.push_back(std::move(tr));
  }
  for (size_t ti = 0; ti < req.topic_data.size(); ++ti) {
    const auto& td = req.topic_data[ti];
    const auto settings = b.topics().produce_settings_of(td.name);
    const int32_t max_bytes = settings.max_message_bytes;
    const bool log_append_time = settings.log_append_time;
    for (size_t pi = 0; pi < td.partition_data.size(); ++pi) {
      const auto& pd = td.partition_data[pi];
      auto set_error = [&, ti, pi](error_code e, std::string msg = {}) {
        std::lock_guard lk(state->mu);
        auto& pr = state->resp.responses[ti].partition_responses[pi];
        pr.error_code = code(e);
        pr.base_offset = -1;
        if (!msg.empty() && c.version() >= 8) pr.error_message = std::move(msg);
      };
      if (bad_acks) {
        set_error(error_code::invalid_required_acks);
        continue;
      }
      auto sid = b.topics().stream_of(td.name, pd.index);
      if (!sid) {
        set_error(error_code::unknown_topic_or_partition);
        continue;
      }
      if (!pd.records || pd.records->empty()) {
        set_error(error_code::invalid_record, "no records");
        continue;
      }
      // Legacy message sets (magic 0/1) are converted to one v2 batch.
      std::string converted;
      std::string_view payload = *pd.records;
      auto magic = proto::peek_magic(payload);
      if (!magic) {
        set_error(to_kafka_error(magic.error()), magic.error().message());
        continue;
      }
      proto::batch_checks checks;
      checks.max_batch_bytes = static_cast<size_t>(std::max(max_bytes, 0));
      checks.produce_version = c.version();
      if (magic.value() < 2) {
        auto conv = proto::convert_legacy_to_v2(payload, checks.max_batch_bytes);
        if (!conv) {
          set_error(to_kafka_error(conv.error()), conv.error().message());
          continue;
        }
        converted = std::move(conv).value();
        payload = converted;
        checks.produce_version = -1;
      }
      auto batches = proto::validate_batches(payload, checks);
      if (!batches) {
        set_error(to_kafka_error(batches.error()), batches.error().message());
        continue;
      }
      bool transactional = false;
      for (const auto& bv : batches.value()) transactional |= bv.header.is_transactional();
      if (transactional) {
        set_error(error_code::invalid_request, "transactions are not supported by Sluice yet");
        continue;
      }
      auto part = b.partition(*sid);
      std::lock_guard plk(part->append_mu);
      load_producers(b, *sid, *part);
      struct pending_batch {
        unique_bytes bytes;
        batch_header h;
      };
      std::vector<pending_batch> todo;
      bool failed = false;
      for (const auto& bv : batches.value()) {
        const batch_header& h = bv.header;
        auto verdict = part->producers.check(h);
        if (verdict.v == producer_table::verdict::duplicate) {
          // A retry of a batch already written: answer with its original offsets.
          std::lock_guard lk(state->mu);
          auto& pr = state->resp.responses[ti].partition_responses[pi];
          pr.base_offset = verdict.base_offset;
          auto st = b.engine().status(*sid);
          if (st) pr.log_start_offset = st.value().start;
          failed = true;  // nothing to append
          break;
        }
        if (verdict.v == producer_table::verdict::out_of_order) {
          set_error(error_code::out_of_order_sequence_number);
          failed = true;
          break;
        }
        if (verdict.v == producer_table::verdict::fenced_epoch) {
          set_error(error_code::invalid_producer_epoch);
          failed = true;
          break;
        }
        todo.push_back({produce_arena.copy(bv.bytes), h});
      }
      if (failed) continue;
      auto remaining = std::make_shared<std::atomic<size_t>>(todo.size());
      {
        std::lock_guard lk(state->mu);
        ++state->pending;
      }
      for (size_t bi = 0; bi < todo.size(); ++bi) {
        stream::append_request ar;
        ar.count = static_cast<uint32_t>(todo[bi].h.last_offset_delta) + 1;
        // LogAppendTime topics: the broker's clock, stored in the batch and answered.
        const int64_t append_time = log_append_time ? now_ms() : -1;
        ar.max_timestamp = log_append_time ? append_time : todo[bi].h.max_timestamp;
        ar.payload = std::move(todo[bi].bytes);
        batch_header h = todo[bi].h;
        ar.stamp = [part, h, log_append_time, ts = append_time](std::span<char> bytes, stream::offset base) {
          (void)proto::assign_offsets(bytes, base, 0);
          if (log_append_time) (void)proto::set_log_append_time(bytes, ts);
          part->producers.record(h, base);  // under the partition's append lock (held by the caller)
        };
        b.engine().append(*sid, std::move(ar),
                          [state, remaining, bi, ti, pi, log_append_time,
                           ts = append_time](result<stream::append_result> r) {
                            {
                              std::lock_guard lk(state->mu);
                              auto& pr = state->resp.responses[ti].partition_responses[pi];
                              if (!r) {
                                pr.error_code = code(to_kafka_error(r.error()));
                                pr.base_offset = -1;
                              } else {
                                if (bi == 0 && pr.error_code == 0) {
                                  pr.base_offset = r.value().base;
                                  if (log_append_time) pr.log_append_time_ms = ts;
                                }
                                pr.log_start_offset = r.value().start;
                              }
                            }
                            if (remaining->fetch_sub(1) == 1) state->done();
                          });
      }
    }
  }
  if (!state->reply) c.no_reply();
  state->done();
}

// ------------------------------------------------------------------- Fetch

void handle_fetch(request_context& c) {
  auto req = std::make_shared<proto::fetch_request>();
  if (!read_request(c, *req)) return;
  auto& b = c.b;
  reply_target target(c);
  // Resolve partitions once.
  std::vector<stream::stream_id> streams;
  for (const auto& t : req->topics) {
    for (const auto& p : t.partitions) {
      if (auto s = b.topics().stream_of(t.topic, p.partition)) streams.push_back(*s);
    }
  }
  size_t max_bytes =
      std::min<size_t>(static_cast<size_t>(std::max(req->max_bytes, 0)), b.options().fetch_max_bytes);
  if (c.version() < 3) max_bytes = b.options().fetch_max_bytes;
  size_t min_bytes = static_cast<size_t>(std::max(req->min_bytes, 0));
  auto wait = std::min(std::chrono::milliseconds(std::max(req->max_wait_ms, 0)), b.options().max_fetch_wait);
  auto deadline = std::chrono::steady_clock::now() + wait;
  int16_t version = c.version();
  broker* bp = &b;
  // One attempt: reads every partition; answers when enough bytes, or when final.
  auto attempt = [bp, req, target, max_bytes, min_bytes, version](bool final) -> bool {
    proto::fetch_response resp;
    std::vector<std::string> holders;  // owns the records the response views
    holders.reserve(64);
    size_t total = 0;
    for (const auto& t : req->topics) {
      proto::fetch_response::topic_response tr;
      tr.topic = t.topic;
      for (const auto& p : t.partitions) {
        proto::fetch_response::partition_data pd;
        pd.partition_index = p.partition;
        pd.records = std::string_view();
        auto sid = bp->topics().stream_of(t.topic, p.partition);
        if (!sid) {
          pd.error_code = code(error_code::unknown_topic_or_partition);
          pd.high_watermark = -1;
          tr.partitions.push_back(std::move(pd));
          continue;
        }
        auto st = bp->engine().status(*sid);
        if (!st) {
          pd.error_code = code(to_kafka_error(st.error()));
          tr.partitions.push_back(std::move(pd));
          continue;
        }
        pd.high_watermark = st.value().end;
        pd.last_stable_offset = st.value().end;  // no transactions: LSO = high watermark
        pd.log_start_offset = st.value().start;
        if (version >= 4) pd.aborted_transactions = std::vector<proto::fetch_response::aborted_transaction>{};
        size_t part_max = static_cast<size_t>(std::max(p.partition_max_bytes, 0));
        size_t budget = std::min(part_max, max_bytes > total ? max_bytes - total : 0);
        if (p.fetch_offset < st.value().start || p.fetch_offset > st.value().end) {
          pd.error_code = code(error_code::offset_out_of_range);
        } else if (p.fetch_offset < st.value().end && (budget > 0 || total == 0)) {
          auto recs = bp->engine().read(*sid, p.fetch_offset, {.max_bytes = std::max<size_t>(budget, 1)});
          if (!recs) {
            pd.error_code = code(to_kafka_error(recs.error()));
          } else {
            // Always at least one batch (KIP-74), then only what fits.
            size_t n = 0, bytes = 0;
            for (const auto& r : recs.value()) {
              if (n > 0 && bytes + r->payload.size() > budget) break;
              bytes += r->payload.size();
              ++n;
            }
            std::string data;
            data.reserve(bytes);
            for (size_t i = 0; i < n; ++i) data.append(recs.value()[i]->payload);
            if (version < 4 && !data.empty()) {
              // Consumers of Fetch v0-3 read message sets of magic 0/1.
              auto legacy = proto::convert_v2_to_legacy(data, version >= 2 ? 1 : 0);
              if (legacy) {
                data = std::move(legacy).value();
              } else {
                pd.error_code = code(error_code::unsupported_for_message_format);
                data.clear();
              }
            }
            total += data.size();
            holders.push_back(std::move(data));
            pd.records = holders.back();
          }
        }
        tr.partitions.push_back(std::move(pd));
      }
      resp.responses.push_back(std::move(tr));
    }
    if (!final && total < std::max<size_t>(min_bytes, 1)) return false;
    size_t partitions = 0;
    for (const auto& tr : resp.responses) partitions += tr.partitions.size();
    target.send(resp, total + 256 + 64 * partitions);
    return true;
  };
  uint64_t seq = b.append_seq();
  bool can_wait = wait.count() > 0 && min_bytes > 0 && !streams.empty();
  if (attempt(!can_wait)) return;
  b.park_fetch(std::move(streams), seq, deadline, attempt);
}

// ------------------------------------------------------------- ListOffsets

void handle_list_offsets(request_context& c) {
  proto::list_offsets_request req;
  if (!read_request(c, req)) return;
  auto& b = c.b;
  proto::list_offsets_response resp;
  for (const auto& t : req.topics) {
    proto::list_offsets_response::topic_response tr;
    tr.name = t.name;
    for (const auto& p : t.partitions) {
      proto::list_offsets_response::partition_response pr;
      pr.partition_index = p.partition_index;
      auto sid = b.topics().stream_of(t.name, p.partition_index);
      auto st =
          sid ? b.engine().status(*sid) : result<stream::stream_status>(fail(topic_errc::unknown_topic));
      if (!st) {
        pr.error_code = code(sid ? to_kafka_error(st.error()) : error_code::unknown_topic_or_partition);
        tr.partitions.push_back(std::move(pr));
        continue;
      }
      int64_t offset = -1;
      int64_t ts = -1;
      if (p.timestamp == -2) {  // earliest
        offset = st.value().start;
      } else if (p.timestamp == -1) {  // latest (read_committed too: no transactions)
        offset = st.value().end;
      } else if (p.timestamp == -3) {  // max timestamp (KIP-734): the newest batch's
        offset = st.value().end;
        if (st.value().end > st.value().start) {
          // Find the batch with the largest max timestamp among the last ones read.
          auto recs = b.engine().read(*sid, std::max(st.value().start, st.value().end - 1), {.max_bytes = 1});
          if (recs && !recs.value().empty()) {
            offset = recs.value().back()->end() - 1;
            ts = recs.value().back()->max_timestamp;
          }
        }
      } else {
        auto off = b.engine().offset_for_time(*sid, p.timestamp);
        if (!off) {
          pr.error_code = code(to_kafka_error(off.error()));
        } else {
          offset = off.value();
          if (offset < st.value().end) {
            auto recs = b.engine().read(*sid, offset, {.max_bytes = 1});
            if (recs && !recs.value().empty()) ts = recs.value().front()->max_timestamp;
          } else {
            offset = -1;  // no record at or after ts
          }
        }
      }
      if (c.version() == 0) {
        if (offset >= 0) pr.old_style_offsets.push_back(offset);
      } else {
        pr.offset = offset;
        pr.timestamp = ts;
        pr.leader_epoch = offset >= 0 ? 0 : -1;
      }
      tr.partitions.push_back(std::move(pr));
    }
    resp.topics.push_back(std::move(tr));
  }
  c.reply(resp);
}

// ---------------------------------------------------- OffsetForLeaderEpoch

void handle_offset_for_leader_epoch(request_context& c) {
  proto::offset_for_leader_epoch_request req;
  if (!read_request(c, req)) return;
  auto& b = c.b;
  proto::offset_for_leader_epoch_response resp;
  for (const auto& t : req.topics) {
    proto::offset_for_leader_epoch_response::topic_result tr;
    tr.topic = t.topic;
    for (const auto& p : t.partitions) {
      proto::offset_for_leader_epoch_response::epoch_end_offset eo;
      eo.partition = p.partition;
      auto sid = b.topics().stream_of(t.topic, p.partition);
      auto st =
          sid ? b.engine().status(*sid) : result<stream::stream_status>(fail(topic_errc::unknown_topic));
      if (!st) {
        eo.error_code = code(error_code::unknown_topic_or_partition);
      } else if (p.leader_epoch > 0) {
        // Every partition has had one leader epoch (0): a later epoch is unknown.
        eo.error_code = code(error_code::none);
        eo.leader_epoch = 0;
        eo.end_offset = st.value().end;
      } else {
        eo.leader_epoch = 0;
        eo.end_offset = st.value().end;
      }
      tr.partitions.push_back(std::move(eo));
    }
    resp.topics.push_back(std::move(tr));
  }
  c.reply(resp);
}

// ----------------------------------------------------------- InitProducerId

void handle_init_producer_id(request_context& c) {
  proto::init_producer_id_request req;
  if (!read_request(c, req)) return;
  proto::init_producer_id_response resp;
  if (req.transactional_id) {
    resp.error_code = code(error_code::transactional_id_authorization_failed);
    spdlog::info("kafka: {}: transactional producer '{}' refused: transactions are not supported yet",
                 c.conn.remote, *req.transactional_id);
    c.reply(resp);
    return;
  }
  if (req.producer_id >= 0) {
    // KIP-360: an idempotent producer bumps its epoch to recover.
    resp.producer_id = req.producer_id;
    resp.producer_epoch = static_cast<int16_t>(req.producer_epoch + 1);
    if (resp.producer_epoch < 0) {
      auto pid = c.b.next_producer_id();
      if (!pid) {
        resp.error_code = code(error_code::coordinator_not_available);
        c.reply(resp);
        return;
      }
      resp.producer_id = pid.value();
      resp.producer_epoch = 0;
    }
    c.reply(resp);
    return;
  }
  auto pid = c.b.next_producer_id();
  if (!pid) {
    resp.error_code = code(error_code::coordinator_not_available);
  } else {
    resp.producer_id = pid.value();
    resp.producer_epoch = 0;
  }
  c.reply(resp);
}

// ---------------------------------------------------------- DescribeCluster

void handle_describe_cluster(request_context& c) {
  proto::describe_cluster_request req;
  if (!read_request(c, req)) return;
  const auto& o = c.b.options();
  proto::describe_cluster_response resp;
  resp.cluster_id = o.cluster_id;
  resp.controller_id = o.node_id;
  resp.brokers.push_back({o.node_id, o.advertised_host, o.advertised_port, std::nullopt});
  c.reply(resp);
}

// ------------------------------------------------------------ SaslHandshake

void handle_sasl_handshake(request_context& c) {
  proto::sasl_handshake_request req;
  if (!read_request(c, req)) return;
  proto::sasl_handshake_response resp;
  resp.error_code = code(error_code::unsupported_sasl_mechanism);  // no SASL listener yet: mechanisms []
  c.reply(resp);
}

}  // namespace sluice::kafka
