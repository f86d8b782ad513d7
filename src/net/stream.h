#pragma once
// A connected TCP socket, plain or TLS (OpenSSL), used by one thread at a time.
// Reads and writes block the calling thread but never longer than the current
// timeout: the fd is non-blocking and waits go through poll(2). It models
// Boost.Beast's SyncReadStream/SyncWriteStream so Beast's parsers and
// serializers run on it directly.
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace sluice::net {

// TLS settings shared by many connections: a listener's (server side) or a
// client's. Immutable after creation, so any thread may use it.
class tls_context {
 public:
  // Server side: loads a PEM certificate chain and private key.
  static result<std::shared_ptr<tls_context>> load(const std::string& cert_file, const std::string& key_file);
  // Client side. With verify, the peer's chain must lead to a trusted CA (the
  // system store, or only ca_file when given) and name the host connected to;
  // without it any certificate is accepted (test setups, self-signed stores).
  // With cert_file and key_file (PEM), the client presents that certificate
  // (mutual TLS).
  static result<std::shared_ptr<tls_context>> client(bool verify, const std::string& ca_file = {},
                                                     const std::string& cert_file = {},
                                                     const std::string& key_file = {});
  ~tls_context();
  SSL_CTX* native() const { return ctx_; }
  bool verifies() const { return verify_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  bool verify_ = false;
};

class stream {
 public:
  // Takes ownership of a connected fd. With tls, the handshake runs here.
  static result<std::unique_ptr<stream>> make(int fd, std::shared_ptr<tls_context> tls,
                                              std::chrono::milliseconds handshake_timeout);
  // Client side: connects to host:port within the timeout. With a client
  // tls context the TLS handshake follows (also within the timeout); the
  // certificate is checked against tls_name (SNI too), or host when empty.
  // Failures carry a system error code: EHOSTUNREACH with a message starting
  // "resolve " when the name does not resolve, ECONNREFUSED, ETIMEDOUT, and
  // EPROTO for a failed handshake or certificate check.
  static result<std::unique_ptr<stream>> connect(const std::string& host, uint16_t port,
                                                 std::chrono::milliseconds timeout,
                                                 const std::shared_ptr<tls_context>& tls = nullptr,
                                                 const std::string& tls_name = {});
  ~stream();
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  // Waits until the peer sends something (or closes); false on timeout/error.
  bool wait_readable(std::chrono::milliseconds t);
  // Shuts the socket down so a thread blocked in read/write returns; safe from another thread.
  void shutdown();
  int fd() const { return fd_; }
  bool is_tls() const { return ssl_ != nullptr; }
  const std::string& remote_address() const { return remote_; }
  const std::string& local_address() const { return local_; }

  // Raw byte I/O; 0 from read means orderly close (reported as eof by the Beast adaptors).
  size_t read(void* buf, size_t n, boost::system::error_code& ec);
  size_t write(const void* buf, size_t n, boost::system::error_code& ec);
  // Writes everything or fails.
  bool write_all(const void* buf, size_t n, boost::system::error_code& ec);
  // Writes the pieces one after the other, everything or fails: one
  // sendmsg(2) for many pieces on a plain socket (fewer system calls than a
  // write per piece); over TLS small pieces are joined into one record.
  bool write_all(std::span<const std::string_view> pieces, boost::system::error_code& ec);
  // One gathered send(2) of the pieces that never waits: the bytes the socket
  // took (0 when its buffer is full), or 0 with ec set on an error. Plain
  // sockets only (over TLS: 0 bytes, errc operation_not_supported).
  size_t try_write(std::span<const std::string_view> pieces, boost::system::error_code& ec);
  // Sends `head`, then `length` bytes of the file `in_fd` from `offset` with
  // sendfile(2): the page cache's pages go to the socket without a copy
  // through user memory. The socket is corked (TCP_CORK) meanwhile, so the
  // head rides with the first file bytes and only full segments leave until
  // the end (on loopback, uncorked sendfile of 64 MiB ran at ~0.7x the corked
  // rate). Plain sockets only (over TLS: false, errc operation_not_supported).
  // False with ec set on an error or when the file ends early (eof).
  bool send_file_all(std::string_view head, int in_fd, uint64_t offset, uint64_t length,
                     boost::system::error_code& ec);

  // --- Beast SyncReadStream / SyncWriteStream ---
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers);
         ++it) {
      boost::asio::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      size_t n = read(b.data(), b.size(), ec);
      if (!ec && n == 0) ec = boost::asio::error::eof;
      return n;
    }
    ec = {};
    return 0;
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    ec = {};
    // Gathered into one write (Beast hands header and body as separate buffers).
    std::string_view pieces[16];
    size_t n = 0, total = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && n < std::size(pieces); ++it) {
      boost::asio::const_buffer b = *it;
      if (b.size() == 0) continue;
      pieces[n++] = std::string_view(static_cast<const char*>(b.data()), b.size());
      total += b.size();
    }
    if (!write_all(std::span<const std::string_view>(pieces, n), ec)) return 0;
    return total;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  stream(int fd, SSL* ssl);
  result<void> client_handshake(const tls_context& tls, const std::string& name);
  bool wait(short events, boost::system::error_code& ec);
  bool wait(short events, std::chrono::milliseconds timeout, boost::system::error_code& ec);
  // After a plain send that returned -1: true when it should be tried again
  // (EINTR, or EAGAIN and the socket became writable within the timeout),
  // false with `ec` set otherwise.
  bool retry_send(boost::system::error_code& ec);
  // One sendmsg(2) of pieces[next...] (leaving out the first `skip` bytes of
  // pieces[next]; at most 64 pieces): the bytes sent, 0 when there was nothing
  // to send, -1 with errno on failure. Plain sockets only.
  ssize_t send_pieces(std::span<const std::string_view> pieces, size_t next, size_t skip, int flags);

  int fd_;
  SSL* ssl_;
  std::chrono::milliseconds timeout_{std::chrono::seconds(60)};
  std::string remote_;
  std::string local_;
};

// A listening socket; accept() waits with a timeout so a stop flag can be polled.
class listener {
 public:
  // address: "host:port", "[v6]:port" or ":port" (all interfaces).
  static result<std::unique_ptr<listener>> bind(const std::string& address);
  ~listener();
  // A connected fd, -1 on timeout; errors other than transient ones are returned.
  result<int> accept(std::chrono::milliseconds timeout);
  uint16_t port() const { return port_; }
  void close();

 private:
  explicit listener(int fd, uint16_t port) : fd_(fd), port_(port) {}
  int fd_;
  uint16_t port_;
};

// Splits "host:port" / "[v6]:port" / ":port".
result<std::pair<std::string, uint16_t>> split_host_port(const std::string& address);

}  // namespace sluice::net
