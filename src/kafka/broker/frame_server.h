#pragma once
// The Kafka listener's transport: size-prefixed frames over TCP. Requests of
// one connection are read in order and may complete out of order (produce
// waits for the WAL, fetch long-polls, join waits for a rebalance); responses
// go back in request order, as Kafka does. Bounded: frame size, requests in
// flight per connection (reading pauses when reached), connections, idle time.
//
// Threads: one reader and one writer per connection. A handler's responder may
// be called from any thread and never blocks on the socket.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "base/result.h"

namespace sluice::net {
class listener;
class stream;
}  // namespace sluice::net

namespace sluice::kafka {

struct frame_server_options {
  std::string address = "0.0.0.0:9092";
  size_t max_connections = 1024;
  size_t max_frame_bytes = 100 << 20;               // socket.request.max.bytes
  // Requests per connection read and awaiting their response, and their
  // bytes: reading pauses at either bound (one request is always admitted).
  // librdkafka sends one produce request per partition and pipelines them, so
  // a producer of many partitions needs hundreds in flight while each waits
  // for its WAL flush; Kafka itself answers one at a time per connection but
  // never waits for a flush.
  size_t max_in_flight = 1024;
  size_t max_in_flight_bytes = 64 << 20;
  std::chrono::milliseconds idle_timeout{600'000};  // connections.max.idle.ms
  std::chrono::milliseconds write_timeout{60'000};
  std::string name = "kafka";
};

struct connection_info {
  uint64_t id = 0;
  std::string remote;  // "ip:port"
  std::string local;
};

// Completes one request: the response frame body (without the size prefix),
// or nullopt for none (acks=0 produce). Call exactly once. close_after closes
// the connection once this response (if any) is written.
class responder {
 public:
  responder() = default;
  void operator()(std::optional<std::string> response, bool close_after = false) const;
  explicit operator bool() const { return slot_ != nullptr; }

 private:
  friend class frame_server;
  struct slot;
  std::shared_ptr<slot> slot_;
};

class frame_handler {
 public:
  virtual ~frame_handler() = default;
  // Runs on the connection's reader thread. May answer inline or later.
  virtual void handle(const connection_info& conn, std::string frame, responder respond) = 0;
  virtual void connection_closed(const connection_info&) {}
};

class frame_server {
 public:
  frame_server(frame_server_options opts, std::shared_ptr<frame_handler> handler);
  ~frame_server();
  result<void> start();
  void stop();
  uint16_t port() const { return port_; }
  size_t open_connections() const { return open_.load(); }

  struct connection;  // internal; public so responders can name it

 private:
  void accept_loop();
  void serve(std::shared_ptr<connection> c);

  frame_server_options opts_;
  std::shared_ptr<frame_handler> handler_;
  std::unique_ptr<net::listener> listener_;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> open_{0};
  std::atomic<uint64_t> next_id_{1};
  uint16_t port_ = 0;
  std::mutex mu_;
  std::condition_variable drained_;
  std::set<std::shared_ptr<connection>> conns_;
};

}  // namespace sluice::kafka
