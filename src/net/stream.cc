#include "net/stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace sluice::net {

namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string sockaddr_string(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
    std::string h = host;
    if (h.starts_with("::ffff:")) return h.substr(7) + ":" + std::to_string(port);
    return "[" + h + "]:" + std::to_string(port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

result<std::pair<std::string, uint16_t>> split_host_port(const std::string& address) {
  std::string host, port;
  if (!address.empty() && address[0] == '[') {
    auto close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return fail(errno_error("bad address " + address, EINVAL));
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string::npos) return fail(errno_error("bad address '" + address + "' (want host:port)", EINVAL));
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p < 0 || p > 65535) return fail(errno_error("bad port in " + address, EINVAL));
  return std::make_pair(host, static_cast<uint16_t>(p));
}

namespace {

result<void> use_certificate(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return fail(errno_error("TLS certificate " + cert_file + ": " + openssl_error(), EINVAL));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return fail(errno_error("TLS private key " + key_file + ": " + openssl_error(), EINVAL));
  }
  return ok();
}

}  // namespace

result<std::shared_ptr<tls_context>> tls_context::load(const std::string& cert_file, const std::string& key_file) {
  auto ctx = std::shared_ptr<tls_context>(new tls_context());
  ctx->ctx_ = SSL_CTX_new(TLS_server_method());
  if (!ctx->ctx_) return fail(errno_error("SSL_CTX_new: " + openssl_error(), EINVAL));
  SSL_CTX_set_min_proto_version(ctx->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx->ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SLUICE_TRY(use_certificate(ctx->ctx_, cert_file, key_file));
  return ctx;
}

result<std::shared_ptr<tls_context>> tls_context::client(bool verify, const std::string& ca_file,
                                                         const std::string& cert_file, const std::string& key_file) {
  auto ctx = std::shared_ptr<tls_context>(new tls_context());
  ctx->verify_ = verify;
  ctx->ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx->ctx_) return fail(errno_error("SSL_CTX_new: " + openssl_error(), EINVAL));
  SSL_CTX_set_min_proto_version(ctx->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx->ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (verify) {
    int rc = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx->ctx_)
                             : SSL_CTX_load_verify_locations(ctx->ctx_, ca_file.c_str(), nullptr);
    if (rc != 1) {
      return fail(errno_error(
          "TLS trust store" + (ca_file.empty() ? std::string() : " " + ca_file) + ": " + openssl_error(),
          EINVAL));
    }
    SSL_CTX_set_verify(ctx->ctx_, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx->ctx_, SSL_VERIFY_NONE, nullptr);
  }
  if (!cert_file.empty() || !key_file.empty()) {
    SLUICE_TRY(use_certificate(ctx->ctx_, cert_file, key_file));
  }
  return ctx;
}

tls_context::~tls_context() { SSL_CTX_free(ctx_); }

stream::stream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) remote_ = sockaddr_string(ss);
  len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) local_ = sockaddr_string(ss);
}

stream::~stream() {
  if (ssl_) {
    SSL_shutdown(ssl_);  // best effort close_notify; non-blocking
    SSL_free(ssl_);
  }
  ::close(fd_);
}

result<std::unique_ptr<stream>> stream::make(int fd, std::shared_ptr<tls_context> tls,
                                             std::chrono::milliseconds handshake_timeout) {
  set_nonblocking(fd);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL* ssl = nullptr;
  if (tls) {
    ssl = SSL_new(tls->native());
    SSL_set_fd(ssl, fd);
  }
  std::unique_ptr<stream> s(new stream(fd, ssl));
  if (ssl) {
    s->timeout_ = handshake_timeout;
    for (;;) {
      int rc = SSL_accept(ssl);
      if (rc == 1) break;
      int err = SSL_get_error(ssl, rc);
      boost::system::error_code ec;
      if (err == SSL_ERROR_WANT_READ) {
        if (!s->wait(POLLIN, ec)) return fail(errno_error("TLS handshake", ETIMEDOUT));
      } else if (err == SSL_ERROR_WANT_WRITE) {
        if (!s->wait(POLLOUT, ec)) return fail(errno_error("TLS handshake", ETIMEDOUT));
      } else {
        ERR_clear_error();
        return fail(errno_error("TLS handshake failed", ECONNABORTED));
      }
    }
  }
  return s;
}

result<std::unique_ptr<stream>> stream::connect(const std::string& host, uint16_t port,
                                                std::chrono::milliseconds timeout,
                                                const std::shared_ptr<tls_context>& tls,
                                                const std::string& tls_name) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res); rc != 0) {
    return fail(errno_error("resolve " + host + ": " + gai_strerror(rc), EHOSTUNREACH));
  }
  int last_err = ECONNREFUSED;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (rc == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err ? -1 : 0;
        errno = err;
      } else {
        rc = -1;
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      ::freeaddrinfo(res);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::unique_ptr<stream> s(new stream(fd, nullptr));
      s->timeout_ = timeout;
      if (tls) {
        if (auto hs = s->client_handshake(*tls, tls_name.empty() ? host : tls_name); !hs)
          return fail(hs.error());
      }
      return s;
    }
    last_err = errno;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return fail(errno_error("connect " + host + ":" + port_s, last_err));
}

