#pragma once
// The S3 API front end: an http::handler that authenticates requests (SigV4),
// routes them to one handler per S3 operation, and writes S3 XML errors.
#include <memory>
#include <string>
#include <vector>

#include "http/server.h"

namespace sluice::objstore {
class object_layer;
}
namespace sluice::iam {
class store;
}
namespace sluice::events {
class sink;
}

namespace sluice::s3 {

struct service_options {
  std::string region = "us-east-1";
  std::string domain;  // virtual-host-style base domain; empty disables
  std::chrono::seconds max_skew{900};
  uint64_t max_object_size = 5ull << 40;
  size_t max_xml_bytes = 2 << 20;
  std::string deployment_id;
  // Buckets that hold Sluice's own data (the stream engine's objects on the
  // local store): requests may read them, never change them (403).
  std::vector<std::string> reserved_buckets;
};

// `events` (optional, must outlive the service) receives the bucket events of
// every request and answers ListenBucketNotification; without it no events are
// raised and notification rules cannot name a target.
std::shared_ptr<http::handler> make_service(service_options opts, objstore::object_layer& store,
                                            iam::store& users, events::sink* events = nullptr);

}  // namespace sluice::s3
