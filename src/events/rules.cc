#include "events/rules.h"

#include <array>
#include <pugixml.hpp>
#include <sstream>

#include "base/encoding.h"
#include "base/wildcard.h"

namespace sluice::events {

namespace {

// MinIO's single event names in its enum order (internal/event/name.go); a
// name's bit is its index here.
constexpr std::array<std::string_view, 32> kNames = {
    "s3:ObjectAccessed:Get",
    "s3:ObjectAccessed:GetRetention",
    "s3:ObjectAccessed:GetLegalHold",
    "s3:ObjectAccessed:Head",
    "s3:ObjectAccessed:Attributes",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:PutRetention",
    "s3:ObjectCreated:PutLegalHold",
    "s3:ObjectCreated:PutTagging",
    "s3:ObjectCreated:DeleteTagging",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRemoved:DeleteAllVersions",
    "s3:ObjectRemoved:NoOP",
    "s3:BucketCreated:*",
    "s3:BucketRemoved:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationCompletedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectTransition:Failed",
    "s3:ObjectTransition:Complete",
    "s3:Scanner:ManyVersions",
    "s3:Scanner:LargeVersions",
    "s3:Scanner:BigPrefix",
    "s3:LifecycleDelMarkerExpiration:Delete",
};

// Wildcards expand to every single name of their group, i.e. the names that
// start with the wildcard's text before '*'. BucketCreated/Removed end in '*'
// but are single names (matched above first); s3:Scanner:* has no string form
// in MinIO and s3:LifecycleDelMarkerExpiration:Delete belongs to no group.
constexpr std::array<std::string_view, 6> kWildcards = {
    "s3:ObjectAccessed:*", "s3:ObjectCreated:*", "s3:ObjectRemoved:*",
    "s3:Replication:*",    "s3:ObjectRestore:*", "s3:ObjectTransition:*",
};

constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

std::string_view local_name(const pugi::xml_node& n) {
  std::string_view name = n.name();
  auto colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// An element's text as Go's decoder reads a string: its direct character data
// and CDATA sections joined (comments and child elements left out).
std::string text_of(const pugi::xml_node& n) {
  std::string out;
  for (auto c : n.children()) {
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) out += c.value();
  }
  return out;
}

// MinIO's NewPattern: prefix + "*", "*" + suffix, "**" collapsed; no filter = "*".
std::string key_pattern(const rule& r) {
  std::string pattern;
  if (!r.prefix.empty()) pattern = r.prefix.ends_with('*') ? r.prefix : r.prefix + "*";
  if (!r.suffix.empty()) pattern += r.suffix.starts_with('*') ? r.suffix : "*" + r.suffix;
  for (size_t pos; (pos = pattern.find("**")) != std::string::npos;) pattern.erase(pos, 1);
  return pattern.empty() ? "*" : pattern;
}

// <S3Key><FilterRule><Name>prefix|suffix</Name><Value>…</Value></FilterRule>…</S3Key>
result<void> parse_s3key(const pugi::xml_node& s3key, rule& r) {
  bool has_prefix = false, has_suffix = false;
  r.prefix.clear();
  r.suffix.clear();
  for (auto fr : s3key.children()) {
    if (local_name(fr) != "FilterRule") continue;
    std::string name, value;
    for (auto f : fr.children()) {
      if (local_name(f) == "Name") name = text_of(f);
      if (local_name(f) == "Value") value = text_of(f);
    }
    if (name != "prefix" && name != "suffix") {
      return fail(errc::filter_name_invalid,
                  "filter rule name must be either prefix or suffix, not '" + name + "'");
    }
    SLUICE_TRY(validate_filter_value(value));
    bool& seen = name == "prefix" ? has_prefix : has_suffix;
    if (seen) return fail(name == "prefix" ? errc::filter_duplicate_prefix : errc::filter_duplicate_suffix);
    seen = true;
    (name == "prefix" ? r.prefix : r.suffix) = value;
  }
  return ok();
}

// One <QueueConfiguration>; checks in MinIO's order: each element as it comes
// (event names, ARN syntax, filter), then missing and duplicate events.
result<rule> parse_queue(const pugi::xml_node& q, bool& has_arn) {
  rule r;
  has_arn = false;
  for (auto c : q.children()) {
    std::string_view n = local_name(c);
    if (n == "Id") {
      r.id = text_of(c);
    } else if (n == "Event") {
      std::string name = text_of(c);
      SLUICE_TRY(auto mask, parse_event_name(name));
      r.events |= mask;
      r.event_patterns.push_back(std::move(name));
    } else if (n == "Queue") {
      std::string text = text_of(c);
      auto a = parse_arn(text);
      if (!a) return fail(errc::arn_not_found, "not a well-formed ARN: " + text);
      r.target = *a;
      has_arn = true;
    } else if (n == "Filter") {
      for (auto s3key : c.children()) {
        if (local_name(s3key) != "S3Key") continue;
        SLUICE_TRY(parse_s3key(s3key, r));
      }
    }
  }
  if (r.event_patterns.empty()) return fail(errc::malformed_xml, "a QueueConfiguration without Event");
  for (size_t i = 0; i < r.event_patterns.size(); ++i) {
    for (size_t j = i + 1; j < r.event_patterns.size(); ++j) {
      if (r.event_patterns[i] == r.event_patterns[j]) {
        return fail(errc::overlap_events, "event " + r.event_patterns[i] + " given twice");
      }
    }
  }
  return r;
}

// MinIO rejects only configurations that are identical (reflect.DeepEqual),
// where an ARN without region equals the same ARN with one.
bool same_rule(const rule& a, const rule& b) {
  bool same_target =
      a.target.id == b.target.id && a.target.type == b.target.type &&
      (a.target.region == b.target.region || a.target.region.empty() || b.target.region.empty());
  return same_target && a.id == b.id && a.event_patterns == b.event_patterns && a.prefix == b.prefix &&
         a.suffix == b.suffix;
}

result<void> check_target(const rule& r, bool has_arn, const std::function<bool(const arn&)>& target_exists,
                          std::string_view region) {
  if (!has_arn) return fail(errc::arn_not_found, "a QueueConfiguration without Queue");
  if (!r.target.region.empty() && !region.empty() && r.target.region != region) {
    return fail(errc::arn_wrong_region, r.target.str() + " is not in region " + std::string(region));
  }
  if (!target_exists(r.target)) return fail(errc::arn_not_found, r.target.str() + " is not configured");
  return ok();
}

}  // namespace

// MinIO's ValidateFilterRuleValue. (MinIO applies it to the wrong variable
// when it parses a configuration, so there it never rejects anything; Sluice
// applies it.)
result<void> validate_filter_value(std::string_view v) {
  bool bad = v.size() > 1024 || !is_valid_utf8(v) || v.find('\\') != std::string_view::npos;
  for (size_t start = 0; !bad && start <= v.size();) {
    size_t slash = std::min(v.find('/', start), v.size());
    std::string_view seg = v.substr(start, slash - start);
    bad = seg == "." || seg == "..";
    start = slash + 1;
  }
  if (bad) return fail(errc::filter_value_invalid, "invalid filter rule value: " + std::string(v));
  return ok();
}

result<name_mask> parse_event_name(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return name_mask{1} << i;
  }
  for (auto w : kWildcards) {
    if (w != name) continue;
    name_mask m = 0;
    for (size_t i = 0; i < kNames.size(); ++i) {
      if (kNames[i].starts_with(w.substr(0, w.size() - 1))) m |= name_mask{1} << i;
    }
    return m;
  }
  return fail(errc::unsupported_event, "event " + std::string(name) + " is not supported for notifications");
}

