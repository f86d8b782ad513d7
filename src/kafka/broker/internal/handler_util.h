#pragma once
// Helpers shared by the handler files (handlers_*.cc).
#include <spdlog/spdlog.h>

#include "kafka/broker/broker.h"

namespace sluice::kafka::detail {

inline int16_t code(protocol::error_code e) {
  return static_cast<int16_t>(e);
}

inline protocol::uuid to_uuid(const topic_uuid& id) {
  protocol::uuid u;
  u.bytes = id;
  return u;
}

// Reads the request body; on a decode failure the connection is closed (as Kafka does).
template <class Request>
bool read_request(request_context& c, Request& req) {
  auto r = c.body();
  req.read(r, c.version());
  if (auto st = r.status(); !st) {
    spdlog::debug("kafka: {}: cannot decode API {} v{}: {}", c.conn.remote, c.header.api_key, c.version(),
                  st.error().message());
    c.close();
    return false;
  }
  return true;
}

// What a deferred answer (produce acks, fetch long-polls, JoinGroup, SyncGroup)
// needs once the request context is gone: the answer may come from another
// thread after the handler returned.
struct reply_target {
  responder respond;
  int32_t correlation_id;
  int16_t api_key;
  int16_t version;

  explicit reply_target(const request_context& c)
      : respond(c.respond),
        correlation_id(c.header.correlation_id),
        api_key(c.header.api_key),
        version(c.header.api_version) {}

  // size_hint: expected bytes (reserved up front, so a large response is
  // not copied again each time the buffer grows).
  template <class Response>
  void send(const Response& r, size_t size_hint = 0) const {
    std::string buf;
    buf.reserve(size_hint);
    protocol::writer w(std::move(buf));
    protocol::write_response_header(w, correlation_id, protocol::response_header_version(api_key, version));
    r.write(w, version);
    respond(w.take());
  }
};

}  // namespace sluice::kafka::detail
