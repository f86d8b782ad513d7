#include "net/stream.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

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
  std::thread reader([&, rs = r.get()] {
    char buf[65536];
    while (got.size() < expect.size()) {
      boost::system::error_code ec;
      size_t k = rs->read(buf, sizeof buf, ec);
      if (ec || k == 0) break;
      got.append(buf, k);
    }
  });
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

}  // namespace
}  // namespace sluice::net
