#include "http/server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "http/client.h"

namespace sluice::http {
namespace {

// Echoes the method, target and body length; streams a large body for /big,
// chunks for /chunks and an endless chunked body for /endless.
class echo final : public handler {
 public:
  static inline std::atomic<int> endless_ended{0};
  void handle(exchange& ex) override {
    std::string body;
    char buf[4096];
    for (;;) {
      auto n = ex.body.read(buf, sizeof buf);
      if (!n) {
        response r;
        r.status = 400;
        (void)ex.out.send(r, n.error().message());
        return;
      }
      if (n.value() == 0) break;
      body.append(buf, n.value());
    }
    response r;
    if (ex.request.target() == "/big") {
      (void)ex.out.begin(r, 3 * 1000000);
      std::string chunk(1000000, 'b');
      for (int i = 0; i < 3; ++i) (void)ex.out.write(chunk);
      return;
    }
    if (ex.request.target() == "/small") {
      // The header waits for the body's first piece; both leave together.
      (void)ex.out.begin(r, 5);
      (void)ex.out.write("hello");
      return;
    }
    if (ex.request.target() == "/file") {
      // 300,000 bytes of a file from offset 1,000, with sendfile when the
      // connection allows it, else through write().
      std::string content(301000, '\0');
      for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 26);
      char path[] = "/tmp/sluice-http-file-XXXXXX";
      int fd = ::mkstemp(path);
      (void)!::write(fd, content.data(), content.size());
      ::unlink(path);
      (void)ex.out.begin(r, 300000);
      if (ex.out.can_write_file()) {
        (void)ex.out.write_file(fd, 1000, 300000);
      } else {
        (void)ex.out.write(std::string_view(content).substr(1000));
      }
      ::close(fd);
      return;
    }
    if (ex.request.target() == "/nobody") {
      // A handler that announces a body and then fails to write it.
      (void)ex.out.begin(r, 5);
      return;
    }
    if (ex.request.target() == "/throw") throw std::runtime_error("bug");
    if (ex.request.target() == "/inject") {
      // What a handler could be led to write from user input.
      r.headers.set(bhttp::field::content_type, "text/plain\r\nX-Injected: 1\r\n\r\nforged body");
      r.headers.set("X-Bad Name", "v");
      r.headers.set("X-Nul", std::string("a\0b", 3));
      (void)ex.out.send(r, "real body");
      return;
    }
    if (ex.request.target() == "/chunks") {
      (void)ex.out.begin_chunked(r);
      (void)ex.out.write("hello");
      (void)ex.out.write("");
      (void)ex.out.write(std::string(300, 'w'));
      (void)ex.out.finish();
      return;
    }
    if (ex.request.target() == "/endless") {
      // Writes until the client leaves or the server stops, as a watch stream does.
      (void)ex.out.begin_chunked(r);
      while (!ex.out.interrupted() && ex.out.write("tick\n")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ++endless_ended;
      return;
    }
    (void)ex.out.send(r, std::string(ex.request.method_string()) + " " + std::string(ex.request.target()) + " " +
                             std::to_string(body.size()));
  }
};

class Server : public ::testing::Test {
 protected:
  void SetUp() override {
    server_options o;
    o.address = "127.0.0.1:0";
    o.max_header_bytes = 4096;
    o.idle_timeout = std::chrono::milliseconds(2000);
    srv_ = std::make_unique<server>(o, std::make_shared<echo>());
    ASSERT_TRUE(srv_->start());
  }
  void TearDown() override { srv_->stop(); }

  client_response call(const std::string& method, const std::string& target, std::string body = {},
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
    client_request r;
    r.method = method;
    r.host = "127.0.0.1";
    r.port = srv_->port();
    r.target = target;
    r.body = std::move(body);
    r.headers = std::move(headers);
    auto res = send_request(r);
    EXPECT_TRUE(res) << res.error().message();
    return res ? res.value() : client_response{};
  }

  // Sends raw bytes and returns everything the server answers until it closes.
  std::string raw(const std::string& bytes) {
    auto s = net::stream::connect("127.0.0.1", srv_->port(), std::chrono::milliseconds(3000));
    EXPECT_TRUE(s);
    boost::system::error_code ec;
    s.value()->write_all(bytes.data(), bytes.size(), ec);
    std::string out;
    char buf[4096];
    for (;;) {
      size_t n = s.value()->read(buf, sizeof buf, ec);
      if (ec || n == 0) break;
      out.append(buf, n);
    }
    return out;
  }

