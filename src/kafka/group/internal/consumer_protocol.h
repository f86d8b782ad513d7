#pragma once
// The one piece of the "consumer" protocol type the broker reads: the topics
// of a ConsumerProtocolSubscription (never flexible; every version starts
// with version int16, topics [int16-length string]), needed by OffsetDelete's
// GROUP_SUBSCRIBED_TO_TOPIC check. Kafka reads it the same way
// (GroupMetadata.computeSubscribedTopics).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::kafka::group::internal {

// nullopt if the bytes are not a subscription (a bad length, a negative count).
std::optional<std::vector<std::string>> subscription_topics(std::string_view metadata);

}  // namespace sluice::kafka::group::internal
