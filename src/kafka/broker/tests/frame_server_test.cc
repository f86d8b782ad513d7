// frame_server on its own: responses leave in request order whoever answers
// them and when, and responses larger than the socket takes at once (sent
// partly by the answering thread, the rest by the connection's writer)
// arrive whole.
#include "kafka/broker/frame_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/wake_batch.h"
#include "net/stream.h"

namespace sluice::kafka {
namespace {

using namespace std::chrono_literals;

// Collects the requests' responders; the test answers them.
class collecting_handler final : public frame_handler {
 public:
  void handle(const connection_info&, std::string frame, responder respond) override {
    std::lock_guard lk(mu_);
    requests_.push_back({std::move(frame), std::move(respond)});
  }
  std::vector<std::pair<std::string, responder>> wait_for(size_t n) {
    for (int i = 0; i < 5000; ++i) {
      {
        std::lock_guard lk(mu_);
        if (requests_.size() >= n) return std::exchange(requests_, {});
      }
      std::this_thread::sleep_for(1ms);
    }
    ADD_FAILURE() << "requests did not arrive";
    return {};
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, responder>> requests_;
};

struct FrameServer : ::testing::Test {
  void SetUp() override {
    handler = std::make_shared<collecting_handler>();
    frame_server_options o;
    o.address = "127.0.0.1:0";
    server = std::make_unique<frame_server>(o, handler);
    ASSERT_TRUE(server->start());
    auto s = net::stream::connect("127.0.0.1", server->port(), 5s);
    ASSERT_TRUE(s);
    client = std::move(s).value();
    client->set_timeout(10s);
  }
  void TearDown() override {
    client.reset();
    server->stop();
  }

  void send_frame(const std::string& body) {
    uint32_t n = htonl(static_cast<uint32_t>(body.size()));
    std::string f(reinterpret_cast<const char*>(&n), 4);
    f += body;
    boost::system::error_code ec;
    ASSERT_TRUE(client->write_all(f.data(), f.size(), ec)) << ec.message();
  }
  std::string read_exact(size_t n) {
    std::string out(n, '\0');
    size_t have = 0;
    while (have < n) {
      boost::system::error_code ec;
      size_t k = client->read(out.data() + have, n - have, ec);
      if (ec || k == 0) {
        ADD_FAILURE() << "connection ended after " << have << " of " << n << " bytes";
        return out.substr(0, have);
      }
      have += k;
    }
    return out;
  }
  std::string read_frame() {
    std::string size = read_exact(4);
    if (size.size() != 4) return {};
    uint32_t n;
    std::memcpy(&n, size.data(), 4);
    return read_exact(ntohl(n));
  }

  std::shared_ptr<collecting_handler> handler;
  std::unique_ptr<frame_server> server;
  std::unique_ptr<net::stream> client;
};

std::string request(int i) {
  return "request-" + std::to_string(i);
}

TEST_F(FrameServer, ResponsesLeaveInRequestOrderWhateverOrderTheyAreAnsweredIn) {
  const int n = 64;
  for (int i = 0; i < n; ++i) send_frame(request(i));
  auto reqs = handler->wait_for(n);
  ASSERT_EQ(reqs.size(), static_cast<size_t>(n));
  // Answered backwards from another thread, the second half inside one
  // completion batch (as a WAL flush answers): nothing can leave before the
  // first request's answer, then everything must, in order.
  std::thread t([&] {
    {
      wake_batch batch;
      for (int i = n - 1; i >= n / 2; --i)
        reqs[static_cast<size_t>(i)].second("answer to " + reqs[static_cast<size_t>(i)].first);
    }
    for (int i = n / 2 - 1; i >= 0; --i) {
      reqs[static_cast<size_t>(i)].second("answer to " + reqs[static_cast<size_t>(i)].first);
      std::this_thread::sleep_for(100us);
    }
  });
  for (int i = 0; i < n; ++i) EXPECT_EQ(read_frame(), "answer to " + request(i));
  t.join();
}

TEST_F(FrameServer, ResponsesLargerThanTheSocketTakesArriveWhole) {
  // Small responses (sent inline by the answering thread) and large ones
  // (left to the connection's writer) mixed, ~40 MiB in all: far more than
  // the socket takes while the client reads nothing, so inline sends stop
  // part-way and the writer must send what they left first, in order.
  const int n = 400;
  for (int i = 0; i < n; ++i) send_frame(request(i));
  auto reqs = handler->wait_for(n);
  ASSERT_EQ(reqs.size(), static_cast<size_t>(n));
  std::vector<std::string> bodies;
  for (int i = 0; i < n; ++i) {
    size_t size = (i % 40 == 39 ? size_t{3} << 20 : size_t{60} << 10) + static_cast<size_t>(i);
    std::string b(size, '\0');
    for (size_t k = 0; k < b.size(); k += 1000)
      b[k] = static_cast<char>('a' + (k / 1000 + static_cast<size_t>(i)) % 26);
    bodies.push_back(std::move(b));
  }
  for (int i = 0; i < n; ++i) reqs[static_cast<size_t>(i)].second(bodies[static_cast<size_t>(i)]);
  std::this_thread::sleep_for(100ms);
  for (int i = 0; i < n; ++i) {
    std::string got = read_frame();
    ASSERT_EQ(got.size(), bodies[static_cast<size_t>(i)].size()) << "response " << i;
    ASSERT_TRUE(got == bodies[static_cast<size_t>(i)]) << "response " << i << " differs";
  }
  // And the connection still works afterwards.
  send_frame(request(999));
  auto more = handler->wait_for(1);
  ASSERT_EQ(more.size(), 1u);
  more[0].second("small");
  EXPECT_EQ(read_frame(), "small");
}

TEST_F(FrameServer, AResponseThatClosesTheConnectionGoesOutFirst) {
  send_frame(request(0));
  send_frame(request(1));
  auto reqs = handler->wait_for(2);
  ASSERT_EQ(reqs.size(), 2u);
  reqs[1].second("never sent");
  reqs[0].second("last words", true);
  EXPECT_EQ(read_frame(), "last words");
  char c;
  boost::system::error_code ec;
  EXPECT_EQ(client->read(&c, 1, ec), 0u);  // closed after it
}

}  // namespace
}  // namespace sluice::kafka