result<void> stream::client_handshake(const tls_context& tls, const std::string& name) {
  ssl_ = SSL_new(tls.native());
  if (!ssl_) return fail(errno_error("SSL_new: " + openssl_error(), EPROTO));
  SSL_set_fd(ssl_, fd_);
  in6_addr addr{};
  bool is_ip =
      ::inet_pton(AF_INET, name.c_str(), &addr) == 1 || ::inet_pton(AF_INET6, name.c_str(), &addr) == 1;
  if (!is_ip) SSL_set_tlsext_host_name(ssl_, name.c_str());  // SNI is for names only (RFC 6066)
  if (tls.verifies()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    int rc = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                   : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    if (rc != 1) return fail(errno_error("TLS: cannot check certificate name " + name, EPROTO));
  }
  for (;;) {
    int rc = SSL_connect(ssl_);
    if (rc == 1) return ok();
    int err = SSL_get_error(ssl_, rc);
    boost::system::error_code ec;
    if (err == SSL_ERROR_WANT_READ) {
      if (!wait(POLLIN, ec)) return fail(errno_error("TLS handshake with " + name, ETIMEDOUT));
    } else if (err == SSL_ERROR_WANT_WRITE) {
      if (!wait(POLLOUT, ec)) return fail(errno_error("TLS handshake with " + name, ETIMEDOUT));
    } else {
      std::string why;
      if (long v = SSL_get_verify_result(ssl_); v != X509_V_OK) {
        why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
      } else {
        why = ERR_peek_error() ? openssl_error() : "connection closed";
      }
      ERR_clear_error();
      return fail(
          error(std::error_code(EPROTO, std::system_category()), "TLS handshake with " + name + ": " + why));
    }
  }
}

bool stream::send_file_all(std::string_view head, int in_fd, uint64_t offset, uint64_t length,
                           boost::system::error_code& ec) {
  ec = {};
  if (ssl_) {
    ec = boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
    return false;
  }
  struct cork {
    int fd;
    explicit cork(int f) : fd(f) { set(1); }
    ~cork() { set(0); }  // uncorking sends what is left at once
    void set(int on) const { ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on); }
  } corked(fd_);
  if (!head.empty() && !write_all(head.data(), head.size(), ec)) return false;
  auto off = static_cast<off_t>(offset);
  while (length > 0) {
    // At most 1 GiB per call (sendfile moves at most 0x7ffff000 bytes anyway).
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length, 1ull << 30));
    const ssize_t rc = ::sendfile(fd_, in_fd, &off, want);
    if (rc < 0) {
      if (retry_send(ec)) continue;
      return false;
    }
    if (rc == 0) {  // the file is shorter than asked for
      ec = boost::asio::error::eof;
      return false;
    }
    length -= static_cast<uint64_t>(rc);
  }
  return true;
}

bool stream::retry_send(boost::system::error_code& ec) {
  if (errno == EINTR) return true;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return wait(POLLOUT, ec);
  ec = boost::system::error_code(errno, boost::system::system_category());
  return false;
}

bool stream::wait(short events, boost::system::error_code& ec) {
  return wait(events, timeout_, ec);
}

bool stream::wait(short events, std::chrono::milliseconds timeout, boost::system::error_code& ec) {
  pollfd p{fd_, events, 0};
  for (;;) {
    int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc > 0) return true;
    if (rc == 0) {
      ec = boost::asio::error::timed_out;
      return false;
    }
    if (errno != EINTR) {
      ec = boost::system::error_code(errno, boost::system::system_category());
      return false;
    }
  }
}

bool stream::wait_readable(std::chrono::milliseconds t) {
  if (ssl_ && SSL_pending(ssl_) > 0) return true;
  // Not through timeout_: another thread may be writing with it.
  boost::system::error_code ec;
  return wait(POLLIN, t, ec);
}

void stream::shutdown() { ::shutdown(fd_, SHUT_RDWR); }

size_t stream::read(void* buf, size_t n, boost::system::error_code& ec) {
  ec = {};
  for (;;) {
    if (ssl_) {
      int rc = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
      if (rc > 0) return static_cast<size_t>(rc);
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err == SSL_ERROR_WANT_READ) {
        if (!wait(POLLIN, ec)) return 0;
        continue;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        if (!wait(POLLOUT, ec)) return 0;
        continue;
      }
      ERR_clear_error();
      ec = boost::asio::error::connection_reset;
      return 0;
    }
    ssize_t rc = ::recv(fd_, buf, n, 0);
    if (rc >= 0) return static_cast<size_t>(rc);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait(POLLIN, ec)) return 0;
      continue;
    }
    ec = boost::system::error_code(errno, boost::system::system_category());
    return 0;
  }
}

