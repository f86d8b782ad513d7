#include "http/server.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <span>

#include "base/thread.h"

SLUICE_ERRC_CATEGORY(sluice::http, "http", case errc::body_too_large
                     : return "request body too large";
                     case errc::timeout
                     : return "timed out";
                     case errc::connection_closed
                     : return "connection closed";
                     case errc::bad_body
                     : return "malformed request body";
                     case errc::headers_already_sent
                     : return "response already started";
                     case errc::invalid_request
                     : return "request cannot be sent as HTTP";)

namespace sluice::http {

namespace {

using parser_t = bhttp::request_parser<bhttp::buffer_body>;

const boost::system::error_category& http_category() {
  return bhttp::make_error_code(bhttp::error::end_of_stream).category();
}

// Bodies left unread by a handler are drained up to this much so the
// connection can be reused; beyond it the connection is closed.
constexpr uint64_t kMaxDrain = 1 << 20;

std::string status_line(unsigned status) {
  auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason.data(), reason.size()) + "\r\n";
}

class conn_body final : public body_reader {
 public:
  conn_body(net::stream& s, boost::beast::flat_buffer& buf, parser_t& p, bool expect_continue)
      : s_(s), buf_(buf), p_(p), expect_continue_(expect_continue) {
    // Bodies with a Content-Length bypass the parser: bytes go straight from the socket into the
    // caller's buffer in large reads (Beast's parser reads 512 bytes at a time).
    if (!p_.chunked() && p_.content_length()) {
      direct_ = true;
      remaining_ = *p_.content_length();
    }
  }

  result<size_t> read(char* out, size_t n) override {
    if (complete() || n == 0) return size_t{0};
    if (expect_continue_) {
      expect_continue_ = false;
      static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
      boost::system::error_code ec;
      if (!s_.write_all(k100.data(), k100.size(), ec)) return fail(errc::connection_closed, ec.message());
    }
    if (direct_) return read_direct(out, n);
    for (;;) {
      p_.get().body().data = out;
      p_.get().body().size = n;
      boost::system::error_code ec;
      bhttp::read_some(s_, buf_, p_, ec);
      size_t got = n - p_.get().body().size;
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        failed_ = true;
        if (ec == boost::asio::error::timed_out) return fail(errc::timeout, "reading request body");
        if (ec == boost::asio::error::eof || ec == bhttp::error::partial_message) {
          return fail(errc::connection_closed, "client closed the connection mid-body");
        }
        if (ec.category() == http_category()) return fail(errc::bad_body, ec.message());
        return fail(errc::connection_closed, ec.message());
      }
      read_ += got;
      if (got > 0 || p_.is_done()) return got;
    }
  }
  std::optional<uint64_t> content_length() const override {
    auto cl = p_.content_length();
    if (cl) return *cl;
    return std::nullopt;
  }
  uint64_t bytes_read() const override { return read_; }
  bool failed() const { return failed_; }
  bool complete() const { return direct_ ? remaining_ == 0 : p_.is_done(); }
  // The client sent Expect: 100-continue and has not been told to go on yet.
  bool continue_pending() const { return expect_continue_; }
  void mark_continue_sent() { expect_continue_ = false; }

 private:
  result<size_t> read_direct(char* out, size_t n) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
    size_t got = 0;
    if (buf_.size() > 0) {
      // Bytes that arrived with the header.
      got = std::min(want, buf_.size());
      std::memcpy(out, buf_.data().data(), got);
      buf_.consume(got);
    } else {
      boost::system::error_code ec;
      got = s_.read(out, want, ec);
      if (ec || got == 0) {
        failed_ = true;
        if (ec == boost::asio::error::timed_out) return fail(errc::timeout, "reading request body");
        return fail(errc::connection_closed, "client closed the connection mid-body");
      }
    }
    remaining_ -= got;
    read_ += got;
    return got;
  }

  net::stream& s_;
  boost::beast::flat_buffer& buf_;
  parser_t& p_;
  bool expect_continue_;
  bool direct_ = false;
  uint64_t remaining_ = 0;
  uint64_t read_ = 0;
  bool failed_ = false;
};

class conn_writer final : public response_writer {
 public:
  conn_writer(net::stream& s, bool head, conn_body& body, const std::atomic<bool>& stopping)
      : s_(s), head_(head), body_(body), stopping_(stopping) {}

