// offset_store implementations. The KV layout is written down in README.md
// ("Offsets in the metadata KV"); keep the two in step.
#include "kafka/group/offset_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

#include "stream/meta/meta_store.h"

namespace sluice::kafka::group {
namespace {

constexpr std::string_view kPrefix = "kafka/groups/";
constexpr std::string_view kOffsets = "/offsets/";
constexpr int64_t kValueVersion = 1;

// Group ids are arbitrary strings: '%' and '/' are escaped so that '/' only
// separates key parts (and a group's keys share one prefix no other group's
// keys start with). Topic names cannot hold either, but get the same treatment.
std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    std::string_view code = s.substr(i + 1, 2);
    if (code == "25") {
      out += '%';
    } else if (code == "2F") {
      out += '/';
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  return out;
}

std::string offset_key(const std::string& group, std::string_view topic, int32_t partition) {
  return fmt::format("{}{}{}{}/{}", kPrefix, escape(group), kOffsets, escape(topic), partition);
}

std::string encode_value(const committed_offset& o) {
  boost::json::object v;
  v["v"] = kValueVersion;
  v["offset"] = o.offset;
  v["leader_epoch"] = o.leader_epoch;
  v["metadata"] = o.metadata;
  v["commit_time_ms"] = o.commit_time_ms;
  return boost::json::serialize(v);
}

// Parses one KV pair; nullopt (and a log line) if it is not an offset record
// this build understands.
std::optional<stored_offset> decode(const std::string& key, const std::string& value) {
  auto bad = [&](std::string_view why) {
    spdlog::error("kafka group offsets: skipping KV record {:?}: {}", key, why);
    return std::nullopt;
  };
  std::string_view k(key);
  if (!k.starts_with(kPrefix)) return bad("prefix");
  k.remove_prefix(kPrefix.size());
  size_t slash = k.find('/');
  if (slash == std::string_view::npos) return bad("no group");
  auto group = unescape(k.substr(0, slash));
  k.remove_prefix(slash);
  if (!group || !k.starts_with(kOffsets)) return bad("not an offset key");
  k.remove_prefix(kOffsets.size());
  slash = k.rfind('/');
  if (slash == std::string_view::npos) return bad("no partition");
  auto topic = unescape(k.substr(0, slash));
  std::string_view part = k.substr(slash + 1);
  int32_t partition = 0;
  auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), partition);
  if (!topic || ec != std::errc() || end != part.data() + part.size() || partition < 0)
    return bad("partition");

  boost::json::parse_options po;
  po.allow_invalid_utf8 = true;  // metadata is whatever the client sent
  boost::system::error_code jec;
  auto jv = boost::json::parse(value, jec, {}, po);
  if (jec || !jv.is_object()) return bad("value is not a JSON object");
  const auto& o = jv.as_object();
  auto int_of = [&](std::string_view name) -> std::optional<int64_t> {
    const auto* f = o.if_contains(name);
    if (!f || !f->is_int64()) return std::nullopt;
    return f->as_int64();
  };
  auto version = int_of("v");
  auto offset = int_of("offset");
  auto epoch = int_of("leader_epoch");
  auto time = int_of("commit_time_ms");
  const auto* meta = o.if_contains("metadata");
  if (!version || *version != kValueVersion) return bad("unknown value version");
  if (!offset || !epoch || !time || !meta || !meta->is_string()) return bad("missing fields");
  stored_offset s;
  s.group = std::move(*group);
  s.record.topic = std::move(*topic);
  s.record.partition = partition;
  s.record.value.offset = *offset;
  s.record.value.leader_epoch = static_cast<int32_t>(*epoch);
  s.record.value.metadata = std::string(meta->as_string());
  s.record.value.commit_time_ms = *time;
  return s;
}

class meta_offset_store final : public offset_store {
 public:
  explicit meta_offset_store(stream::meta::meta_store& kv) : kv_(kv) {}

  result<void> put(const std::string& group, std::span<const offset_record> records,
                   size_t* stored) override {
    *stored = 0;
    for (const auto& r : records) {
      SLUICE_TRY(kv_.put(offset_key(group, r.topic, r.partition), encode_value(r.value)));
      ++*stored;
    }
    return ok();
  }

  result<void> erase(const std::string& group, std::span<const topic_partition> keys,
                     size_t* erased) override {
    *erased = 0;
    for (const auto& k : keys) {
      SLUICE_TRY(kv_.erase(offset_key(group, k.topic, k.partition)));
      ++*erased;
    }
    return ok();
  }

  result<std::vector<stored_offset>> load_all() override {
    SLUICE_TRY(auto pairs, kv_.scan(std::string(kPrefix)));
    std::vector<stored_offset> out;
    out.reserve(pairs.size());
    for (const auto& [k, v] : pairs) {
      if (auto s = decode(k, v)) out.push_back(std::move(*s));
    }
    return out;
  }

 private:
  stream::meta::meta_store& kv_;
};

}  // namespace

std::unique_ptr<offset_store> make_meta_offset_store(stream::meta::meta_store& kv) {
  return std::make_unique<meta_offset_store>(kv);
}

result<void> memory_offset_store::put(const std::string& group, std::span<const offset_record> records,
                                      size_t* stored) {
  std::lock_guard lk(mu_);
  *stored = 0;
  for (const auto& r : records) {
    if (fail_after_ == 0) {
      fail_after_ = -1;
      return fail(std::make_error_code(std::errc::io_error), "injected offset store failure");
    }
    if (fail_after_ > 0) --fail_after_;
    data_[key{group, r.topic, r.partition}] = r.value;
    ++writes_;
    ++*stored;
  }
  if (fail_after_ >= 0) fail_after_ = -1;
  return ok();
}

result<void> memory_offset_store::erase(const std::string& group, std::span<const topic_partition> keys,
                                        size_t* erased) {
  std::lock_guard lk(mu_);
  *erased = 0;
  for (const auto& k : keys) {
    if (fail_after_ == 0) {
      fail_after_ = -1;
      return fail(std::make_error_code(std::errc::io_error), "injected offset store failure");
    }
    if (fail_after_ > 0) --fail_after_;
    data_.erase(key{group, k.topic, k.partition});
    ++writes_;
    ++*erased;
  }
  if (fail_after_ >= 0) fail_after_ = -1;
  return ok();
}

result<std::vector<stored_offset>> memory_offset_store::load_all() {
  std::lock_guard lk(mu_);
  std::vector<stored_offset> out;
  out.reserve(data_.size());
  for (const auto& [k, v] : data_) {
    out.push_back(stored_offset{std::get<0>(k), offset_record{std::get<1>(k), std::get<2>(k), v}});
  }
  return out;
}

void memory_offset_store::fail_after(int64_t n) {
  std::lock_guard lk(mu_);
  fail_after_ = n;
}

uint64_t memory_offset_store::writes() const {
  std::lock_guard lk(mu_);
  return writes_;
}

size_t memory_offset_store::size() const {
  std::lock_guard lk(mu_);
  return data_.size();
}

}  // namespace sluice::kafka::group
