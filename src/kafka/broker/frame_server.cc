#include "kafka/broker/frame_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

#include "base/thread.h"
#include "base/wake_batch.h"
#include "net/stream.h"

namespace sluice::kafka {

struct frame_server::connection {
  connection_info info;
  std::unique_ptr<net::stream> s;
  std::mutex mu;
  std::condition_variable writer_cv;  // work for the writer (see writer_has_work), or closed
  std::condition_variable reader_cv;  // room for another request, pending drained, or closed
  struct entry {
    uint64_t seq = 0;
    size_t request_bytes = 0;
    bool ready = false;
    std::optional<std::string> response;
    bool close_after = false;
  };
  std::deque<entry> pending;  // requests in order, awaiting their responses
  size_t pending_bytes = 0;   // request bytes of `pending`
  uint64_t next_seq = 0;
  bool closed = false;
  // A thread is sending (the writer, or a responder's thread sending inline):
  // one at a time, so responses leave in order.
  bool writing = false;
  std::string carry;          // bytes an inline send left unsent: the writer sends them first
  bool write_failed = false;  // an inline send failed: the writer closes the connection
  bool inline_sends = false;  // plain socket: responders may send without waking the writer

  bool head_ready() const { return !pending.empty() && pending.front().ready; }
  bool writer_has_work() const {
    return closed || write_failed || (!writing && (!carry.empty() || head_ready()));
  }

  // Moves the ready responses at the head of `pending` (at most 256, and
  // while their bytes stay within max_bytes) into `out`; with stop_at_close,
  // stops before one that closes the connection (left for the writer), else
  // after it. Under mu.
  void take_ready(std::vector<entry>& out, bool stop_at_close, size_t max_bytes = SIZE_MAX) {
    size_t bytes = 0;
    while (head_ready() && out.size() < 256) {
      if (stop_at_close && pending.front().close_after) break;
      size_t n = pending.front().response ? pending.front().response->size() : 0;
      if (n > max_bytes - bytes) break;
      bytes += n;
      pending_bytes -= pending.front().request_bytes;
      out.push_back(std::move(pending.front()));
      pending.pop_front();
      if (out.back().close_after) break;
    }
    if (!out.empty()) reader_cv.notify_one();  // room for the reader
  }

  // Sends the ready head responses from the calling thread (a responder's:
  // the WAL's completion, a fetch wake-up, the reader) with one send that
  // never blocks, instead of waking the writer thread: one thread hand-off
  // less per response on the produce path. Whatever the socket does not take
  // now is left to the writer. Only small responses (produce acks, metadata,
  // group calls) go inline, at most kInlineBytes per call: a thread that
  // answers for many connections (the WAL's syncer) spends a bounded time on
  // each, and large fetch responses stay with the connection's own writer.
  static constexpr size_t kInlineBytes = 64 * 1024;
  void send_ready() {
    std::vector<entry> ready;
    {
      std::lock_guard lk(mu);
      if (!inline_sends || closed || write_failed || writing || !carry.empty()) {
        if (writer_has_work()) writer_cv.notify_one();
        return;
      }
      take_ready(ready, true, kInlineBytes);
      if (ready.empty()) {
        if (writer_has_work()) writer_cv.notify_one();
        return;
      }
      writing = true;
    }
    std::vector<std::array<char, 4>> sizes;
    std::vector<std::string_view> pieces;
    size_t total = gather(ready, sizes, pieces);
    boost::system::error_code ec;
    size_t sent = pieces.empty() ? 0 : s->try_write(pieces, ec);
    std::lock_guard lk(mu);
    writing = false;
    if (ec) {
      write_failed = true;
    } else if (sent < total) {
      for (auto piece : pieces) {  // the unsent tail, in order
        if (sent >= piece.size()) {
          sent -= piece.size();
          continue;
        }
        carry.append(piece.substr(sent));
        sent = 0;
      }
    }
    if (writer_has_work()) writer_cv.notify_one();
  }