size_t stream::write(const void* buf, size_t n, boost::system::error_code& ec) {
  ec = {};
  for (;;) {
    if (ssl_) {
      int rc = SSL_write(ssl_, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
      if (rc > 0) return static_cast<size_t>(rc);
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ) {
        if (!wait(POLLIN, ec)) return 0;
        continue;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        if (!wait(POLLOUT, ec)) return 0;
        continue;
      }
      ERR_clear_error();
      ec = boost::asio::error::connection_reset;
      return 0;
    }
    ssize_t rc = ::send(fd_, buf, n, MSG_NOSIGNAL);
    if (rc >= 0) return static_cast<size_t>(rc);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait(POLLOUT, ec)) return 0;
      continue;
    }
    ec = boost::system::error_code(errno, boost::system::system_category());
    return 0;
  }
}

bool stream::write_all(const void* buf, size_t n, boost::system::error_code& ec) {
  auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    size_t w = write(p, n, ec);
    if (ec) return false;
    p += w;
    n -= w;
  }
  return true;
}

ssize_t stream::send_pieces(std::span<const std::string_view> pieces, size_t next, size_t skip, int flags) {
  constexpr size_t kMaxIov = 64;
  iovec iov[kMaxIov];
  size_t n = 0;
  for (size_t i = next; i < pieces.size() && n < kMaxIov; ++i) {
    size_t off = i == next ? skip : 0;
    if (pieces[i].size() == off) continue;
    iov[n].iov_base = const_cast<char*>(pieces[i].data() + off);
    iov[n].iov_len = pieces[i].size() - off;
    ++n;
  }
  if (n == 0) return 0;
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = n;
  return ::sendmsg(fd_, &msg, flags | MSG_NOSIGNAL);
}

size_t stream::try_write(std::span<const std::string_view> pieces, boost::system::error_code& ec) {
  ec = {};
  if (ssl_) {
    ec = boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
    return 0;
  }
  for (;;) {
    ssize_t rc = send_pieces(pieces, 0, 0, MSG_DONTWAIT);
    if (rc >= 0) return static_cast<size_t>(rc);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    ec = boost::system::error_code(errno, boost::system::system_category());
    return 0;
  }
}

bool stream::write_all(std::span<const std::string_view> pieces, boost::system::error_code& ec) {
  ec = {};
  if (ssl_) {
    // One TLS record per small run of pieces instead of one per piece.
    std::string joined;
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (pieces[i].size() >= (16 << 10)) {
        if (!joined.empty() && !write_all(joined.data(), joined.size(), ec)) return false;
        joined.clear();
        if (!write_all(pieces[i].data(), pieces[i].size(), ec)) return false;
      } else {
        joined.append(pieces[i]);
      }
    }
    return joined.empty() || write_all(joined.data(), joined.size(), ec);
  }
  size_t next = 0;  // first piece not yet fully sent
  size_t skip = 0;  // bytes of pieces[next] already written
  while (next < pieces.size()) {
    ssize_t rc = send_pieces(pieces, next, skip, 0);
    if (rc == 0) break;  // only empty pieces left
    if (rc < 0) {
      if (retry_send(ec)) continue;
      return false;
    }
    // Advance past what was sent.
    auto sent = static_cast<size_t>(rc);
    while (next < pieces.size() && sent > 0) {
      size_t left = pieces[next].size() - skip;
      if (sent < left) {
        skip += sent;
        sent = 0;
      } else {
        sent -= left;
        ++next;
        skip = 0;
      }
    }
    while (next < pieces.size() && pieces[next].size() == skip) {
      ++next;
      skip = 0;
    }
  }
  return true;
}

result<std::unique_ptr<listener>> listener::bind(const std::string& address) {
  SLUICE_TRY(auto hp, split_host_port(address));
  auto [host, port] = hp;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  hints.ai_family = host.empty() ? AF_INET6 : AF_UNSPEC;
  addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port_s.c_str(), &hints, &res); rc != 0) {
    return fail(errno_error("resolve " + address + ": " + gai_strerror(rc), EINVAL));
  }
  int last_err = EADDRNOTAVAIL;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1, zero = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) {
      ::freeaddrinfo(res);
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
      uint16_t bound = ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                               : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
      return std::unique_ptr<listener>(new listener(fd, bound));
    }
    last_err = errno;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return fail(errno_error("listen on " + address, last_err));
}

listener::~listener() { close(); }

void listener::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

result<int> listener::accept(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (rc <= 0) return -1;
  int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) return -1;
    return fail(errno_error("accept", errno));
  }
  return fd;
}

}  // namespace sluice::net
