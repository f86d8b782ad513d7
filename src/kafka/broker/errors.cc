// The one place where module errors become Kafka error codes.
#include "kafka/group/errors.h"

#include "kafka/broker/broker.h"

namespace sluice::kafka {

using protocol::error_code;

error_code to_kafka_error(const error& e) {
  const auto& code = e.code();
  if (code.category() == stream::category()) {
    switch (static_cast<stream::errc>(code.value())) {
      case stream::errc::stream_not_found:
        return error_code::unknown_topic_or_partition;
      case stream::errc::offset_out_of_range:
        return error_code::offset_out_of_range;
      case stream::errc::record_too_large:
        return error_code::message_too_large;
      case stream::errc::stream_fenced:
      case stream::errc::stream_not_open:
      case stream::errc::closed:
        return error_code::not_leader_or_follower;  // retriable: the client refreshes metadata
      case stream::errc::cache_full:
      case stream::errc::timeout:
        return error_code::request_timed_out;  // back-pressure: retriable
      case stream::errc::bad_argument:
        return error_code::invalid_request;
      case stream::errc::corrupt:
      case stream::errc::wal_full:
      case stream::errc::io_error:
      case stream::errc::storage_error:
      case stream::errc::meta_error:
      case stream::errc::object_not_found:
        return error_code::kafka_storage_error;  // retriable
    }
    return error_code::unknown_server_error;
  }
  if (code.category() == topic_error::category()) {
    switch (static_cast<topic_errc>(code.value())) {
      case topic_errc::unknown_topic:
        return error_code::unknown_topic_or_partition;
      case topic_errc::topic_exists:
        return error_code::topic_already_exists;
      case topic_errc::invalid_topic:
        return error_code::invalid_topic_exception;
      case topic_errc::invalid_partitions:
        return error_code::invalid_partitions;
      case topic_errc::invalid_replication_factor:
        return error_code::invalid_replication_factor;
      case topic_errc::invalid_config:
        return error_code::invalid_config;
      case topic_errc::policy_violation:
        return error_code::policy_violation;
      case topic_errc::storage:
        return error_code::kafka_storage_error;
    }
    return error_code::unknown_server_error;
  }
  if (code.category() == group::category()) return static_cast<error_code>(code.value());  // Kafka's numbers
  if (code.category() == protocol::category()) return protocol::to_error_code(e);
  return error_code::unknown_server_error;
}

}  // namespace sluice::kafka