  // Size prefixes and bodies of `ready`'s responses as pieces; their bytes.
  static size_t gather(const std::vector<entry>& ready, std::vector<std::array<char, 4>>& sizes,
                       std::vector<std::string_view>& pieces) {
    sizes.resize(ready.size());
    pieces.clear();
    size_t total = 0;
    for (size_t i = 0; i < ready.size(); ++i) {
      if (!ready[i].response) continue;
      uint32_t n = htonl(static_cast<uint32_t>(ready[i].response->size()));
      std::memcpy(sizes[i].data(), &n, 4);
      pieces.emplace_back(sizes[i].data(), 4);
      pieces.emplace_back(*ready[i].response);
      total += 4 + ready[i].response->size();
    }
    return total;
  }
};

struct responder::slot {
  std::weak_ptr<frame_server::connection> conn;
  uint64_t seq = 0;
  std::atomic<bool> used{false};
};

void responder::operator()(std::optional<std::string> response, bool close_after) const {
  if (!slot_ || slot_->used.exchange(true)) return;
  auto c = slot_->conn.lock();
  if (!c) return;
  {
    std::lock_guard lk(c->mu);
    if (c->closed || c->pending.empty()) return;
    uint64_t first = c->pending.front().seq;
    if (slot_->seq < first || slot_->seq - first >= c->pending.size()) return;
    auto& e = c->pending[slot_->seq - first];
    e.ready = true;
    e.response = std::move(response);
    e.close_after = close_after;
    // Only the head's answer can be sent: answers behind it do nothing.
    if (slot_->seq != first) return;
  }
  // When many answers complete together (one WAL flush), the connection's
  // ready responses are sent once, after the last of them (base/wake_batch.h);
  // outside a batch, now (send_ready takes c->mu itself).
  wake_batch::wake(c.get(), [c] { c->send_ready(); });
}

frame_server::frame_server(frame_server_options opts, std::shared_ptr<frame_handler> handler)
    : opts_(std::move(opts)), handler_(std::move(handler)) {}

frame_server::~frame_server() {
  stop();
}

result<void> frame_server::start() {
  SLUICE_TRY(listener_, net::listener::bind(opts_.address));
  port_ = listener_->port();
  acceptor_ = named_thread(opts_.name + "-accept", [this] { accept_loop(); });
  return ok();
}

void frame_server::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  if (listener_) listener_->close();
  std::unique_lock lk(mu_);
  for (auto& c : conns_) {
    {
      std::lock_guard cl(c->mu);
      c->closed = true;
      c->writer_cv.notify_all();
      c->reader_cv.notify_all();
    }
    c->s->shutdown();
  }
  drained_.wait_for(lk, std::chrono::seconds(10), [&] { return open_.load() == 0; });
}

