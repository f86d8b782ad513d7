#include "s3client/client.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "base/crypto.h"
#include "base/encoding.h"
#include "s3client/tests/test_servers.h"

namespace sluice::s3client {
namespace {

using testing::make_client;
using testing::pattern;
using testing::scripted_response;
using testing::scripted_server;
using testing::sluice_server;

class Client : public ::testing::Test {
 protected:
  void SetUp() override {
    c_ = make_client(srv_.config());
    ASSERT_TRUE(c_);
    ASSERT_TRUE(c_->create_bucket("bkt"));
  }

  sluice_server srv_;
  std::unique_ptr<client> c_;
};

TEST_F(Client, Buckets) {
  EXPECT_TRUE(c_->head_bucket("bkt"));
  auto missing = c_->head_bucket("nope");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(errc::no_such_bucket)) << missing.error().message();
  auto again = c_->create_bucket("bkt");
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(errc::bucket_exists)) << again.error().message();
  auto put = c_->put_object("nope", "k", "x");
  ASSERT_FALSE(put);
  EXPECT_TRUE(put.error().is(errc::no_such_bucket));
  EXPECT_NE(put.error().message().find("NoSuchBucket: "), std::string::npos) << put.error().message();
  EXPECT_NE(put.error().message().find("request id "), std::string::npos) << put.error().message();
}

TEST_F(Client, PutGetHeadDelete) {
  std::string data = pattern(300'000, 1);
  put_options po;
  po.content_type = "application/x-test";
  po.metadata = {{"color", "blue"}};
  auto etag = c_->put_object("bkt", "dir/obj", data, po);
  ASSERT_TRUE(etag) << etag.error().message();
  EXPECT_EQ(etag.value(), "\"" + to_hex(md5(data)) + "\"");

  auto got = c_->get_object("bkt", "dir/obj");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value().data, data);
  EXPECT_EQ(got.value().info.size, data.size());
  EXPECT_EQ(got.value().info.etag, etag.value());
  EXPECT_EQ(got.value().info.content_type, "application/x-test");

  auto head = c_->head_object("bkt", "dir/obj");
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head.value().size, data.size());
  ASSERT_EQ(head.value().metadata.size(), 1u);
  EXPECT_EQ(head.value().metadata[0].second, "blue");

  ASSERT_TRUE(c_->delete_object("bkt", "dir/obj"));
  auto gone = c_->get_object("bkt", "dir/obj");
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().is(errc::no_such_key)) << gone.error().message();
  auto head_gone = c_->head_object("bkt", "dir/obj");
  ASSERT_FALSE(head_gone);
  EXPECT_TRUE(head_gone.error().is(errc::no_such_key)) << head_gone.error().message();
  EXPECT_TRUE(c_->delete_object("bkt", "dir/obj"));  // missing is fine
}

