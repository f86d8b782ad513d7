#pragma once
// HTTP/1.1 exchanges for the S3 client: keep-alive connections (plain or TLS)
// and a bounded pool of them keyed by the host they connect to.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "s3client/errors.h"

namespace sluice::net {
class stream;
class tls_context;
}  // namespace sluice::net

namespace sluice::s3client::internal {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_response {
  unsigned status = 0;
  header_list headers;
  std::string body;

  // First header of that name (case-insensitive).
  std::optional<std::string_view> header(std::string_view name) const;
};

struct endpoint {
  std::string host;  // connect to
  uint16_t port = 0;
  std::string tls_name;  // certificate / SNI name (the Host header's host part)
};

// One keep-alive connection, used by one thread at a time. Connects lazily.
class connection {
 public:
  // Every TCP connect increments `connects`, which must outlive the connection.
  connection(endpoint ep, std::shared_ptr<net::tls_context> tls, std::chrono::milliseconds connect_timeout,
             std::chrono::milliseconds io_timeout, std::atomic<uint64_t>& connects);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Sends one request with `body` (Content-Length framing) and reads the
  // response, keeping at most max_body body bytes. A failure on a reused
  // connection before any response byte arrived is retried once on a fresh
  // connection (the server may have closed it while idle). Errors are
  // s3client::errc network codes.
  result<http_response> exchange(std::string_view method, std::string_view target, const header_list& headers,
                                 std::string_view body, size_t max_body);
  // False when the socket is gone or the server closed it while idle.
  bool reusable();
  const endpoint& where() const { return ep_; }
  std::chrono::steady_clock::time_point last_used() const { return last_used_; }

 private:
  result<http_response> attempt(std::string_view method, std::string_view target, const header_list& headers,
                                std::string_view body, size_t max_body, bool& retry_fresh);

  endpoint ep_;
  std::shared_ptr<net::tls_context> tls_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds io_timeout_;
  std::atomic<uint64_t>& connects_;
  std::unique_ptr<net::stream> stream_;
  std::chrono::steady_clock::time_point last_used_;
};

// At most `max` connections exist at once; idle ones are kept per endpoint
// host for reuse until idle_timeout. Thread-safe.
class pool {
 public:
  pool(size_t max, std::shared_ptr<net::tls_context> tls, std::chrono::milliseconds connect_timeout,
       std::chrono::milliseconds io_timeout, std::chrono::milliseconds idle_timeout);
  ~pool();

  // A connection to ep (idle or new), waiting up to `wait` for a free slot.
  result<std::unique_ptr<connection>> acquire(const endpoint& ep, std::chrono::milliseconds wait);
  // Returns a connection; it is kept for reuse when `keep` and still usable.
  void release(std::unique_ptr<connection> c, bool keep);
  // TCP connections opened so far.
  uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }

 private:
  std::string key(const endpoint& ep) const;

  const size_t max_;
  std::shared_ptr<net::tls_context> tls_;
  const std::chrono::milliseconds connect_timeout_, io_timeout_, idle_timeout_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  size_t open_ = 0;  // handed out + idle
  std::map<std::string, std::vector<std::unique_ptr<connection>>> idle_;
  std::atomic<uint64_t> connects_{0};
};

}  // namespace sluice::s3client::internal
