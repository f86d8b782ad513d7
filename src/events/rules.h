#pragma once
// Event names (MinIO's set, with wildcards) and bucket notification rules:
// parsing and validating a NotificationConfiguration document, and matching
// an event (name, object key) to the set of target ARNs it goes to.
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "events/errc.h"

namespace sluice::events {

// Bit mask over single event names (at most 64).
using name_mask = uint64_t;

// "s3:ObjectCreated:Put" → its bit; wildcards ("s3:ObjectCreated:*") expand to
// the bits of their group. unsupported_event for names MinIO does not accept.
result<name_mask> parse_event_name(std::string_view name);
// The names of a mask's bits, in MinIO's enum order.
std::vector<std::string> event_names(name_mask mask);

// A target ARN: arn:minio:sqs:<region>:<id>:<type>.
struct arn {
  std::string region, id, type;
  std::string str() const { return "arn:minio:sqs:" + region + ":" + id + ":" + type; }
  bool operator<(const arn& o) const { return str() < o.str(); }
  bool operator==(const arn& o) const = default;
};
// Needs the "arn:minio:sqs:" prefix, 6 ':'-separated tokens, non-empty id and type.
std::optional<arn> parse_arn(std::string_view s);

// MinIO's check of a filter value (prefix/suffix of a rule or of a watch):
// at most 1024 bytes of UTF-8, no backslash, no "." or ".." path segment.
// filter_value_invalid otherwise.
result<void> validate_filter_value(std::string_view value);

struct rule {
  std::string id;  // QueueConfiguration Id (kept for GET; MinIO sends "Config" as configurationId)
  arn target;
  name_mask events = 0;
  std::vector<std::string> event_patterns;  // as written (for GET)
  std::string prefix, suffix;
};

class rule_set {
 public:
  // Parses and validates a NotificationConfiguration document (MinIO's checks
  // and errors, ../shared/reference/minio.md §4). target_exists says whether an
  // ARN names a configured target; region is the server's region.
  static result<rule_set> parse(std::string_view xml, const std::function<bool(const arn&)>& target_exists,
                                std::string_view region);
  // The document to store and to answer GetBucketNotificationConfiguration with
  // (xmlns of S3, QueueConfiguration entries).
  std::string to_xml() const;

  bool empty() const { return rules_.empty(); }
  const std::vector<rule>& rules() const { return rules_; }
  // The targets an event goes to: each at most once, even when several rules match.
  // A target is its id and type (MinIO's TargetID), so the ARNs come back with
  // an empty region whatever region the rules wrote.
  std::set<arn> match(std::string_view event_name, std::string_view key) const;
  // Whether any rule could match some event of this name (quick pre-check).
  bool wants(std::string_view event_name) const;

 private:
  std::vector<rule> rules_;
};

}  // namespace sluice::events
