#include "http/client.h"

#include <limits>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/server.h"
#include "net/stream.h"

namespace sluice::http {

namespace {

// A request whose line or headers would not be what they say (a CR/LF in a
// value or the target, e.g. from a configured token) is refused, not sent.
result<void> check_request(std::string_view method, std::string_view target,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
  if (!valid_header_name(method)) return fail(errc::invalid_request, "bad method");
  if (target.empty() || target.find_first_of(std::string_view(" \r\n\0", 4)) != std::string_view::npos) {
    return fail(errc::invalid_request, "bad request target");
  }
  for (const auto& [k, v] : headers) {
    if (!valid_header_name(k)) return fail(errc::invalid_request, "bad header name");
    if (!valid_header_value(v))
      return fail(errc::invalid_request, "CR, LF or NUL in the value of header " + k);
  }
  return ok();
}

}  // namespace

result<client_response> send_request(const client_request& req) {
  SLUICE_TRY(check_request(req.method, req.target, req.headers));
  SLUICE_TRY(auto s, net::stream::connect(req.host, req.port, req.timeout));
  std::string out = req.method + " " + req.target + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto& [k, v] : req.headers) {
    if (boost::beast::iequals(k, "host")) has_host = true;
    out += k + ": " + v + "\r\n";
  }
  if (!has_host) out += "Host: " + req.host + ":" + std::to_string(req.port) + "\r\n";
  out += "Content-Length: " + std::to_string(req.body.size()) + "\r\nConnection: close\r\n\r\n" + req.body;
  boost::system::error_code ec;
  if (!s->write_all(out.data(), out.size(), ec)) return fail(errc::connection_closed, "send: " + ec.message());
  boost::beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(req.max_response_bytes);
  if (req.method == "HEAD") parser.skip(true);  // the Content-Length of a HEAD answer comes without a body
  bhttp::read(*s, buf, parser, ec);
  if (ec) return fail(errc::connection_closed, "receive: " + ec.message());
  client_response r;
  r.status = parser.get().result_int();
  for (const auto& f : parser.get()) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  r.body = std::move(parser.get().body());
  return r;
}

}  // namespace sluice::http

namespace sluice::http {

namespace {

// Body bytes are read straight from the socket into this much buffer per call.
constexpr size_t kRecvBuffer = 512 * 1024;
// Bodies up to this size go out in the same send as the header.
constexpr size_t kCoalesceBody = 64 * 1024;

}  // namespace

connection::connection(std::string host, uint16_t port, std::chrono::milliseconds timeout,
                       std::shared_ptr<net::tls_context> tls, std::string tls_name)
    : host_(std::move(host)),
      port_(port),
      timeout_(timeout),
      tls_(std::move(tls)),
      tls_name_(std::move(tls_name)),
      recv_buf_(kRecvBuffer, '\0') {}

connection::~connection() = default;

void connection::close() {
  std::unique_ptr<net::stream> old;
  std::lock_guard lock(mu_);
  old = std::move(stream_);
}

void connection::interrupt() {
  std::lock_guard lock(mu_);
  interrupted_ = true;
  if (stream_) stream_->shutdown();
}

result<client_response> connection::request(std::string_view method, std::string_view target,
                                            const std::vector<std::pair<std::string, std::string>>& headers,
                                            std::string_view body, const body_sink& sink,
                                            size_t max_response_bytes) {
  bool retryable = false;
  auto r = attempt(method, target, headers, body, sink, max_response_bytes, retryable);
  if (!r && retryable) r = attempt(method, target, headers, body, sink, max_response_bytes, retryable);
  return r;
}

result<client_response> connection::attempt(std::string_view method, std::string_view target,
                                             const std::vector<std::pair<std::string, std::string>>& headers,
                                             std::string_view body, const body_sink& sink,
                                             size_t max_response_bytes, bool& retryable) {
  retryable = false;
  SLUICE_TRY(check_request(method, target, headers));
  bool fresh = false;
  if (!stream_) {
    {
      std::lock_guard lock(mu_);
      if (interrupted_) return fail(errc::connection_closed, "interrupted");
    }
    SLUICE_TRY(auto s, net::stream::connect(host_, port_, timeout_, tls_, tls_name_));
    s->set_timeout(timeout_);
    std::lock_guard lock(mu_);
    if (interrupted_) return fail(errc::connection_closed, "interrupted");
    stream_ = std::move(s);
    ++connects_;
    fresh = true;
  }
  auto broken = [&](std::string what, const boost::system::error_code& ec, bool nothing_received) {
    close();
    retryable = !fresh && nothing_received;
    return fail(errc::connection_closed, what + ": " + ec.message());
  };

  std::string out;
  out.reserve(256 + target.size() + (body.size() <= kCoalesceBody ? body.size() : 0));
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  bool has_host = false;
  for (const auto& [k, v] : headers) {
    if (boost::beast::iequals(k, "host")) has_host = true;
    out.append(k).append(": ").append(v).append("\r\n");
  }
  if (!has_host) out.append("Host: ").append(host_).append(":").append(std::to_string(port_)).append("\r\n");
  if (!body.empty() || (method != "GET" && method != "HEAD")) {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n");
  bool body_separate = body.size() > kCoalesceBody;
  if (!body_separate) out.append(body);
  boost::system::error_code ec;
  if (!stream_->write_all(out.data(), out.size(), ec)) return broken("send", ec, true);
  // A server may answer early (e.g. an error) and close; that surfaces when reading.
  if (body_separate && !stream_->write_all(body.data(), body.size(), ec)) return broken("send body", ec, true);

  boost::beast::flat_buffer buf;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (method == "HEAD") parser.skip(true);
  bhttp::read_header(*stream_, buf, parser, ec);
  if (ec) return broken("receive", ec, ec == bhttp::error::end_of_stream || ec == boost::asio::error::connection_reset);

  client_response r;
  r.status = parser.get().result_int();
  for (const auto& f : parser.get()) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  auto deliver = [&](const char* data, size_t n) -> result<void> {
    if (n == 0) return ok();
    if (sink) {
      sink(std::string_view(data, n));
      return ok();
    }
    if (r.body.size() + n > max_response_bytes) {
      close();
      return fail(errc::body_too_large, "response body larger than " + std::to_string(max_response_bytes));
    }
    r.body.append(data, n);
    return ok();
  };

  if (!parser.is_done()) {
    if (parser.content_length() && !parser.chunked()) {
      // Fast path: the rest of the body is read straight from the socket, no parser copy.
      uint64_t remaining = *parser.content_length();
      size_t buffered = static_cast<size_t>(std::min<uint64_t>(buf.size(), remaining));
      SLUICE_TRY(deliver(static_cast<const char*>(buf.data().data()), buffered));
      buf.consume(buffered);
      remaining -= buffered;
      while (remaining > 0) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, recv_buf_.size()));
        size_t n = stream_->read(recv_buf_.data(), want, ec);
        if (!ec && n == 0) ec = boost::asio::error::eof;
        if (ec) return broken("receive body", ec, false);
        SLUICE_TRY(deliver(recv_buf_.data(), n));
        remaining -= n;
      }
    } else {
      // Chunked, or delimited by the server closing the connection.
      while (!parser.is_done()) {
        parser.get().body().data = recv_buf_.data();
        parser.get().body().size = recv_buf_.size();
        bhttp::read(*stream_, buf, parser, ec);
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) return broken("receive body", ec, false);
        SLUICE_TRY(deliver(recv_buf_.data(), recv_buf_.size() - parser.get().body().size));
      }
    }
  }
  if (!parser.keep_alive() || buf.size() != 0) close();
  return r;
}

}  // namespace sluice::http