  result<void> send(response& r, std::string_view body) override {
    if (started_) return fail(errc::headers_already_sent);
    if (r.headers.find(bhttp::field::content_length) == r.headers.end()) {
      r.headers.set(bhttp::field::content_length, std::to_string(body.size()));
    }
    std::string out = head(r);
    if (!head_ && r.status != 204 && r.status != 304) out.append(body);
    return put(out);
  }
  result<void> begin(response& r, uint64_t content_length) override {
    if (started_) return fail(errc::headers_already_sent);
    r.headers.set(bhttp::field::content_length, std::to_string(content_length));
    remaining_ = head_ ? 0 : content_length;
    if (remaining_ == 0) return put(head(r));
    // The header waits for the body's first piece and leaves with it in one
    // send: a small object's answer is one TCP segment, not two (each send
    // on loopback also runs the receiver's network stack in this thread).
    held_head_ = head(r);
    return ok();
  }
  result<void> begin_chunked(response& r) override {
    if (started_) return fail(errc::headers_already_sent);
    r.headers.erase(bhttp::field::content_length);
    r.headers.set(bhttp::field::transfer_encoding, "chunked");
    chunked_ = !head_;
    return put(head(r));
  }
  result<void> finish() override {
    if (!chunked_) return ok();
    chunked_ = false;
    return put("0\r\n\r\n");
  }
  result<void> write(std::string_view chunk) override {
    if (chunked_) {
      if (chunk.empty()) return ok();  // an empty chunk would end the body
      char size[24];
      std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
      std::string framed = size;
      framed.append(chunk).append("\r\n");
      return put(framed);
    }
    if (chunk.size() > remaining_) chunk = chunk.substr(0, remaining_);
    remaining_ -= chunk.size();
    if (!held_head_.empty()) {
      const std::string_view pieces[] = {held_head_, chunk};
      auto r = put(pieces);
      held_head_.clear();
      return r;
    }
    return put(chunk);
  }
  bool can_write_file() const override { return !chunked_ && !head_ && !s_.is_tls(); }
  result<void> write_file(int fd, uint64_t offset, uint64_t length) override {
    if (!started_ || !can_write_file())
      return fail(errc::invalid_request, "write_file: not on this connection");
    length = std::min(length, remaining_);
    remaining_ -= length;
    const std::string head = std::move(held_head_);
    held_head_.clear();
    boost::system::error_code ec;
    if ((length > 0 || !head.empty()) && !s_.send_file_all(head, fd, offset, length, ec)) {
      broken_ = true;
      return fail(errc::connection_closed, "sendfile: " + ec.message());
    }
    return ok();
  }
  // Sends a header still held back by begin() (the handler wrote no body).
  void flush() {
    if (held_head_.empty() || broken_) return;
    const std::string h = std::move(held_head_);
    held_head_.clear();
    (void)put(h);
  }
  bool started() const override { return started_; }
  bool interrupted() override {
    return stopping_ || broken_ || s_.wait_readable(std::chrono::milliseconds(0));
  }
  bool complete() const { return started_ && remaining_ == 0 && !chunked_ && !broken_; }
  bool keep_alive() const { return keep_alive_; }
  unsigned status() const { return status_; }

 private:
  std::string head(response& r) {
    started_ = true;
    status_ = r.status;
    std::string out;
    if (body_.continue_pending()) {
      // A client waiting for 100 Continue (botocore) misreads a final answer that comes without one
      // on a connection it then reuses. An empty body: send the 100 first. A body never read: the
      // client will not send it now, so the connection cannot be reused; say so.
      if (body_.complete()) {
        out = "HTTP/1.1 100 Continue\r\n\r\n";
        body_.mark_continue_sent();
      } else {
        r.headers.set(bhttp::field::connection, "close");
      }
    } else if (!body_.complete()) {
      // An unread body too large to drain ends the connection after this answer.
      auto cl = body_.content_length();
      if (!cl || *cl - body_.bytes_read() > kMaxDrain) r.headers.set(bhttp::field::connection, "close");
    }
    auto conn = r.headers.find(bhttp::field::connection);
    if (conn != r.headers.end() && boost::beast::iequals(conn->value(), "close")) keep_alive_ = false;
    out += status_line(r.status);
    for (const auto& f : r.headers) {
      const std::string_view name(f.name_string().data(), f.name_string().size());
      const std::string_view value(f.value().data(), f.value().size());
      if (!valid_header_name(name)) {
        spdlog::warn("http: dropped a response header with an invalid name");
        continue;
      }
      out.append(name);
      out.append(": ");
      const size_t at = out.size();
      out.append(value);
      if (!valid_header_value(value)) {
        spdlog::warn("http: response header {}: CR, LF or NUL in its value replaced", name);
        for (size_t i = at; i < out.size(); ++i) {
          if (out[i] == '\r' || out[i] == '\n' || out[i] == '\0') out[i] = ' ';
        }
      }
      out.append("\r\n");
    }
    out.append("\r\n");
    return out;
  }
  result<void> put(std::string_view data) {
    boost::system::error_code ec;
    if (!s_.write_all(data.data(), data.size(), ec)) {
      broken_ = true;
      return fail(errc::connection_closed, ec.message());
    }
    return ok();
  }
  result<void> put(std::span<const std::string_view> pieces) {
    boost::system::error_code ec;
    if (!s_.write_all(pieces, ec)) {
      broken_ = true;
      return fail(errc::connection_closed, ec.message());
    }
    return ok();
  }

