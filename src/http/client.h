#pragma once
// A minimal blocking HTTP/1.1 client for Sluice's own tools (admin CLI,
// health checks): one request per call on a fresh connection, bounded
// response size, timeouts.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sluice::http {

struct client_response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct client_request {
  std::string method = "GET";
  std::string host;  // connect to host:port
  uint16_t port = 80;
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;  // Host is added when missing
  std::string body;
  std::chrono::milliseconds timeout{30'000};
  size_t max_response_bytes = 16 << 20;
};

result<client_response> send_request(const client_request& req);

}  // namespace sluice::http

namespace sluice::net {
class stream;
class tls_context;
}

namespace sluice::http {

// A persistent (keep-alive) HTTP/1.1 connection to one host:port, for tools
// that send many requests (benchmarks, bulk loaders). Used by one thread at a
// time. It connects on the first request and again whenever the server closed
// the connection; a request that fails on a reused connection before any
// response byte arrived is retried once on a fresh one (the server may have
// closed it while idle). Every socket wait is bounded by `timeout`.
class connection {
 public:
  // Receives the response body in pieces as they arrive; the view is only
  // valid during the call.
  using body_sink = std::function<void(std::string_view)>;

  // With tls, every connection is TLS, its certificate checked against
  // tls_name (host when empty).
  connection(std::string host, uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(60),
             std::shared_ptr<net::tls_context> tls = nullptr, std::string tls_name = {});
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Sends one request with `body` as its Content-Length body (Host is added
  // when missing) and reads the whole response. With a sink, the body goes to
  // the sink and client_response::body stays empty; without one it is kept,
  // up to max_response_bytes. The status is returned as is (no error for 4xx/5xx).
  result<client_response> request(std::string_view method, std::string_view target,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  std::string_view body, const body_sink& sink = {},
                                  size_t max_response_bytes = 16 << 20);
  // Drops the socket; the next request connects again.
  void close();
  // From any thread: a request running now fails promptly (its socket is
  // shut down) and so does every later one. For stopping a worker.
  void interrupt();
  // How many TCP connections were opened so far.
  uint64_t connects() const { return connects_; }

 private:
  result<client_response> attempt(std::string_view method, std::string_view target,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  std::string_view body, const body_sink& sink, size_t max_response_bytes,
                                  bool& retryable);

  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<net::tls_context> tls_;
  std::string tls_name_;
  // interrupt() may run on another thread: it shuts down stream_ under mu_,
  // and the owning thread replaces or drops stream_ only under mu_.
  std::mutex mu_;
  bool interrupted_ = false;
  std::unique_ptr<net::stream> stream_;
  std::string recv_buf_;  // reused for body bytes
  uint64_t connects_ = 0;
};

}  // namespace sluice::http
