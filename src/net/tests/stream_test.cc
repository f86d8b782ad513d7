#include "net/stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace sluice::net {
namespace {

// A connected pair of plain streams over a Unix socketpair.
std::pair<std::unique_ptr<stream>, std::unique_ptr<stream>> pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  auto a = stream::make(fds[0], nullptr, std::chrono::milliseconds(1000));
  auto b = stream::make(fds[1], nullptr, std::chrono::milliseconds(1000));
  EXPECT_TRUE(a && b);
  return {std::move(a).value(), std::move(b).value()};
}

// A thread reading from `s` into `got` until it holds `n` bytes or the stream ends.
std::thread read_into(stream& s, size_t n, std::string& got) {
  return std::thread([&s, n, &got] {
    char buf[65536];
    while (got.size() < n) {
      boost::system::error_code ec;
      size_t k = s.read(buf, sizeof buf, ec);
      if (ec || k == 0) break;
      got.append(buf, k);
    }
  });
}

TEST(Stream, GatheredWriteSendsEveryPieceInOrderThroughPartialWrites) {
  auto [w, r] = pair();
  // Many pieces (more than one sendmsg takes), empty ones among them, and far
  // more bytes than the socket buffer holds: sendmsg writes partially and the
  // write resumes in the middle of a piece.
  std::mt19937 rng(1);
  std::vector<std::string> owned;
  std::string expect;
  for (int i = 0; i < 300; ++i) {
    size_t n = i % 7 == 0 ? 0 : rng() % (i % 50 == 0 ? 300000 : 100);
    std::string p(n, '\0');
    for (auto& c : p) c = static_cast<char>(rng());
    expect += p;
    owned.push_back(std::move(p));
  }
  std::vector<std::string_view> pieces(owned.begin(), owned.end());
  std::string got;
  std::thread reader = read_into(*r, expect.size(), got);
  boost::system::error_code ec;
  EXPECT_TRUE(w->write_all(pieces, ec)) << ec.message();
  reader.join();
  EXPECT_EQ(got.size(), expect.size());
  EXPECT_TRUE(got == expect);
}

TEST(Stream, GatheredWriteToAClosedPeerFails) {
  auto [w, r] = pair();
  r.reset();
  std::string big(1 << 20, 'x');
  std::string_view pieces[] = {"abc", big};
  boost::system::error_code ec;
  EXPECT_FALSE(w->write_all(pieces, ec));
  EXPECT_TRUE(ec);
}

// A head and a file's range go out whole over TCP, and the socket is left
// uncorked: a corked socket would hold the last partial segment (and every
// later small answer on the connection) back for up to 200 ms.
TEST(Stream, SendFileSendsTheHeadThenTheRangeAndUncorks) {
  auto l = listener::bind("127.0.0.1:0");
  ASSERT_TRUE(l) << l.error().message();
  auto c = stream::connect("127.0.0.1", l.value()->port(), std::chrono::milliseconds(2000));
  ASSERT_TRUE(c) << c.error().message();
  auto fd = l.value()->accept(std::chrono::milliseconds(2000));
  ASSERT_TRUE(fd && fd.value() >= 0);
  auto w = stream::make(fd.value(), nullptr, std::chrono::milliseconds(2000));
  ASSERT_TRUE(w);

  char path[] = "/tmp/sluice-sendfile-XXXXXX";
  const int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  ::unlink(path);
  std::mt19937 rng(7);
  std::string data((3 << 20) + 1234, '\0');
  for (auto& ch : data) ch = static_cast<char>(rng());
  ASSERT_EQ(::pwrite(file, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));

  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 3146959\r\n\r\n";
  const uint64_t off = 77, len = data.size() - 77 - 100;
  const std::string expect = head + data.substr(off, len);
  std::string got;
  std::thread reader = read_into(*c.value(), expect.size(), got);
  boost::system::error_code ec;
  EXPECT_TRUE(w.value()->send_file_all(head, file, off, len, ec)) << ec.message();
  int corked = -1;
  socklen_t n = sizeof corked;
  ASSERT_EQ(::getsockopt(w.value()->fd(), IPPROTO_TCP, TCP_CORK, &corked, &n), 0);
  EXPECT_EQ(corked, 0);
  reader.join();
  EXPECT_EQ(got.size(), expect.size());
  EXPECT_TRUE(got == expect);

  // Past the file's end: eof, not a hang.
  EXPECT_FALSE(w.value()->send_file_all({}, file, data.size() - 10, 20, ec));
  EXPECT_EQ(ec, boost::asio::error::eof);
  ::close(file);
}

}  // namespace
}  // namespace sluice::net