  net::stream& s_;
  bool head_;
  conn_body& body_;
  const std::atomic<bool>& stopping_;
  bool started_ = false;
  bool chunked_ = false;  // a chunked body is open (begin_chunked until finish)
  bool broken_ = false;
  bool keep_alive_ = true;
  unsigned status_ = 0;
  uint64_t remaining_ = 0;
  std::string held_head_;  // begin()'s header, sent with the first body piece
};

void send_simple(net::stream& s, unsigned status, std::string_view body) {
  std::string out = status_line(status) + "Content-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  boost::system::error_code ec;
  s.write_all(out.data(), out.size(), ec);
}

}  // namespace

result<void> response_writer::write_file(int, uint64_t, uint64_t) {
  return fail(errc::invalid_request, "write_file is not supported by this response writer");
}

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    const bool tchar = std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!tchar || c == 0) return false;
  }
  return true;
}

bool valid_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

server::server(server_options opts, std::shared_ptr<handler> h) : opts_(std::move(opts)), handler_(std::move(h)) {}

server::~server() { stop(); }

result<void> server::start() {
  SLUICE_TRY(listener_, net::listener::bind(opts_.address));
  port_ = listener_->port();
  acceptor_ = named_thread(opts_.name + "-accept", [this] { accept_loop(); });
  return ok();
}

void server::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  if (listener_) listener_->close();
  std::unique_lock lock(mu_);
  for (auto* s : streams_) s->shutdown();
  drained_.wait(lock, [this] { return streams_.empty(); });
}

void server::accept_loop() {
  while (!stopping_) {
    auto fd = listener_->accept(std::chrono::milliseconds(200));
    if (!fd) {
      spdlog::error("{}: {}", opts_.name, fd.error().message());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (fd.value() < 0) continue;
    if (open_.load() >= opts_.max_connections) {
      // Over the limit: refuse at once rather than queue unbounded work.
      auto s = net::stream::make(fd.value(), nullptr, std::chrono::milliseconds(1000));
      if (s) send_simple(*s.value(), 503, "too many connections\n");
      continue;
    }
    ++open_;
    int raw = fd.value();
    named_thread(opts_.name + "-conn", [this, raw] {
      auto s = net::stream::make(raw, opts_.tls, std::chrono::milliseconds(10'000));
      if (!s) {
        spdlog::debug("{}: {}", opts_.name, s.error().message());
      } else {
        {
          std::lock_guard lock(mu_);
          streams_.insert(s.value().get());
        }
        net::stream* raw_stream = s.value().get();
        serve(std::move(s).value());
        std::lock_guard lock(mu_);
        streams_.erase(raw_stream);
      }
      std::lock_guard lock(mu_);
      --open_;
      drained_.notify_all();
    }).detach();
  }
}

void server::serve(std::unique_ptr<net::stream> s) {
  boost::beast::flat_buffer buf(16 * 1024);
  connection_info info{s->remote_address(), s->local_address(), s->is_tls()};
  for (;;) {
    if (stopping_) return;
    if (buf.size() == 0 && !s->wait_readable(opts_.idle_timeout)) return;
    s->set_timeout(opts_.io_timeout);
    parser_t parser;
    parser.header_limit(opts_.max_header_bytes);
    parser.body_limit(boost::none);  // handlers enforce per-operation limits
    boost::system::error_code ec;
    bhttp::read_header(*s, buf, parser, ec);
    if (ec) {
      if (ec == bhttp::error::header_limit) send_simple(*s, 431, "request header too large\n");
      else if (ec.category() == http_category() && ec != bhttp::error::end_of_stream &&
               ec != bhttp::error::partial_message) {
        send_simple(*s, 400, "malformed HTTP request: " + ec.message() + "\n");
      }
      return;
    }
    const auto& req = parser.get();
    bool expect_continue = boost::beast::iequals(req[bhttp::field::expect], "100-continue");
    conn_body body(*s, buf, parser, expect_continue);
    conn_writer out(*s, req.method() == bhttp::verb::head, body, stopping_);
    exchange ex{req.base(), body, out, info};
    try {
      handler_->handle(ex);
      out.flush();
    } catch (const std::exception& e) {
      spdlog::error("{}: handler bug on {} {}: {}", opts_.name, std::string(req.method_string()),
                    std::string(req.target()), e.what());
      if (!out.started()) send_simple(*s, 500, "internal error\n");
      return;
    }
    if (!out.started()) {
      spdlog::error("{}: handler sent no response for {}", opts_.name, std::string(req.target()));
      send_simple(*s, 500, "internal error\n");
      return;
    }
    if (!out.complete() || !out.keep_alive() || !req.keep_alive() || body.failed()) return;
    if (!body.complete()) {
      // Unread body: drain a little to keep the connection, else close.
      if (expect_continue && body.bytes_read() == 0) return;  // client still waits for 100; just close
      char sink[16 * 1024];
      uint64_t drained = 0;
      while (!body.complete() && drained < kMaxDrain) {
        auto n = body.read(sink, sizeof sink);
        if (!n || n.value() == 0) return;
        drained += n.value();
      }
      if (!body.complete()) return;
    }
  }
}

}  // namespace sluice::http
