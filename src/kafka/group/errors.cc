#include "kafka/group/errors.h"

#include <string>

namespace sluice::kafka::group {

std::string_view name(errc e) {
  switch (e) {
    case errc::none:
      return "NONE";
    case errc::unknown_server_error:
      return "UNKNOWN_SERVER_ERROR";
    case errc::unknown_topic_or_partition:
      return "UNKNOWN_TOPIC_OR_PARTITION";
    case errc::offset_metadata_too_large:
      return "OFFSET_METADATA_TOO_LARGE";
    case errc::coordinator_not_available:
      return "COORDINATOR_NOT_AVAILABLE";
    case errc::illegal_generation:
      return "ILLEGAL_GENERATION";
    case errc::inconsistent_group_protocol:
      return "INCONSISTENT_GROUP_PROTOCOL";
    case errc::invalid_group_id:
      return "INVALID_GROUP_ID";
    case errc::unknown_member_id:
      return "UNKNOWN_MEMBER_ID";
    case errc::invalid_session_timeout:
      return "INVALID_SESSION_TIMEOUT";
    case errc::rebalance_in_progress:
      return "REBALANCE_IN_PROGRESS";
    case errc::invalid_request:
      return "INVALID_REQUEST";
    case errc::non_empty_group:
      return "NON_EMPTY_GROUP";
    case errc::group_id_not_found:
      return "GROUP_ID_NOT_FOUND";
    case errc::member_id_required:
      return "MEMBER_ID_REQUIRED";
    case errc::group_max_size_reached:
      return "GROUP_MAX_SIZE_REACHED";
    case errc::fenced_instance_id:
      return "FENCED_INSTANCE_ID";
    case errc::group_subscribed_to_topic:
      return "GROUP_SUBSCRIBED_TO_TOPIC";
  }
  return "UNKNOWN";
}

}  // namespace sluice::kafka::group

SLUICE_ERRC_CATEGORY(
    sluice::kafka::group, "kafka.group", default
    : {
      auto n = ::sluice::kafka::group::name(static_cast<errc>(c));
      if (n != "UNKNOWN") return std::string(n);
    })
