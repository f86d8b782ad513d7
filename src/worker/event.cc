#include "worker/event.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "base/encoding.h"
#include "worker/errc.h"

namespace sluice::worker {

namespace json = boost::json;

namespace {

const json::object* member_object(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

std::string member_string(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

std::optional<uint64_t> member_size(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end()) return std::nullopt;
  const json::value& v = it->value();
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<uint64_t>(v.get_int64());
  return std::nullopt;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

result<object_event> parse_record(const json::object& rec, size_t index) {
  auto bad = [&](std::string what) {
    return fail(errc::bad_event, "record " + std::to_string(index) + ": " + what);
  };
  object_event e;
  e.name = member_string(rec, "eventName");
  if (e.name.empty()) return bad("no eventName");
  const json::object* s3 = member_object(rec, "s3");
  if (!s3) return bad("no s3 object");
  const json::object* bucket = member_object(*s3, "bucket");
  const json::object* object = member_object(*s3, "object");
  if (!bucket || !object) return bad("no s3.bucket or s3.object");
  e.bucket = member_string(*bucket, "name");
  if (e.bucket.empty()) return bad("no s3.bucket.name");
  std::string escaped = member_string(*object, "key");
  if (escaped.empty()) return bad("no s3.object.key");
  // MinIO sends url.QueryEscape(key): '+' is a space, %XX a byte.
  auto key = uri_decode(escaped, true);
  if (!key || key->empty()) return bad("malformed s3.object.key '" + escaped + "'");
  e.key = std::move(*key);
  e.size = member_size(*object, "size");
  e.etag = member_string(*object, "eTag");
  if (e.etag.size() >= 2 && e.etag.front() == '"' && e.etag.back() == '"')
    e.etag = e.etag.substr(1, e.etag.size() - 2);
  e.version_id = member_string(*object, "versionId");
  e.sequencer = member_string(*object, "sequencer");
  e.content_type = member_string(*object, "contentType");
  if (const json::object* um = member_object(*object, "userMetadata")) {
    for (const auto& kv : *um) {
      if (kv.value().is_string())
        e.user_metadata.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
    }
  }
  if (std::string t = member_string(rec, "eventTime"); !t.empty()) e.event_time = parse_iso8601(t);
  return e;
}

}  // namespace

result<std::vector<object_event>> parse_event(std::string_view value) {
  if (value.size() > kMaxEventBytes) {
    return fail(errc::bad_event, "event of " + std::to_string(value.size()) + " bytes (at most " +
                                     std::to_string(kMaxEventBytes) + ")");
  }
  boost::system::error_code ec;
  json::value doc = json::parse(value, ec);
  if (ec) return fail(errc::bad_event, "not JSON: " + ec.message());
  if (!doc.is_object()) return fail(errc::bad_event, "not a JSON object");
  auto it = doc.get_object().find("Records");
  if (it == doc.get_object().end() || !it->value().is_array())
    return fail(errc::bad_event, "no Records array");
  const json::array& records = it->value().get_array();
  if (records.empty()) return fail(errc::bad_event, "empty Records array");
  if (records.size() > kMaxRecords) {
    return fail(errc::bad_event,
                std::to_string(records.size()) + " records (at most " + std::to_string(kMaxRecords) + ")");
  }
  std::vector<object_event> out;
  out.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].is_object())
      return fail(errc::bad_event, "record " + std::to_string(i) + " is not an object");
    SLUICE_TRY(auto e, parse_record(records[i].get_object(), i));
    out.push_back(std::move(e));
  }
  return out;
}

std::string message_key(const object_event& e) {
  return e.bucket + "/" + e.key;
}

bool creates_content(std::string_view event_name) {
  static constexpr std::string_view kPrefix = "s3:ObjectCreated:";
  if (!event_name.starts_with(kPrefix)) return false;
  std::string_view what = event_name.substr(kPrefix.size());
  return what == "Put" || what == "Post" || what == "Copy" || what == "CompleteMultipartUpload";
}

bool name_matches(std::string_view pattern, std::string_view event_name) {
  if (pattern.ends_with(":*")) return event_name.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == event_name;
}

bool has_worker_mark(const std::vector<std::pair<std::string, std::string>>& metadata) {
  static constexpr std::string_view kMetaPrefix = "x-amz-meta-";
  for (const auto& [name, value] : metadata) {
    std::string_view n = name;
    if (n.size() > kMetaPrefix.size() && iequals(n.substr(0, kMetaPrefix.size()), kMetaPrefix)) {
      n.remove_prefix(kMetaPrefix.size());
    }
    if (iequals(n, kMarkSourceKey)) return true;
  }
  return false;
}

}  // namespace sluice::worker