void frame_server::accept_loop() {
  while (!stopping_) {
    auto fd = listener_->accept(std::chrono::milliseconds(200));
    if (!fd) {
      spdlog::error("{}: {}", opts_.name, fd.error().message());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (fd.value() < 0) continue;
    if (open_.load() >= opts_.max_connections) {
      spdlog::warn("{}: {} connections open; refusing a new one", opts_.name, open_.load());
      auto s = net::stream::make(fd.value(), nullptr, std::chrono::milliseconds(1000));
      continue;  // the stream's destructor closes it
    }
    auto s = net::stream::make(fd.value(), nullptr, std::chrono::milliseconds(10'000));
    if (!s) continue;
    auto c = std::make_shared<connection>();
    c->info.id = next_id_++;
    c->info.remote = s.value()->remote_address();
    c->info.local = s.value()->local_address();
    c->s = std::move(s).value();
    {
      std::lock_guard lk(mu_);
      conns_.insert(c);
      ++open_;
    }
    named_thread(opts_.name + "-read", [this, c] {
      try {
        serve(c);
      } catch (const std::exception& e) {
        spdlog::error("{}: connection {}: bug: {}", opts_.name, c->info.remote, e.what());
      }
      handler_->connection_closed(c->info);
      std::lock_guard lk(mu_);
      conns_.erase(c);
      --open_;
      drained_.notify_all();
    }).detach();
  }
}

namespace {

// Reads frames through one buffer: a recv(2) usually brings many small
// requests (librdkafka pipelines produce requests), so most frames cost no
// system call of their own. Large frames are read straight into their string.
class frame_reader {
 public:
  explicit frame_reader(net::stream& s) : s_(s), buf_(new char[kBufBytes]) {}

  enum class status { frame, closed, too_large };

  // Next frame body (without its size prefix) into `frame`. Waits up to
  // idle_timeout for a frame to start; the rest of a frame must follow within
  // the stream's timeout.
  status next(std::string& frame, std::chrono::milliseconds idle_timeout, size_t max_frame, uint32_t& size) {
    if (avail() == 0 && !s_.wait_readable(idle_timeout)) return status::closed;
    if (!fill_to(4)) return status::closed;
    uint32_t n;
    std::memcpy(&n, buf_.get() + head_, 4);
    n = ntohl(n);
    size = n;
    if (n > max_frame || n < 8) return status::too_large;
    head_ += 4;
    if (n <= kBufBytes) {
      if (!fill_to(n)) return status::closed;
      frame.assign(buf_.get() + head_, n);
      head_ += n;
      return status::frame;
    }
    // Larger than the buffer: what is buffered, then the rest directly.
    frame.resize(n);
    size_t have = avail();
    std::memcpy(frame.data(), buf_.get() + head_, have);
    head_ = tail_ = 0;
    while (have < n) {
      boost::system::error_code ec;
      size_t k = s_.read(frame.data() + have, n - have, ec);
      if (ec || k == 0) return status::closed;
      have += k;
    }
    return status::frame;
  }

 private:
  static constexpr size_t kBufBytes = 64 << 10;  // per connection

  size_t avail() const { return tail_ - head_; }

  // At least `need` (<= kBufBytes) unread bytes in the buffer.
  bool fill_to(size_t need) {
    if (avail() >= need) return true;
    if (head_ + need > kBufBytes) {  // make room: move the unread bytes to the front
      std::memmove(buf_.get(), buf_.get() + head_, avail());
      tail_ -= head_;
      head_ = 0;
    }
    while (avail() < need) {
      boost::system::error_code ec;
      size_t k = s_.read(buf_.get() + tail_, kBufBytes - tail_, ec);
      if (ec || k == 0) return false;
      tail_ += k;
    }
    return true;
  }

  net::stream& s_;
  std::unique_ptr<char[]> buf_;
  size_t head_ = 0, tail_ = 0;
};

}  // namespace

void frame_server::serve(std::shared_ptr<connection> c) {
  net::stream& s = *c->s;
  s.set_timeout(opts_.write_timeout);
  c->inline_sends = !s.is_tls();
  // The writer sends completed responses in request order, every response
  // that is ready in one gathered write.
  std::thread writer = named_thread(opts_.name + "-write", [this, c] {
    std::vector<connection::entry> ready;
    std::vector<std::array<char, 4>> sizes;
    std::vector<std::string_view> pieces;
    std::string carry;
    for (;;) {
      bool close_after = false;
      {
        std::unique_lock lk(c->mu);
        c->writer_cv.wait(lk, [&] { return c->writer_has_work(); });
        if (c->closed) return;
        close_after = c->write_failed;
        if (!close_after) {
          carry = std::move(c->carry);
          c->carry.clear();
          c->take_ready(ready, false);
          c->writing = true;
        }
      }
      if (!close_after) {
        connection::gather(ready, sizes, pieces);
        for (const auto& e : ready) close_after |= e.close_after;
        if (!carry.empty()) pieces.insert(pieces.begin(), std::string_view(carry));
        if (!pieces.empty()) {
          boost::system::error_code ec;
          if (!c->s->write_all(pieces, ec)) {
            spdlog::debug("{}: {}: write failed: {}", opts_.name, c->info.remote, ec.message());
            close_after = true;
          }
        }
        ready.clear();
        carry.clear();
      }
      std::lock_guard lk(c->mu);
      c->writing = false;
      if (close_after) {
        c->closed = true;
        c->reader_cv.notify_all();
        c->s->shutdown();
        return;
      }
    }
  });
  frame_reader in(s);
  for (;;) {
    {
      std::unique_lock lk(c->mu);
      c->reader_cv.wait(lk, [&] {
        return c->closed || c->pending.empty() ||
               (c->pending.size() < opts_.max_in_flight && c->pending_bytes < opts_.max_in_flight_bytes);
      });
      if (c->closed) break;
    }
    std::string frame;
    uint32_t size = 0;
    auto st = in.next(frame, opts_.idle_timeout, opts_.max_frame_bytes, size);
    if (st == frame_reader::status::too_large) {
      spdlog::warn("{}: {}: frame of {} bytes (limit {}); closing", opts_.name, c->info.remote, size,
                   opts_.max_frame_bytes);
      break;
    }
    if (st != frame_reader::status::frame) break;  // idle, closed or failed
    responder r;
    r.slot_ = std::make_shared<responder::slot>();
    r.slot_->conn = c;
    {
      std::lock_guard lk(c->mu);
      r.slot_->seq = c->next_seq++;
      c->pending.push_back(connection::entry{.seq = r.slot_->seq, .request_bytes = frame.size()});
      c->pending_bytes += frame.size();
    }
    handler_->handle(c->info, std::move(frame), r);
  }
  // Let responses already completed go out before closing (the peer may
  // have half-closed after its last request).
  {
    std::unique_lock lk(c->mu);
    c->reader_cv.wait_for(lk, std::chrono::milliseconds(200),
                          [&] { return c->closed || c->pending.empty(); });
    c->closed = true;
    c->writer_cv.notify_all();
  }
  s.shutdown();
  writer.join();
}

}  // namespace sluice::kafka
