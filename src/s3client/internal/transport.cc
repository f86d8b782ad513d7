#include "s3client/internal/transport.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>
#include <cstring>
#include <limits>

#include "net/stream.h"

namespace sluice::s3client::internal {

namespace bhttp = boost::beast::http;

namespace {

// Bodies up to this size go out in the same send as the header.
constexpr size_t kCoalesceBody = 64 * 1024;
// Body bytes are read from the socket in pieces of at most this size.
constexpr size_t kReadChunk = 256 * 1024;

// net::stream::connect reports system error codes (see net/stream.h).
error connect_error(const error& e, const endpoint& ep) {
  std::string where = ep.host + ":" + std::to_string(ep.port);
  int code = e.code().category() == std::system_category() ? e.code().value() : 0;
  if (code == EHOSTUNREACH && e.detail().starts_with("resolve ")) {
    // "resolve HOST: <getaddrinfo text>: <strerror>": keep the resolver's words.
    std::string why = e.detail().substr(std::min(e.detail().size(), 10 + ep.host.size()));
    if (auto colon = why.rfind(": "); colon != std::string::npos) why.resize(colon);
    return error(errc::unknown_host, "unknown host " + ep.host + (why.empty() ? "" : " (" + why + ")"));
  }
  if (code == ECONNREFUSED) return error(errc::connection_refused, "connection refused by " + where);
  if (code == ETIMEDOUT) return error(errc::timeout, "connect to " + where + " timed out");
  if (code == EPROTO) return error(errc::tls, e.message());
  return error(errc::network, "connect to " + where + ": " + e.message());
}

error io_error(std::string_view what, const boost::system::error_code& ec, const endpoint& ep) {
  std::string msg = std::string(what) + " " + ep.host + ":" + std::to_string(ep.port) + ": " + ec.message();
  if (ec == boost::asio::error::timed_out) return error(errc::timeout, msg);
  return error(errc::network, msg);
}

}  // namespace

std::optional<std::string_view> http_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (boost::beast::iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

connection::connection(endpoint ep, std::shared_ptr<net::tls_context> tls,
                       std::chrono::milliseconds connect_timeout, std::chrono::milliseconds io_timeout,
                       std::atomic<uint64_t>& connects)
    : ep_(std::move(ep)),
      tls_(std::move(tls)),
      connect_timeout_(connect_timeout),
      io_timeout_(io_timeout),
      connects_(connects),
      last_used_(std::chrono::steady_clock::now()) {}

connection::~connection() = default;

bool connection::reusable() {
  // Readable while idle means the server closed the connection (or sent junk).
  if (stream_ && stream_->wait_readable(std::chrono::milliseconds(0))) stream_.reset();
  return stream_ != nullptr;
}

result<http_response> connection::exchange(std::string_view method, std::string_view target,
                                           const header_list& headers, std::string_view body,
                                           size_t max_body) {
  bool retry_fresh = false;
  auto r = attempt(method, target, headers, body, max_body, retry_fresh);
  if (!r && retry_fresh) r = attempt(method, target, headers, body, max_body, retry_fresh);
  last_used_ = std::chrono::steady_clock::now();
  return r;
}

result<http_response> connection::attempt(std::string_view method, std::string_view target,
                                          const header_list& headers, std::string_view body, size_t max_body,
                                          bool& retry_fresh) {
  retry_fresh = false;
  bool fresh = false;
  if (!stream_) {
    auto s = net::stream::connect(ep_.host, ep_.port, connect_timeout_, tls_, ep_.tls_name);
    if (!s) return fail(connect_error(s.error(), ep_));
    stream_ = std::move(s).value();
    stream_->set_timeout(io_timeout_);
    connects_.fetch_add(1, std::memory_order_relaxed);
    fresh = true;
  }
  auto broken = [&](std::string_view what, const boost::system::error_code& ec, bool nothing_received) {
    stream_.reset();
    retry_fresh = !fresh && nothing_received;
    return fail(io_error(what, ec, ep_));
  };

  std::string out;
  out.reserve(512 + target.size() + (body.size() <= kCoalesceBody ? body.size() : 0));
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  for (const auto& [k, v] : headers) out.append(k).append(": ").append(v).append("\r\n");
  if (!body.empty() || method == "PUT" || method == "POST") {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n");
  bool body_separate = body.size() > kCoalesceBody;
  if (!body_separate) out.append(body);
  boost::system::error_code ec;
  if (!stream_->write_all(out.data(), out.size(), ec)) return broken("send to", ec, true);
  // A server may answer early (an error) and close; that surfaces when reading.
  if (body_separate && !stream_->write_all(body.data(), body.size(), ec))
    return broken("send body to", ec, true);

  boost::beast::flat_buffer buf;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.header_limit(64 * 1024);
  if (method == "HEAD") parser.skip(true);
  bhttp::read_header(*stream_, buf, parser, ec);
  if (ec) {
    bool nothing = ec == bhttp::error::end_of_stream || ec == boost::asio::error::connection_reset ||
                   ec == boost::asio::error::eof;
    if (ec.category() == make_error_code(bhttp::error::end_of_stream).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      stream_.reset();
      return fail(errc::bad_response, "bad HTTP response from " + ep_.host + ": " + ec.message());
    }
    return broken("receive from", ec, nothing);
  }

  http_response r;
  r.status = parser.get().result_int();
  for (const auto& f : parser.get())
    r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  auto too_large = [&] {
    stream_.reset();
    return fail(errc::response_too_large,
                "response body from " + ep_.host + " larger than " + std::to_string(max_body) + " bytes");
  };

  if (!parser.is_done()) {
    if (parser.content_length() && !parser.chunked()) {
      // Read the rest straight into the body, no parser copy.
      uint64_t length = *parser.content_length();
      if (length > max_body) return too_large();
      r.body.resize(static_cast<size_t>(length));
      size_t have = std::min<size_t>(buf.size(), r.body.size());
      std::memcpy(r.body.data(), buf.data().data(), have);
      buf.consume(have);
      while (have < r.body.size()) {
        size_t want = std::min(r.body.size() - have, kReadChunk);
        size_t n = stream_->read(r.body.data() + have, want, ec);
        if (!ec && n == 0) ec = boost::asio::error::eof;
        if (ec) return broken("receive body from", ec, false);
        have += n;
      }
    } else {
      // Chunked, or delimited by the server closing the connection.
      std::string chunk(kReadChunk, '\0');
      while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        bhttp::read(*stream_, buf, parser, ec);
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) return broken("receive body from", ec, false);
        size_t n = chunk.size() - parser.get().body().size;
        if (r.body.size() + n > max_body) return too_large();
        r.body.append(chunk.data(), n);
      }
    }
  }
  if (!parser.keep_alive() || buf.size() != 0) stream_.reset();
  return r;
}

pool::pool(size_t max, std::shared_ptr<net::tls_context> tls, std::chrono::milliseconds connect_timeout,
           std::chrono::milliseconds io_timeout, std::chrono::milliseconds idle_timeout)
    : max_(max),
      tls_(std::move(tls)),
      connect_timeout_(connect_timeout),
      io_timeout_(io_timeout),
      idle_timeout_(idle_timeout) {}

pool::~pool() = default;

std::string pool::key(const endpoint& ep) const {
  return ep.host + "\n" + std::to_string(ep.port) + "\n" + ep.tls_name;
}

result<std::unique_ptr<connection>> pool::acquire(const endpoint& ep, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  std::string k = key(ep);
  std::unique_lock lk(mu_);
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (auto it = idle_.find(k); it != idle_.end()) {
      auto& list = it->second;
      while (!list.empty()) {
        std::unique_ptr<connection> c = std::move(list.back());
        list.pop_back();
        if (now - c->last_used() < idle_timeout_ && c->reusable()) return c;
        --open_;
      }
    }
    if (open_ < max_) {
      ++open_;
      return std::make_unique<connection>(ep, tls_, connect_timeout_, io_timeout_, connects_);
    }
    // Make room by closing an idle connection to another host.
    bool evicted = false;
    for (auto& [other, list] : idle_) {
      if (list.empty()) continue;
      list.erase(list.begin());  // the least recently returned
      --open_;
      evicted = true;
      break;
    }
    if (evicted) continue;
    if (freed_.wait_until(lk, deadline) == std::cv_status::timeout && open_ >= max_) {
      return fail(errc::pool_exhausted, "no S3 connection free within " + std::to_string(wait.count()) +
                                            " ms (max_connections " + std::to_string(max_) + ")");
    }
  }
}

void pool::release(std::unique_ptr<connection> c, bool keep) {
  {
    std::lock_guard lk(mu_);
    if (keep && c->reusable()) {
      idle_[key(c->where())].push_back(std::move(c));
    } else {
      --open_;
    }
  }
  freed_.notify_one();
}

}  // namespace sluice::s3client::internal
