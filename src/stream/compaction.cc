// Compaction: merges small stream-set objects (splitting streams with much
// data into objects of their own) and merges small stream objects of one
// stream. Inputs leave the metadata in the same commit that adds the outputs
// and are deleted from the bucket after the delete grace period, so readers
// in flight keep working. Bounded by compaction_max_input_bytes per pass
// (memory) and compaction_bytes_per_sec (bandwidth).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "stream/format/object_format.h"
#include "stream/internal/engine_impl.h"

namespace sluice::stream::detail {

void engine_impl::throttle(uint64_t bytes) {
  if (opts_.compaction_bytes_per_sec == 0) return;
  auto wait = std::chrono::microseconds(bytes * 1'000'000 / opts_.compaction_bytes_per_sec);
  std::unique_lock lk(stop_mu_);
  stop_cv_.wait_for(lk, wait, [&] { return stopping_.load(); });
}

result<std::vector<record_ptr>> engine_impl::read_whole_object(const meta::object_info& obj) {
  const std::string key = object_key(opts_.cluster_id, obj.id);
  stats_.get_requests.fetch_add(1, std::memory_order_relaxed);
  SLUICE_TRY(auto data, storage_.get(key, 0, 0));
  if (data.size() != obj.size) {
    return fail(errc::corrupt,
                fmt::format("object {}: {} bytes, metadata says {}", key, data.size(), obj.size));
  }
  SLUICE_TRY(auto parsed, format::parse_index(data, data.size()));
  if (parsed.need_tail_bytes) return fail(errc::corrupt, fmt::format("object {}: index out of bounds", key));
  std::vector<record_ptr> out;
  const shared_bytes whole(std::move(data));  // the records are views into it
  for (const auto& b : parsed.blocks) {
    if (b.position + b.size > whole.size())
      return fail(errc::corrupt, fmt::format("object {}: block out of bounds", key));
    SLUICE_TRY(auto recs, format::decode_block(whole.substr(b.position, b.size), b));
    for (auto& r : recs) out.push_back(std::make_shared<const record>(std::move(r)));
  }
  throttle(whole.size());
  return out;
}

result<void> engine_impl::write_compacted(const std::vector<meta::object_info>& inputs,
                                          std::vector<record_ptr> records) {
  std::map<stream_id, std::vector<record_ptr>> by_stream;
  for (auto& r : records) by_stream[r->stream].push_back(std::move(r));
  size_t live_streams = 0;
  for (auto it = by_stream.begin(); it != by_stream.end();) {
    auto info = meta_.get_stream(it->first);
    if (!info) {
      if (!info.error().is(errc::stream_not_found)) return info.error();
      it = by_stream.erase(it);  // deleted stream: its data goes away
      continue;
    }
    auto& v = it->second;
    std::stable_sort(v.begin(), v.end(),
                     [](const record_ptr& a, const record_ptr& b) { return a->base < b->base; });
    std::vector<record_ptr> kept;
    offset prev_end = info.value().start;
    for (auto& r : v) {
      if (r->end() <= prev_end) continue;  // trimmed away, or a duplicate
      if (r->base < prev_end) continue;    // overlaps what is kept: never store an offset twice
      prev_end = r->end();
      kept.push_back(std::move(r));
    }
    if (kept.empty()) {
      it = by_stream.erase(it);
    } else {
      v = std::move(kept);
      ++live_streams;
      ++it;
    }
  }
  std::vector<std::pair<meta::object_kind, std::vector<record_ptr>>> outputs;
  std::vector<record_ptr> shared;
  for (auto& [id, v] : by_stream) {
    size_t bytes = 0;
    for (const auto& r : v) bytes += r->payload.size();
    if (bytes >= opts_.stream_split_bytes || live_streams == 1) {
      outputs.emplace_back(meta::object_kind::stream, std::move(v));
    } else {
      shared.insert(shared.end(), v.begin(), v.end());
    }
  }
  if (!shared.empty()) outputs.emplace_back(meta::object_kind::stream_set, std::move(shared));
  meta::commit_request req;
  req.node = opts_.node;
  for (const auto& in : inputs) req.compacted.push_back(in.id);
  uint64_t in_bytes = 0, out_bytes = 0;
  for (const auto& in : inputs) in_bytes += in.size;
  if (!outputs.empty()) {
    SLUICE_TRY(auto ids, meta_.prepare_objects(static_cast<uint32_t>(outputs.size()), now_ms()));
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (stopping_) return fail(errc::closed, "compaction interrupted by shutdown");
      SLUICE_TRY(auto info, write_object(ids[i], outputs[i].first, outputs[i].second));
      out_bytes += info.size;
      throttle(info.size);
      req.objects.push_back(std::move(info));
    }
  }
  SLUICE_TRY(meta_.commit(req, now_ms()));
  stats_.compactions.fetch_add(1, std::memory_order_relaxed);
  stats_.compacted_bytes.fetch_add(in_bytes, std::memory_order_relaxed);
  spdlog::info("stream engine: compacted {} objects ({} bytes) into {} ({} bytes)", inputs.size(), in_bytes,
               req.objects.size(), out_bytes);
  return ok();
}