std::vector<std::string> event_names(name_mask mask) {
  std::vector<std::string> out;
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (mask & (name_mask{1} << i)) out.emplace_back(kNames[i]);
  }
  return out;
}

std::optional<arn> parse_arn(std::string_view s) {
  if (!s.starts_with("arn:minio:sqs:")) return std::nullopt;
  std::vector<std::string> tokens;
  for (size_t start = 0;;) {
    size_t colon = s.find(':', start);
    tokens.emplace_back(
        s.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (tokens.size() != 6 || tokens[4].empty() || tokens[5].empty()) return std::nullopt;
  return arn{tokens[3], tokens[4], tokens[5]};
}

result<rule_set> rule_set::parse(std::string_view xml, const std::function<bool(const arn&)>& target_exists,
                                 std::string_view region) {
  pugi::xml_document doc;
  // Without end-of-line normalisation a value keeps any CR it had, so the
  // stored document (where pugixml writes CRs raw) reads back the same.
  if (!doc.load_buffer(xml.data(), xml.size(), pugi::parse_default & ~pugi::parse_eol, pugi::encoding_utf8)) {
    return fail(errc::malformed_xml, "the document is not well-formed XML");
  }
  auto root = doc.document_element();
  if (!root || local_name(root) != "NotificationConfiguration") {
    return fail(errc::malformed_xml, "the document is not a NotificationConfiguration");
  }
  rule_set set;
  std::vector<bool> has_arn;
  bool unsupported = false;
  for (auto c : root.children()) {
    std::string_view n = local_name(c);
    if (n == "QueueConfiguration") {
      bool with_arn = false;
      SLUICE_TRY(auto r, parse_queue(c, with_arn));
      set.rules_.push_back(std::move(r));
      has_arn.push_back(with_arn);
    } else if (n == "TopicConfiguration" || n == "CloudFunctionConfiguration") {
      unsupported = true;
    }
  }
  for (size_t i = 0; i < set.rules_.size(); ++i) {
    for (size_t j = i + 1; j < set.rules_.size(); ++j) {
      if (same_rule(set.rules_[i], set.rules_[j])) return fail(errc::overlap_filters);
    }
  }
  if (unsupported) return fail(errc::unsupported_notification);
  for (size_t i = 0; i < set.rules_.size(); ++i) {
    SLUICE_TRY(check_target(set.rules_[i], has_arn[i], target_exists, region));
  }
  return set;
}

std::string rule_set::to_xml() const {
  pugi::xml_document doc;
  auto root = doc.append_child("NotificationConfiguration");
  root.append_attribute("xmlns") = std::string(kS3Namespace).c_str();
  const auto text = [](pugi::xml_node parent, const char* name, const std::string& value) {
    parent.append_child(name).text() = value.c_str();
  };
  for (const auto& r : rules_) {
    auto q = root.append_child("QueueConfiguration");
    text(q, "Id", r.id);
    auto key = q.append_child("Filter");
    if (!r.prefix.empty() || !r.suffix.empty()) key = key.append_child("S3Key");
    for (const auto& [name, value] : {std::pair{"prefix", &r.prefix}, std::pair{"suffix", &r.suffix}}) {
      if (value->empty()) continue;
      auto fr = key.append_child("FilterRule");
      text(fr, "Name", name);
      text(fr, "Value", *value);
    }
    for (const auto& e : r.event_patterns) text(q, "Event", e);
    text(q, "Queue", r.target.str());
  }
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw | pugi::format_no_declaration | pugi::format_no_empty_element_tags);
  return out.str();
}

std::set<arn> rule_set::match(std::string_view event_name, std::string_view key) const {
  std::set<arn> out;
  auto mask = parse_event_name(event_name);
  if (!mask) return out;
  for (const auto& r : rules_) {
    if ((r.events & mask.value()) && wildcard_match(key_pattern(r), key, wildcards::star)) {
      out.insert(arn{"", r.target.id, r.target.type});
    }
  }
  return out;
}

bool rule_set::wants(std::string_view event_name) const {
  auto mask = parse_event_name(event_name);
  if (!mask) return false;
  for (const auto& r : rules_) {
    if (r.events & mask.value()) return true;
  }
  return false;
}

}  // namespace sluice::events