  std::unique_ptr<server> srv_;
};

TEST_F(Server, EchoesRequests) {
  auto r = call("PUT", "/a/b?x=1", std::string(100000, 'x'));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "PUT /a/b?x=1 100000");
}

TEST_F(Server, StreamsLargeResponses) {
  auto r = call("GET", "/big");
  EXPECT_EQ(r.body.size(), 3000000u);
}

// begin() holds the header back until the first body piece: the answer is
// complete and the connection stays usable; a header whose body never came is
// still sent (when the handler returns), then the connection is closed.
TEST_F(Server, HeldHeadersLeaveWithTheBodyOrWhenTheHandlerReturns) {
  std::string out = raw(
      "GET /small HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t first = out.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << out;
  size_t second = out.find("HTTP/1.1 200", first + 1);
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_NE(out.substr(first, second - first).find("Content-Length: 5\r\n\r\nhello"), std::string::npos)
      << out;
  EXPECT_TRUE(out.ends_with("\r\n\r\nhello")) << out;

  out = raw("GET /nobody HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200")) << out;
  EXPECT_TRUE(out.ends_with("Content-Length: 5\r\n\r\n")) << out;  // no body, and nothing after it
}

// A body sent with sendfile from an offset of a file: the right bytes, and
// the connection stays usable.
TEST_F(Server, FileBodiesGoOutWhole) {
  std::string out =
      raw("GET /file HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const size_t body = out.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_NE(out.substr(0, body).find("Content-Length: 300000"), std::string::npos) << out.substr(0, body);
  std::string want;
  for (size_t i = 1000; i < 301000; ++i) want.push_back(static_cast<char>('a' + i % 26));
  EXPECT_EQ(out.substr(body + 4, 300000), want);
  EXPECT_TRUE(out.ends_with("\r\n\r\nhello"));
}

TEST_F(Server, ChunkedResponsesKeepTheConnection) {
  std::string out = raw(
      "GET /chunks HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Content-Length: 0"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\n\r\n5\r\nhello\r\n12c\r\n" + std::string(300, 'w') + "\r\n0\r\n\r\nHTTP/1.1 200"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("GET /after 0"), std::string::npos) << out;
  auto r = call("GET", "/chunks");
  EXPECT_EQ(r.body, "hello" + std::string(300, 'w'));
}

// Opens GET /endless and returns the connection once the first tick arrived.
std::unique_ptr<net::stream> open_endless(uint16_t port) {
  auto s = net::stream::connect("127.0.0.1", port, std::chrono::milliseconds(3000));
  if (!s) return nullptr;
  std::string req = "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n";
  boost::system::error_code ec;
  s.value()->write_all(req.data(), req.size(), ec);
  char buf[256];
  std::string out;
  while (out.find("tick\n") == std::string::npos) {
    size_t n = s.value()->read(buf, sizeof buf, ec);
    if (ec || n == 0) return nullptr;
    out.append(buf, n);
  }
  return std::move(s).value();
}

TEST_F(Server, EndlessStreamEndsWhenTheClientLeaves) {
  int before = echo::endless_ended;
  ASSERT_TRUE(open_endless(srv_->port()));  // and closed at once
  for (int i = 0; i < 200 && echo::endless_ended == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(echo::endless_ended, before + 1);
}

TEST_F(Server, StopEndsEndlessStreams) {
  int before = echo::endless_ended;
  auto s = open_endless(srv_->port());
  ASSERT_TRUE(s);
  auto t0 = std::chrono::steady_clock::now();
  srv_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(echo::endless_ended, before + 1);
}

TEST_F(Server, KeepAliveServesPipelinedRequests) {
  std::string out = raw(
      "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("GET /one 0"), std::string::npos);
  EXPECT_NE(out.find("POST /two 3"), std::string::npos);
  EXPECT_NE(out.find("GET /three 0"), std::string::npos);
}

TEST_F(Server, ChunkedRequestBodies) {
  std::string out = raw("PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  EXPECT_NE(out.find("PUT /c 11"), std::string::npos);
}

TEST_F(Server, ExpectContinue) {
  std::string out = raw("PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  EXPECT_TRUE(out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"));
  EXPECT_NE(out.find("PUT /e 2"), std::string::npos);
}

TEST_F(Server, RejectsOversizedHeadersAndGarbage) {
  std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n";
  EXPECT_TRUE(raw(big).starts_with("HTTP/1.1 431"));
  EXPECT_TRUE(raw("NOT HTTP AT ALL\r\n\r\n").starts_with("HTTP/1.1 400"));
}

TEST_F(Server, ResponseHeadersCannotCarryInjectedHeadersOrBodies) {
  EXPECT_TRUE(valid_header_name("X-Amz-Meta-Color"));
  EXPECT_FALSE(valid_header_name("X-Bad Name"));
  EXPECT_FALSE(valid_header_name("X-Colon:"));
  EXPECT_FALSE(valid_header_name(""));
  EXPECT_TRUE(valid_header_value("text/plain; charset=utf-8\tand \xc3\xa9"));
  EXPECT_FALSE(valid_header_value("a\r\nb"));
  EXPECT_FALSE(valid_header_value(std::string("a\0b", 3)));

  const std::string out = raw("GET /inject HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(out.starts_with("HTTP/1.1 200")) << out;
  const size_t end = out.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  const std::string head = out.substr(0, end);
  EXPECT_EQ(head.find("\r\nX-Injected"), std::string::npos) << head;
  EXPECT_EQ(head.find("X-Bad Name"), std::string::npos) << head;
  EXPECT_EQ(head.find('\0'), std::string::npos);
  EXPECT_NE(head.find("Content-Type: text/plain  X-Injected: 1    forged body"), std::string::npos) << head;
  EXPECT_EQ(out.substr(end + 4), "real body");
}

TEST_F(Server, ClientRefusesRequestsThatWouldInjectHeaders) {
  client_request req;
  req.host = "127.0.0.1";
  req.port = srv_->port();
  req.target = "/ok";
  req.headers = {{"Authorization", "Bearer t\r\nX-Injected: 1"}};
  auto r = send_request(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), make_error_code(errc::invalid_request));
  req.headers = {};
  req.target = "/a HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /b";
  EXPECT_FALSE(send_request(req));

  connection c("127.0.0.1", srv_->port());
  auto bad = c.request("GET", "/x", {{"X-Bad Name", "v"}}, "");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), make_error_code(errc::invalid_request));
  EXPECT_EQ(c.connects(), 0u);  // refused before connecting
  auto good = c.request("GET", "/x", {{"X-Good", "v"}}, "");
  ASSERT_TRUE(good);
  EXPECT_EQ(good.value().status, 200u);
}

TEST_F(Server, TruncatedBodyIsReportedToTheHandler) {
  // The client promises 100 bytes, sends 3 and closes its side.
  auto s = net::stream::connect("127.0.0.1", srv_->port(), std::chrono::milliseconds(3000));
  ASSERT_TRUE(s);
  std::string req = "PUT /t HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc";
  boost::system::error_code ec;
  s.value()->write_all(req.data(), req.size(), ec);
  ::shutdown(s.value()->fd(), SHUT_WR);
  std::string out;
  char buf[1024];
  for (;;) {
    size_t n = s.value()->read(buf, sizeof buf, ec);
    if (ec || n == 0) break;
    out.append(buf, n);
  }
  EXPECT_TRUE(out.starts_with("HTTP/1.1 400")) << out;
}

TEST_F(Server, HandlerBugsAnswer500AndServerSurvives) {
  auto r = call("GET", "/throw");
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(call("GET", "/after").status, 200u);
}

TEST(ServerLimits, RefusesConnectionsOverTheLimit) {
  server_options o;
  o.address = "127.0.0.1:0";
  o.max_connections = 1;
  server srv(o, std::make_shared<echo>());
  ASSERT_TRUE(srv.start());
  auto first = net::stream::connect("127.0.0.1", srv.port(), std::chrono::milliseconds(3000));
  ASSERT_TRUE(first);
  // Give the acceptor time to count the first connection.
  for (int i = 0; i < 100 && srv.open_connections() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  client_request r;
  r.host = "127.0.0.1";
  r.port = srv.port();
  auto res = send_request(r);
  ASSERT_TRUE(res);
  EXPECT_EQ(res.value().status, 503u);
  srv.stop();
}

}  // namespace
}  // namespace sluice::http

namespace sluice::http {
namespace {

// Answers without reading the body.
class early final : public handler {
 public:
  void handle(exchange& ex) override {
    response r;
    r.status = 403;
    (void)ex.out.send(r, "no");
  }
};

TEST(ServerExpect, EmptyBodyGets100BeforeTheAnswer) {
  server_options o;
  o.address = "127.0.0.1:0";
  server srv(o, std::make_shared<early>());
  ASSERT_TRUE(srv.start());
  auto s = net::stream::connect("127.0.0.1", srv.port(), std::chrono::milliseconds(3000));
  ASSERT_TRUE(s);
  std::string req = "PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n";
  boost::system::error_code ec;
  s.value()->write_all(req.data(), req.size(), ec);
  char buf[1024];
  std::string out;
  while (out.find("no") == std::string::npos) {
    size_t n = s.value()->read(buf, sizeof buf, ec);
    if (ec || n == 0) break;
    out.append(buf, n);
  }
  EXPECT_TRUE(out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403")) << out;
  EXPECT_EQ(out.find("Connection: close"), std::string::npos) << out;
  srv.stop();
}

TEST(ServerExpect, UnreadBodyClosesAndSaysSo) {
  server_options o;
  o.address = "127.0.0.1:0";
  server srv(o, std::make_shared<early>());
  ASSERT_TRUE(srv.start());
  auto s = net::stream::connect("127.0.0.1", srv.port(), std::chrono::milliseconds(3000));
  ASSERT_TRUE(s);
  std::string req = "PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
  boost::system::error_code ec;
  s.value()->write_all(req.data(), req.size(), ec);
  std::string out;
  char buf[1024];
  for (;;) {
    size_t n = s.value()->read(buf, sizeof buf, ec);
    if (ec || n == 0) break;
    out.append(buf, n);
  }
  EXPECT_TRUE(out.starts_with("HTTP/1.1 403")) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
  srv.stop();
}

}  // namespace
}  // namespace sluice::http