TEST_F(Client, RangeReads) {
  std::string data = pattern(100'000, 2);
  ASSERT_TRUE(c_->put_object("bkt", "r", data));
  auto mid = c_->get_object("bkt", "r", byte_range{1000, 5000});
  ASSERT_TRUE(mid) << mid.error().message();
  EXPECT_EQ(mid.value().data, data.substr(1000, 5000));
  EXPECT_EQ(mid.value().info.size, data.size());  // whole object size from Content-Range
  auto tail = c_->get_object("bkt", "r", byte_range{99'000, 0});
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail.value().data, data.substr(99'000));
  auto cut = c_->get_object("bkt", "r", byte_range{99'990, 1000});
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut.value().data, data.substr(99'990));
  auto past = c_->get_object("bkt", "r", byte_range{100'000, 10});
  ASSERT_FALSE(past);
  EXPECT_TRUE(past.error().is(errc::invalid_range)) << past.error().message();
}

TEST_F(Client, OddKeysSurviveSigningAndListing) {
  std::vector<std::string> keys = {"a b",
                                   "a+b",
                                   "caf\xC3\xA9",
                                   "x/y/z",
                                   "per%cent",
                                   "tilde~",
                                   "q?u#e=ry&",
                                   "*star'(paren)!",
                                   "semi;colon,comma:"};
  for (const auto& k : keys) {
    auto r = c_->put_object("bkt", k, "v:" + k);
    ASSERT_TRUE(r) << k << ": " << r.error().message();
    auto g = c_->get_object("bkt", k);
    ASSERT_TRUE(g) << k << ": " << g.error().message();
    EXPECT_EQ(g.value().data, "v:" + k);
  }
  auto all = c_->list_all("bkt", "");
  ASSERT_TRUE(all) << all.error().message();
  std::vector<std::string> listed;
  for (const auto& e : all.value()) listed.push_back(e.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(listed, keys);
}

TEST_F(Client, ListPagingPrefixAndDelimiter) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(c_->put_object("bkt", "p/" + std::to_string(100 + i), "x"));
  ASSERT_TRUE(c_->put_object("bkt", "p/sub/a", "x"));
  ASSERT_TRUE(c_->put_object("bkt", "q", "x"));

  list_request req;
  req.prefix = "p/";
  req.max_keys = 10;
  std::vector<std::string> keys;
  int pages = 0;
  for (;;) {
    auto page = c_->list_objects_v2("bkt", req);
    ASSERT_TRUE(page) << page.error().message();
    ++pages;
    for (const auto& e : page.value().objects) keys.push_back(e.key);
    if (!page.value().truncated) break;
    req.continuation_token = page.value().next_continuation_token;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(keys.size(), 26u);
  EXPECT_EQ(keys.front(), "p/100");

  list_request d;
  d.prefix = "p/";
  d.delimiter = "/";
  auto page = c_->list_objects_v2("bkt", d);
  ASSERT_TRUE(page);
  EXPECT_EQ(page.value().objects.size(), 25u);
  EXPECT_EQ(page.value().common_prefixes, std::vector<std::string>{"p/sub/"});

  list_request after;
  after.start_after = "p/sub/a";
  auto rest = c_->list_objects_v2("bkt", after);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest.value().objects.size(), 1u);
  EXPECT_EQ(rest.value().objects[0].key, "q");

  auto all = c_->list_all("bkt", "p/");
  ASSERT_TRUE(all);
  EXPECT_EQ(all.value().size(), 26u);
  auto bounded = c_->list_all("bkt", "", 20);
  ASSERT_FALSE(bounded);
  EXPECT_TRUE(bounded.error().is(errc::response_too_large));
}

TEST_F(Client, DeleteObjects) {
  for (auto k : {"d1", "d2", "d3"}) ASSERT_TRUE(c_->put_object("bkt", k, "x"));
  auto r = c_->delete_objects("bkt", {"d1", "d2", "missing"});
  ASSERT_TRUE(r) << r.error().message();
  auto deleted = r.value().deleted;
  std::sort(deleted.begin(), deleted.end());
  EXPECT_EQ(deleted, (std::vector<std::string>{"d1", "d2", "missing"}));
  EXPECT_TRUE(r.value().errors.empty());
  auto quiet = c_->delete_objects("bkt", {"d3"}, true);
  ASSERT_TRUE(quiet);
  EXPECT_TRUE(quiet.value().deleted.empty());
  auto left = c_->list_all("bkt", "d");
  ASSERT_TRUE(left);
  EXPECT_TRUE(left.value().empty());
  std::vector<std::string> too_many(1001, "k");
  EXPECT_TRUE(c_->delete_objects("bkt", too_many).error().is(errc::invalid_argument));
}

TEST_F(Client, MultipartAndPartCopy) {
  std::string p1 = pattern(5 << 20, 3), p2 = pattern(1000, 4);
  auto id = c_->create_multipart_upload("bkt", "mp");
  ASSERT_TRUE(id) << id.error().message();
  auto e1 = c_->upload_part("bkt", "mp", id.value(), 1, p1);
  ASSERT_TRUE(e1) << e1.error().message();
  auto e2 = c_->upload_part("bkt", "mp", id.value(), 2, p2);
  ASSERT_TRUE(e2) << e2.error().message();
  auto done = c_->complete_multipart_upload("bkt", "mp", id.value(), {{1, e1.value()}, {2, e2.value()}});
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_NE(done.value().find("-2"), std::string::npos) << done.value();
  auto got = c_->get_object("bkt", "mp");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got.value().data == p1 + p2);

  // A second object from the first: the whole object as part 1, a range of it as part 2.
  auto id2 = c_->create_multipart_upload("bkt", "copy");
  ASSERT_TRUE(id2);
  auto c1 = c_->upload_part_copy("bkt", "copy", id2.value(), 1, "bkt", "mp");
  ASSERT_TRUE(c1) << c1.error().message();
  auto c2 = c_->upload_part_copy("bkt", "copy", id2.value(), 2, "bkt", "mp", byte_range{10, 100});
  ASSERT_TRUE(c2) << c2.error().message();
  ASSERT_TRUE(c_->complete_multipart_upload("bkt", "copy", id2.value(), {{1, c1.value()}, {2, c2.value()}}));
  auto copy = c_->get_object("bkt", "copy");
  ASSERT_TRUE(copy);
  EXPECT_TRUE(copy.value().data == p1 + p2 + (p1 + p2).substr(10, 100));

  // Errors: a part below the minimum size, an unknown upload, an aborted upload.
  auto id3 = c_->create_multipart_upload("bkt", "small");
  ASSERT_TRUE(id3);
  auto s1 = c_->upload_part("bkt", "small", id3.value(), 1, "tiny");
  auto s2 = c_->upload_part("bkt", "small", id3.value(), 2, "tiny");
  ASSERT_TRUE(s1 && s2);
  auto small = c_->complete_multipart_upload("bkt", "small", id3.value(), {{1, s1.value()}, {2, s2.value()}});
  ASSERT_FALSE(small);
  EXPECT_TRUE(small.error().is(errc::request_rejected));
  EXPECT_NE(small.error().message().find("EntityTooSmall"), std::string::npos) << small.error().message();
  ASSERT_TRUE(c_->abort_multipart_upload("bkt", "small", id3.value()));
  auto after_abort = c_->upload_part("bkt", "small", id3.value(), 3, "x");
  ASSERT_FALSE(after_abort);
  EXPECT_TRUE(after_abort.error().is(errc::no_such_upload)) << after_abort.error().message();
  EXPECT_TRUE(c_->upload_part("bkt", "small", id3.value(), 0, "x").error().is(errc::invalid_argument));
  EXPECT_TRUE(c_->upload_part("bkt", "small", id3.value(), 10001, "x").error().is(errc::invalid_argument));
}

TEST_F(Client, WrongSecretIsNotRetried) {
  auto cfg = srv_.config();
  cfg.secret_key = "wrong-secret-0000";
  auto bad = make_client(cfg);
  auto r = bad->put_object("bkt", "k", "x");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::invalid_credentials)) << r.error().message();
  EXPECT_NE(r.error().message().find("SignatureDoesNotMatch"), std::string::npos);
  EXPECT_EQ(bad->stats().attempts, 1u);
  cfg.access_key = "unknown-key";
  auto unknown = make_client(cfg)->head_bucket("bkt");
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(unknown.error().is(errc::access_denied) || unknown.error().is(errc::invalid_credentials))
      << unknown.error().message();
}

TEST_F(Client, KeepAliveReusesOneConnection) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c_->put_object("bkt", "ka", std::to_string(i)));
    ASSERT_TRUE(c_->get_object("bkt", "ka"));
  }
  EXPECT_EQ(c_->stats().connects, 1u);
  EXPECT_EQ(c_->stats().retries, 0u);
}

TEST_F(Client, ConcurrentCallersShareABoundedPool) {
  auto cfg = srv_.config();
  cfg.max_connections = 3;
  auto c = make_client(cfg);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        std::string data = pattern(1000 + i * 100, t * 100 + i);
        if (!c->put_object("bkt", key, data)) ++failures;
        auto g = c->get_object("bkt", key);
        if (!g || g.value().data != data) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(c->stats().connects, 3u);
  EXPECT_EQ(c->stats().calls, 8u * 15 * 2);
}

TEST(ClientVirtualHost, BucketInTheHostName) {
  sluice_server srv("localhost");
  auto cfg = srv.config();
  cfg.host = "localhost";
  cfg.connect_address = "127.0.0.1";  // bucket.localhost does not resolve here
  cfg.path_style = false;
  auto c = make_client(cfg);
  ASSERT_TRUE(c->create_bucket("vbkt"));
  ASSERT_TRUE(c->put_object("vbkt", "a b/c", "hello"));
  auto g = c->get_object("vbkt", "a b/c", byte_range{1, 3});
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g.value().data, "ell");
  auto l = c->list_all("vbkt", "");
  ASSERT_TRUE(l);
  ASSERT_EQ(l.value().size(), 1u);
  EXPECT_EQ(l.value()[0].key, "a b/c");
  ASSERT_TRUE(c->delete_objects("vbkt", {"a b/c"}));
  // Virtual-host style cannot work with an IP address as the endpoint.
  cfg.host = "127.0.0.1";
  auto bad = client::make(cfg);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(errc::invalid_argument));
}

TEST(ClientTls, VerifiedAndUnverified) {
  ::signal(SIGPIPE, SIG_IGN);  // as the server and CLI do (client.h)
  sluice_server srv({}, true);
  auto cfg = srv.config();
  cfg.https = true;
  cfg.retry = retry_policy::none();

  cfg.verify_tls = false;
  auto insecure = make_client(cfg);
  ASSERT_TRUE(insecure->create_bucket("tls")) << "https without verification";
  ASSERT_TRUE(insecure->put_object("tls", "k", pattern(200'000, 5)));

  cfg.verify_tls = true;
  cfg.ca_file = srv.cert_file();
  auto verified = make_client(cfg);
  auto g = verified->get_object("tls", "k");
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g.value().data, pattern(200'000, 5));
  EXPECT_EQ(verified->endpoint(), "https://127.0.0.1:" + std::to_string(srv.port()));

  cfg.ca_file.clear();  // the system store does not trust the self-signed certificate
  auto untrusted = make_client(cfg)->head_bucket("tls");
  ASSERT_FALSE(untrusted);
  EXPECT_TRUE(untrusted.error().is(errc::tls)) << untrusted.error().message();
  EXPECT_NE(untrusted.error().message().find("certificate verify failed"), std::string::npos)
      << untrusted.error().message();

  cfg.https = false;  // plain HTTP to a TLS port
  auto plain = make_client(cfg)->head_bucket("tls");
  ASSERT_FALSE(plain);
}

// ------------------------------------------------------------------ scripted server

const char* kSlowDown =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your "
    "request "
    "rate.</Message><RequestId>R1</RequestId></Error>";

TEST(ClientRetry, RetriesTwo503sThenSucceeds) {
  scripted_server fake;
  fake.push({503, ""});
  fake.push({503, kSlowDown});
  fake.push({200, "", {{"ETag", "\"abc\""}}});
  auto c = make_client(fake.config());
  auto r = c->put_object("b", "k", "data");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value(), "\"abc\"");
  EXPECT_EQ(c->stats().attempts, 3u);
  EXPECT_EQ(c->stats().retries, 2u);
  EXPECT_EQ(fake.received().size(), 3u);
  for (const auto& req : fake.received()) EXPECT_EQ(req.body, "data");
}

TEST(ClientRetry, GivesUpAfterMaxAttempts) {
  scripted_server fake;
  for (int i = 0; i < 10; ++i)
    fake.push({500, "<Error><Code>InternalError</Code><Message>boom</Message></Error>"});
  auto cfg = fake.config();
  cfg.retry.max_attempts = 4;
  auto c = make_client(cfg);
  auto r = c->get_object("b", "k");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::unavailable));
  EXPECT_NE(r.error().message().find("InternalError: boom"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("gave up after 4 attempts"), std::string::npos) << r.error().message();
  EXPECT_EQ(fake.received().size(), 4u);
}

TEST(ClientRetry, NoRetryModeAndClientErrors) {
  scripted_server fake;
  fake.push({503, kSlowDown});
  auto cfg = fake.config();
  cfg.retry = retry_policy::none();
  auto c = make_client(cfg);
  auto r = c->head_bucket("b");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::slow_down) || r.error().is(errc::unavailable)) << r.error().message();
  EXPECT_EQ(fake.received().size(), 1u);

  auto retrying = make_client(fake.config());
  fake.push({404, "<Error><Code>NoSuchKey</Code><Message>nope</Message></Error>"});
  auto nf = retrying->get_object("b", "k");
  ASSERT_FALSE(nf);
  EXPECT_TRUE(nf.error().is(errc::no_such_key));
  EXPECT_EQ(retrying->stats().attempts, 1u);
}

TEST(ClientRetry, ErrorInsideA200IsRetried) {
  scripted_server fake;
  fake.push(
      {200, "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code><Message>later</Message></Error>"});
  fake.push({200, "<CompleteMultipartUploadResult><ETag>\"final-2\"</ETag></CompleteMultipartUploadResult>"});
  auto c = make_client(fake.config());
  auto r = c->complete_multipart_upload("b", "k", "up1", {{1, "\"e1\""}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value(), "\"final-2\"");
  EXPECT_EQ(c->stats().retries, 1u);
}

TEST(ClientRetry, ConnectionRefusedIsRetriedUnknownHostIsNot) {
  uint16_t port = 0;
  {
    scripted_server gone;  // bind a port, then free it
    port = gone.port();
  }
  client_config cfg;
  cfg.host = "127.0.0.1";
  cfg.port = port;
  cfg.access_key = "AK";
  cfg.secret_key = "SK";
  cfg.retry = {3, std::chrono::milliseconds(1), std::chrono::milliseconds(2)};
  auto c = make_client(cfg);
  auto r = c->head_bucket("b");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::connection_refused)) << r.error().message();
  EXPECT_EQ(c->stats().attempts, 3u);

  cfg.host = "no-such-host.invalid";
  auto u = make_client(cfg);
  auto ur = u->head_bucket("b");
  ASSERT_FALSE(ur);
  EXPECT_TRUE(ur.error().is(errc::unknown_host)) << ur.error().message();
  EXPECT_EQ(u->stats().attempts, 1u);
}