result<void> engine_impl::compact_stream_sets() {
  SLUICE_TRY(auto all, meta_.list_objects(meta::object_state::committed));
  std::vector<meta::object_info> sets;
  for (auto& o : all) {
    if (o.kind == meta::object_kind::stream_set) sets.push_back(std::move(o));
  }
  if (sets.size() < std::max<size_t>(2, opts_.compaction_min_objects)) return ok();
  std::sort(sets.begin(), sets.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  std::vector<meta::object_info> inputs;
  uint64_t total = 0;
  for (auto& o : sets) {
    if (inputs.size() >= 2 && total + o.size > opts_.compaction_max_input_bytes) break;
    total += o.size;
    inputs.push_back(std::move(o));
  }
  std::vector<record_ptr> records;
  for (const auto& in : inputs) {
    if (stopping_) return fail(errc::closed, "compaction interrupted by shutdown");
    SLUICE_TRY(auto recs, read_whole_object(in));
    records.insert(records.end(), std::make_move_iterator(recs.begin()), std::make_move_iterator(recs.end()));
  }
  return write_compacted(inputs, std::move(records));
}

result<void> engine_impl::compact_stream_objects() {
  SLUICE_TRY(auto all, meta_.list_objects(meta::object_state::committed));
  std::map<stream_id, std::vector<meta::object_info>> by_stream;
  for (auto& o : all) {
    if (o.kind == meta::object_kind::stream && o.ranges.size() == 1)
      by_stream[o.ranges[0].stream].push_back(std::move(o));
  }
  uint64_t budget = opts_.compaction_max_input_bytes;
  for (auto& [id, objs] : by_stream) {
    std::sort(objs.begin(), objs.end(),
              [](const auto& a, const auto& b) { return a.ranges[0].start < b.ranges[0].start; });
    std::vector<meta::object_info> run;
    uint64_t run_bytes = 0;
    auto merge = [&]() -> result<void> {
      if (run.size() >= 2) {
        std::vector<record_ptr> records;
        for (const auto& in : run) {
          if (stopping_) return fail(errc::closed, "compaction interrupted by shutdown");
          SLUICE_TRY(auto recs, read_whole_object(in));
          records.insert(records.end(), std::make_move_iterator(recs.begin()),
                         std::make_move_iterator(recs.end()));
        }
        SLUICE_TRY(write_compacted(run, std::move(records)));
        budget -= std::min(budget, run_bytes);
      }
      run.clear();
      run_bytes = 0;
      return ok();
    };
    for (auto& o : objs) {
      if (o.size >= opts_.stream_object_merge_bytes) {
        SLUICE_TRY(merge());
        continue;
      }
      if (run_bytes + o.size > std::min<uint64_t>(budget, opts_.stream_object_merge_bytes * 2)) {
        SLUICE_TRY(merge());
      }
      if (budget == 0) return ok();
      run_bytes += o.size;
      run.push_back(std::move(o));
    }
    SLUICE_TRY(merge());
    if (budget == 0) break;
  }
  return ok();
}

result<void> engine_impl::compact() {
  SLUICE_TRY(compact_stream_sets());
  SLUICE_TRY(compact_stream_objects());
  return ok();
}

}  // namespace sluice::stream::detail
