#include "kafka/broker/frame_server.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <deque>

#include "net/stream.h"

namespace sluice::kafka {

struct frame_server::connection {
  connection_info info;
  std::unique_ptr<net::stream> s;
  std::mutex mu;
  std::condition_variable cv;  // writer: head ready / closed; reader: room for another request
  struct entry {
    uint64_t seq = 0;
    bool ready = false;
    std::optional<std::string> response;
    bool close_after = false;
  };
  std::deque<entry> pending;  // requests in order, awaiting their responses
  uint64_t next_seq = 0;
  bool closed = false;
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
  std::lock_guard lk(c->mu);
  if (c->closed || c->pending.empty()) return;
  uint64_t first = c->pending.front().seq;
  if (slot_->seq < first || slot_->seq - first >= c->pending.size()) return;
  auto& e = c->pending[slot_->seq - first];
  e.ready = true;
  e.response = std::move(response);
  e.close_after = close_after;
  c->cv.notify_all();
}

frame_server::frame_server(frame_server_options opts, std::shared_ptr<frame_handler> handler)
    : opts_(std::move(opts)), handler_(std::move(handler)) {}

frame_server::~frame_server() {
  stop();
}

result<void> frame_server::start() {
  SLUICE_TRY(listener_, net::listener::bind(opts_.address));
  port_ = listener_->port();
  acceptor_ = std::thread([this] { accept_loop(); });
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
      c->cv.notify_all();
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
    std::thread([this, c] {
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

bool read_exact(net::stream& s, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    boost::system::error_code ec;
    size_t k = s.read(buf + got, n - got, ec);
    if (ec || k == 0) return false;
    got += k;
  }
  return true;
}

}  // namespace

void frame_server::serve(std::shared_ptr<connection> c) {
  net::stream& s = *c->s;
  s.set_timeout(opts_.write_timeout);
  // The writer sends completed responses in request order.
  std::thread writer([this, c] {
    std::string out;
    for (;;) {
      connection::entry e;
      {
        std::unique_lock lk(c->mu);
        c->cv.wait(lk, [&] { return c->closed || (!c->pending.empty() && c->pending.front().ready); });
        if (c->closed) return;
        e = std::move(c->pending.front());
        c->pending.pop_front();
        c->cv.notify_all();  // room for the reader
      }
      if (e.response) {
        uint32_t n = htonl(static_cast<uint32_t>(e.response->size()));
        out.resize(4);
        std::memcpy(out.data(), &n, 4);
        out.append(*e.response);
        boost::system::error_code ec;
        if (!c->s->write_all(out.data(), out.size(), ec)) {
          spdlog::debug("{}: {}: write failed: {}", opts_.name, c->info.remote, ec.message());
          e.close_after = true;
        }
        if (out.capacity() > (1 << 20)) std::string().swap(out);
      }
      if (e.close_after) {
        std::lock_guard lk(c->mu);
        c->closed = true;
        c->cv.notify_all();
        c->s->shutdown();
        return;
      }
    }
  });
  for (;;) {
    {
      std::unique_lock lk(c->mu);
      c->cv.wait(lk, [&] { return c->closed || c->pending.size() < opts_.max_in_flight; });
      if (c->closed) break;
    }
    if (!s.wait_readable(opts_.idle_timeout)) break;  // idle, closed or failed
    char hdr[4];
    if (!read_exact(s, hdr, 4)) break;
    uint32_t n;
    std::memcpy(&n, hdr, 4);
    n = ntohl(n);
    if (n > opts_.max_frame_bytes || n < 8) {
      spdlog::warn("{}: {}: frame of {} bytes (limit {}); closing", opts_.name, c->info.remote, n,
                   opts_.max_frame_bytes);
      break;
    }
    std::string frame(n, '\0');
    if (!read_exact(s, frame.data(), n)) break;
    responder r;
    r.slot_ = std::make_shared<responder::slot>();
    r.slot_->conn = c;
    {
      std::lock_guard lk(c->mu);
      r.slot_->seq = c->next_seq++;
      c->pending.push_back(connection::entry{r.slot_->seq});
    }
    handler_->handle(c->info, std::move(frame), r);
  }
  // Let responses already completed go out before closing (the peer may
  // have half-closed after its last request).
  {
    std::unique_lock lk(c->mu);
    c->cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return c->closed || c->pending.empty(); });
    c->closed = true;
    c->cv.notify_all();
  }
  s.shutdown();
  writer.join();
}

}  // namespace sluice::kafka
