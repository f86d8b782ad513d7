#pragma once
// HTTP/1.1 server: one thread per connection (bounded by max_connections),
// blocking I/O with per-operation timeouts, keep-alive, Expect: 100-continue,
// streaming request and response bodies. Parsing is Boost.Beast's.
//
// Threading: handler::handle runs on the connection's thread; a handler may
// block (disk I/O). server::stop() closes the listener, shuts every open
// connection down and waits for their threads.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>

#include "base/errc.h"
#include "base/result.h"
#include "net/stream.h"

namespace sluice::http {

namespace bhttp = boost::beast::http;
using request_header = bhttp::request_header<>;
using fields = bhttp::fields;

enum class errc {
  body_too_large = 1,
  timeout,
  connection_closed,
  bad_body,
  headers_already_sent,
  invalid_request
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), category()}; }

// What a response header may hold (RFC 9110 §5.1, §5.5): a name of token
// characters, a value without CR, LF or NUL. Handlers check values that come
// from users (query parameters, form fields) with these and refuse bad ones;
// the response writer also replaces what slipped through (a field with a bad
// name is dropped, CR/LF/NUL in a value become spaces), so no answer can
// carry a header or body that its handler did not write.
bool valid_header_name(std::string_view name);
bool valid_header_value(std::string_view value);

// The request body as a stream of bytes (chunked transfer coding already removed).
class body_reader {
 public:
  virtual ~body_reader() = default;
  // Up to n bytes; 0 means the body is complete.
  virtual result<size_t> read(char* buf, size_t n) = 0;
  // Content-Length when the client sent one.
  virtual std::optional<uint64_t> content_length() const = 0;
  virtual uint64_t bytes_read() const = 0;
};

struct response {
  unsigned status = 200;
  fields headers;
};

class response_writer {
 public:
  virtual ~response_writer() = default;
  // A whole response. Content-Length is set to body.size() unless the handler
  // set it (HEAD answers carry the length of what GET would send, and no body).
  virtual result<void> send(response& r, std::string_view body) = 0;
  // Streaming: header with the given Content-Length, then write() exactly that many bytes.
  virtual result<void> begin(response& r, uint64_t content_length) = 0;
  // Streaming a body of unknown length (Transfer-Encoding: chunked): header,
  // then each write() goes out at once as one chunk, finish() ends the body.
  // The connection stays usable for the next request only after finish().
  virtual result<void> begin_chunked(response& r) = 0;
  virtual result<void> finish() = 0;
  virtual result<void> write(std::string_view chunk) = 0;
  // After begin(): `length` bytes of the open file `fd` from `offset`, as
  // write() would send them. Only where can_write_file() says so: a plain
  // socket hands the page cache's pages over without copying them.
  virtual bool can_write_file() const { return false; }
  virtual result<void> write_file(int fd, uint64_t offset, uint64_t length);
  virtual bool started() const = 0;
  // For long-lived streams, checked between writes: true once the server is
  // stopping or the client closed the connection (or sent anything, which a
  // client reading an endless stream only does to leave). Never blocks.
  virtual bool interrupted() = 0;
};

struct connection_info {
  std::string remote_address;  // "ip:port"
  std::string local_address;
  bool tls = false;
};

struct exchange {
  const request_header& request;
  body_reader& body;
  response_writer& out;
  const connection_info& conn;
};

class handler {
 public:
  virtual ~handler() = default;
  // Must answer through ex.out unless the connection failed. Exceptions are
  // treated as bugs: logged, answered 500 when possible, connection closed.
  virtual void handle(exchange& ex) = 0;
};

struct server_options {
  std::string address = "0.0.0.0:9000";
  size_t max_connections = 1024;
  uint32_t max_header_bytes = 64 * 1024;
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds io_timeout{300'000};
  std::shared_ptr<net::tls_context> tls;
  std::string name = "http";  // for logs
};

class server {
 public:
  server(server_options opts, std::shared_ptr<handler> h);
  ~server();
  // Binds and starts accepting on a background thread.
  result<void> start();
  void stop();
  uint16_t port() const { return port_; }
  size_t open_connections() const { return open_.load(); }

 private:
  void accept_loop();
  void serve(std::unique_ptr<net::stream> s);

  server_options opts_;
  std::shared_ptr<handler> handler_;
  std::unique_ptr<net::listener> listener_;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> open_{0};
  uint16_t port_ = 0;
  std::mutex mu_;
  std::condition_variable drained_;
  std::set<net::stream*> streams_;
};

}  // namespace sluice::http

SLUICE_ERRC_ENUM(sluice::http::errc)