TEST(ClientRetry, SlowServerTimesOut) {
  scripted_server fake;
  fake.push({200, "late", {}, std::chrono::milliseconds(1500)});
  auto cfg = fake.config();
  cfg.io_timeout = std::chrono::milliseconds(200);
  cfg.retry = retry_policy::none();
  auto c = make_client(cfg);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->get_object("b", "k");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::timeout)) << r.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1400));
}

TEST(ClientRetry, ResponseSizeIsBounded) {
  scripted_server fake;
  fake.push({200, std::string(5000, 'x')});
  auto cfg = fake.config();
  cfg.max_response_bytes = 1000;
  auto c = make_client(cfg);
  auto r = c->get_object("b", "k");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::response_too_large)) << r.error().message();
}

TEST(ClientRetry, ReconnectsAfterTheServerClosedAnIdleConnection) {
  scripted_server fake(std::chrono::milliseconds(100));
  auto c = make_client(fake.config());
  ASSERT_TRUE(c->head_bucket("b"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the server drops the idle connection
  ASSERT_TRUE(c->head_bucket("b"));
  EXPECT_EQ(c->stats().connects, 2u);
  EXPECT_EQ(c->stats().retries, 0u);
}

TEST(ClientWire, RequestShapeAndSignature) {
  scripted_server fake;
  auto c = make_client(fake.config());
  ASSERT_TRUE(c->put_object("bkt", "a b/c+d", "payload"));
  fake.push({200, "<DeleteResult><Deleted><Key>x</Key></Deleted></DeleteResult>"});
  ASSERT_TRUE(c->delete_objects("bkt", {"x"}));
  fake.push({200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"});
  list_request lr;
  lr.prefix = "p q/";
  ASSERT_TRUE(c->list_objects_v2("bkt", lr));
  auto seen = fake.received();
  ASSERT_EQ(seen.size(), 3u);

  const auto& put = seen[0];
  EXPECT_EQ(put.method, "PUT");
  EXPECT_EQ(put.target, "/bkt/a%20b/c%2Bd");
  EXPECT_EQ(put.headers.at("host"), "127.0.0.1:" + std::to_string(fake.port()));
  EXPECT_EQ(put.headers.at("x-amz-content-sha256"), sha256_hex("payload"));
  const std::string& auth = put.headers.at("authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AK/")) << auth;
  EXPECT_NE(
      auth.find("/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="),
      std::string::npos)
      << auth;

  const auto& del = seen[1];
  EXPECT_EQ(del.method, "POST");
  EXPECT_EQ(del.target, "/bkt?delete");
  EXPECT_EQ(del.headers.at("content-md5"), base64_encode(md5(del.body)));
  EXPECT_NE(del.headers.at("authorization").find("SignedHeaders=content-md5;content-type;host;"),
            std::string::npos);

  EXPECT_EQ(seen[2].target, "/bkt?list-type=2&encoding-type=url&max-keys=1000&prefix=p%20q%2F");
}

TEST(ClientConfig, RejectsUnusableConfigurations) {
  client_config c;
  EXPECT_TRUE(client::make(c).error().is(errc::invalid_argument));  // no host
  c.host = "http://h";
  c.access_key = "a";
  c.secret_key = "b";
  EXPECT_TRUE(client::make(c).error().is(errc::invalid_argument));  // scheme in host
  c.host = "h";
  c.retry.max_attempts = 0;
  EXPECT_TRUE(client::make(c).error().is(errc::invalid_argument));
  c.retry.max_attempts = 3;
  c.https = true;
  c.ca_file = "/nonexistent/ca.pem";
  EXPECT_TRUE(client::make(c).error().is(errc::invalid_argument));
  c.ca_file.clear();
  auto ok = client::make(c);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value()->endpoint(), "https://h");
  EXPECT_TRUE(ok.value()->put_object("b", "", "x").error().is(errc::invalid_argument));
  EXPECT_TRUE(ok.value()->put_object("", "k", "x").error().is(errc::invalid_argument));
  EXPECT_TRUE(ok.value()->put_object("b", std::string(1025, 'k'), "x").error().is(errc::invalid_argument));
}

}  // namespace
}  // namespace sluice::s3client
