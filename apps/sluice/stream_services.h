#pragma once
// The stream side of `sluice server`: metadata store, object storage for
// stream data (this server's object layer, or an external S3 endpoint given
// by s3.url), the stream engine, and the Kafka broker with its listener.
#include <memory>
#include <string>
#include <thread>

#include "base/config.h"
#include "base/result.h"

namespace sluice::objstore {
class object_layer;
}
namespace sluice::stream {
class engine;
class object_storage;
namespace meta {
class meta_store;
}
}  // namespace sluice::stream
namespace sluice::kafka {
class broker;
class frame_server;
}  // namespace sluice::kafka

namespace sluice::app {

struct stream_services {
  std::unique_ptr<stream::meta::meta_store> meta;
  std::unique_ptr<stream::object_storage> storage;
  std::unique_ptr<stream::engine> engine;
  std::shared_ptr<kafka::broker> broker;
  std::unique_ptr<kafka::frame_server> server;
  std::string kafka_address;        // host:port clients are told
  std::string storage_description;  // where stream objects go
  // Keeps faulted-in chunks ready for the produce path's copies, and as many
  // freed ones as the log cache holds (base/byte_arena.h).
  std::jthread warm_arena;
  // Stops the listener, the broker, then the engine (which uploads what the WAL holds).
  void stop();
  ~stream_services();
};

result<std::unique_ptr<stream_services>> start_stream_services(const config::settings& cfg,
                                                               objstore::object_layer& store,
                                                               const std::string& first_drive,
                                                               const std::string& deployment_id,
                                                               const std::string& owner);

}  // namespace sluice::app
