#pragma once
// The bucket-notification side of `sluice server`: the notifier (durable
// outbox + delivery to targets) with its configuration from the config file,
// the environment and admin changes, and the built-in target appending to
// this server's stream engine through the Kafka broker.
#include <memory>
#include <string>

#include "base/config.h"
#include "base/result.h"
#include "events/notifier.h"

namespace sluice::objstore {
class object_layer;
}
namespace sluice::kafka {
class broker;
}

namespace sluice::app {

// broker may be null (kafka.enabled=false): then there is no built-in target.
result<std::unique_ptr<events::notifier>> start_event_services(const config::settings& cfg,
                                                               objstore::object_layer& store,
                                                               const std::string& first_drive,
                                                               const std::string& region,
                                                               std::shared_ptr<kafka::broker> broker);

}  // namespace sluice::app
