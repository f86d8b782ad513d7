// The S3 front end's side of bucket notifications, against a recording sink:
// which request raises which event with which fields, admit/publish failures,
// the notification configuration subresource and the watch stream.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>

#include "base/crypto.h"
#include "base/encoding.h"
#include "events/sink.h"
#include "http/client.h"
#include "http/server.h"
#include "iam/iam.h"
#include "objstore/local_store.h"
#include "s3/auth/sigv4.h"
#include "s3/service.h"

namespace sluice::s3 {
namespace {

constexpr const char* kRoot = "events-root";
constexpr const char* kRootSecret = "events-root-secret";

class fake_subscription final : public events::subscription {
 public:
  struct feed {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<item> items;
  };
  explicit fake_subscription(std::shared_ptr<feed> f) : feed_(std::move(f)) {}
  item next(std::chrono::milliseconds wait) override {
    std::unique_lock lock(feed_->mu);
    feed_->cv.wait_for(lock, wait, [&] { return !feed_->items.empty(); });
    if (feed_->items.empty()) return {};
    item i = feed_->items.front();
    feed_->items.pop_front();
    return i;
  }

 private:
  std::shared_ptr<feed> feed_;
};

// Records what the S3 front end asks of it; failures are injected.
class recording_sink final : public events::sink {
 public:
  result<void> admit(const std::string& bucket) override {
    std::lock_guard lock(mu);
    admitted.push_back(bucket);
    if (admit_error) return fail(*admit_error);
    return ok();
  }
  result<void> publish(std::span<const events::event_args> evs) override {
    std::lock_guard lock(mu);
    if (publish_error) return fail(*publish_error);
    batches.push_back(evs.size());
    published.insert(published.end(), evs.begin(), evs.end());
    return ok();
  }
  result<std::unique_ptr<events::prepared_events>> prepare(std::vector<events::event_args> evs) override {
    // Recorded as published when committed, so tests see one path.
    class handle final : public events::prepared_events {
     public:
      handle(recording_sink& s, std::vector<events::event_args> e) : s_(s), e_(std::move(e)) {}
      result<void> commit() override { return s_.publish(e_); }

     private:
      recording_sink& s_;
      std::vector<events::event_args> e_;
    };
    return std::unique_ptr<events::prepared_events>(std::make_unique<handle>(*this, std::move(evs)));
  }
  bool wants(const std::string&, std::string_view) override { return wanted; }
  result<std::string> validate_rules(std::string_view xml) override {
    auto known = [](const events::arn& a) { return a.id == "1" && a.type == "sluice"; };
    SLUICE_TRY(auto set, events::rule_set::parse(xml, known, "us-east-1"));
    return set.to_xml();
  }
  void rules_changed(const std::string& bucket) override {
    std::lock_guard lock(mu);
    changed.push_back(bucket);
  }
  std::unique_ptr<events::subscription> subscribe(const events::watch_filter& f) override {
    std::lock_guard lock(mu);
    filters.push_back(f);
    return std::make_unique<fake_subscription>(feed);
  }
  std::vector<events::target_status> targets() override { return {}; }
  result<std::vector<events::config_section>> get_config(std::string_view) override {
    return std::vector<events::config_section>{};
  }
  result<void> set_config(const events::config_section&) override { return ok(); }
  result<void> reset_config(std::string_view) override { return ok(); }

  std::vector<std::string> names() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& e : published) out.push_back(e.name + " " + e.key);
    return out;
  }

  std::mutex mu;
  std::vector<std::string> admitted, changed;
  std::vector<events::event_args> published;
  std::vector<size_t> batches;
  std::vector<events::watch_filter> filters;
  std::optional<events::errc> admit_error, publish_error;
  bool wanted = true;
  std::shared_ptr<fake_subscription::feed> feed = std::make_shared<fake_subscription::feed>();
};

class S3Events : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("sluice-s3-events-" + random_token(8));
    auto store = objstore::open_local_store({(root_ / "drive").string()});
    ASSERT_TRUE(store) << store.error().message();
    store_ = std::move(store).value();
    auto users =
        iam::store::open((root_ / "iam").string(), {kRoot, kRootSecret, false}, {{"alice", "alice-secret"}});
    ASSERT_TRUE(users) << users.error().message();
    users_ = std::move(users).value();
    http::server_options ho;
    ho.address = "127.0.0.1:0";
    service_options so;
    so.deployment_id = "deployment-1";
    server_ = std::make_unique<http::server>(ho, make_service(so, *store_, *users_, &sink_));
    ASSERT_TRUE(server_->start());
    auto made = call("PUT", "/bkt");
    ASSERT_EQ(made.status, 200u) << made.body;
    sink_.published.clear();
    sink_.admitted.clear();
    sink_.batches.clear();
  }
  void TearDown() override {
    server_->stop();
    std::filesystem::remove_all(root_);
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  // Signed headers for a request of `user` (root by default).
  std::vector<std::pair<std::string, std::string>> signed_headers(
      const std::string& method, const std::string& path, const std::string& query, const std::string& body,
      std::vector<std::pair<std::string, std::string>> headers, const std::string& user = kRoot) {
    headers.emplace_back("host", host());
    auth::sign_input in{
        method, path, query, headers, sha256_hex(body), user, user == kRoot ? kRootSecret : "alice-secret"};
    in.now = std::chrono::system_clock::now();
    for (auto& h : auth::sign(in)) headers.push_back(std::move(h));
    headers.emplace_back("user-agent", "events-test/1.0");
    return headers;
  }

  http::client_response call(const std::string& method, const std::string& path,
                             const std::string& query = {}, const std::string& body = {},
                             std::vector<std::pair<std::string, std::string>> headers = {},
                             const std::string& user = kRoot) {
    http::client_request r;
    r.method = method;
    r.host = "127.0.0.1";
    r.port = server_->port();
    r.target = path + (query.empty() ? "" : "?" + query);
    r.headers = signed_headers(method, path, query, body, std::move(headers), user);
    r.body = body;
    auto res = http::send_request(r);
    EXPECT_TRUE(res) << res.error().message();
    return res ? res.value() : http::client_response{};
  }

  static std::string header(const http::client_response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (boost::beast::iequals(k, name)) return v;
    }
    return {};
  }

  std::filesystem::path root_;
  std::unique_ptr<objstore::object_layer> store_;
  std::unique_ptr<iam::store> users_;
  recording_sink sink_;
  std::unique_ptr<http::server> server_;
};

TEST_F(S3Events, PutObjectEventCarriesObjectAndRequestFields) {
  auto r = call("PUT", "/bkt/photos/rose%20red.jpg", "", "rose!",
                {{"content-type", "image/jpeg"}, {"x-amz-meta-color-name", "red"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(sink_.admitted, std::vector<std::string>{"bkt"});
  ASSERT_EQ(sink_.published.size(), 1u);
  const auto& e = sink_.published[0];
  EXPECT_EQ(e.name, "s3:ObjectCreated:Put");
  EXPECT_EQ(e.bucket, "bkt");
  EXPECT_EQ(e.key, "photos/rose red.jpg");
  EXPECT_EQ(e.size, 5u);
  EXPECT_EQ("\"" + e.etag + "\"", header(r, "etag"));
  EXPECT_EQ(e.content_type, "image/jpeg");
  EXPECT_EQ(e.user_metadata, (std::map<std::string, std::string>{{"X-Amz-Meta-Color-Name", "red"},
                                                                 {"content-type", "image/jpeg"}}));
  EXPECT_TRUE(e.mod_time.has_value());
  EXPECT_EQ(e.region, "us-east-1");
  EXPECT_EQ(e.principal_id, kRoot);
  EXPECT_EQ(e.source_ip, "127.0.0.1");
  EXPECT_EQ(e.user_agent, "events-test/1.0");
  EXPECT_EQ(e.request_id, header(r, "x-amz-request-id"));
  EXPECT_EQ(e.deployment_id, "deployment-1");
  EXPECT_EQ(e.origin_endpoint, "http://" + host());
  EXPECT_EQ(e.range, "");
  EXPECT_FALSE(e.content_length);
}

TEST_F(S3Events, RefusedAdmitChangesNothing) {
  sink_.admit_error = events::errc::outbox_full;
  auto r = call("PUT", "/bkt/k", "", "x");
  EXPECT_EQ(r.status, 503u);
  EXPECT_NE(r.body.find("<Code>SlowDown</Code>"), std::string::npos) << r.body;
  sink_.admit_error.reset();
  EXPECT_EQ(call("HEAD", "/bkt/k").status, 404u);
  EXPECT_TRUE(sink_.published.empty());
}

TEST_F(S3Events, FailedPublishFailsTheRequest) {
  sink_.publish_error = events::errc::io_error;
  auto r = call("PUT", "/bkt/k", "", "x");
  EXPECT_EQ(r.status, 500u);
  EXPECT_NE(r.body.find("<Code>InternalError</Code>"), std::string::npos) << r.body;
  sink_.publish_error = events::errc::closed;
  EXPECT_EQ(call("DELETE", "/bkt/k").status, 503u);
}

TEST_F(S3Events, EveryOperationRaisesItsEvent) {
  ASSERT_EQ(call("PUT", "/bkt/k1", "", "0123456789").status, 200u);
  auto get = call("GET", "/bkt/k1", "", "", {{"range", "bytes=2-4"}});
  ASSERT_EQ(get.status, 206u);
  ASSERT_EQ(call("HEAD", "/bkt/k1").status, 200u);
  ASSERT_EQ(call("PUT", "/bkt/k2", "", "", {{"x-amz-copy-source", "/bkt/k1"}}).status, 200u);
  const std::string tagging = "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>";
  ASSERT_EQ(call("PUT", "/bkt/k1", "tagging=", tagging).status, 200u);
  ASSERT_EQ(call("DELETE", "/bkt/k1", "tagging=").status, 204u);
  auto init = call("POST", "/bkt/mp", "uploads=");
  auto id_at = init.body.find("<UploadId>");
  std::string id = init.body.substr(id_at + 10, init.body.find("</UploadId>") - id_at - 10);
  auto part = call("PUT", "/bkt/mp", "partNumber=1&uploadId=" + uri_encode(id), "part");
  ASSERT_EQ(part.status, 200u);
  ASSERT_EQ(call("POST", "/bkt/mp", "uploadId=" + uri_encode(id),
                 "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + header(part, "etag") +
                     "</ETag></Part></CompleteMultipartUpload>")
                .status,
            200u);
  ASSERT_EQ(call("GET", "/bkt", "list-type=2").status, 200u);
  ASSERT_EQ(call("DELETE", "/bkt/k1").status, 204u);
  ASSERT_EQ(call("DELETE", "/bkt/never-there").status, 204u);
  std::string del =
      "<Delete><Quiet>true</Quiet><Object><Key>k2</Key></Object><Object><Key>mp</Key></Object>"
      "<Object><Key>gone</Key></Object></Delete>";
  ASSERT_EQ(call("POST", "/bkt", "delete=", del, {{"content-md5", base64_encode(md5(del))}}).status, 200u);

  EXPECT_EQ(sink_.names(),
            (std::vector<std::string>{
                "s3:ObjectCreated:Put k1", "s3:ObjectAccessed:Get k1", "s3:ObjectAccessed:Head k1",
                "s3:ObjectCreated:Copy k2", "s3:ObjectCreated:PutTagging k1",
                "s3:ObjectCreated:DeleteTagging k1", "s3:ObjectCreated:CompleteMultipartUpload mp",
                "s3:ObjectRemoved:Delete k1", "s3:ObjectRemoved:NoOP never-there",
                "s3:ObjectRemoved:Delete k2", "s3:ObjectRemoved:Delete mp", "s3:ObjectRemoved:Delete gone"}));
  const auto& g = sink_.published[1];
  EXPECT_EQ(g.range, "bytes=2-4");
  EXPECT_EQ(g.content_length, 3u);
  EXPECT_EQ(g.size, 10u);
  EXPECT_EQ(sink_.published[2].content_length, 10u);
  EXPECT_TRUE(sink_.published[6].etag.ends_with("-1"));
  // The multi-delete's events go out together, once.
  EXPECT_EQ(sink_.batches.back(), 3u);
  // Reads, copies and the multipart steps before completion do not ask for admission; writes do.
  EXPECT_EQ(sink_.admitted.size(), 8u);
}

TEST_F(S3Events, ReadsAreSkippedWhenNobodyListens) {
  ASSERT_EQ(call("PUT", "/bkt/k", "", "x").status, 200u);
  sink_.wanted = false;
  ASSERT_EQ(call("GET", "/bkt/k").status, 200u);
  ASSERT_EQ(call("HEAD", "/bkt/k").status, 200u);
  EXPECT_EQ(sink_.names(), std::vector<std::string>{"s3:ObjectCreated:Put k"});
}

TEST_F(S3Events, NotModifiedRaisesNothing) {
  auto put = call("PUT", "/bkt/k", "", "x");
  ASSERT_EQ(call("GET", "/bkt/k", "", "", {{"if-none-match", header(put, "etag")}}).status, 304u);
  EXPECT_EQ(sink_.published.size(), 1u);
}

TEST_F(S3Events, BucketEventsAndRulesChanged) {
  ASSERT_EQ(call("PUT", "/cbkt").status, 200u);
  ASSERT_EQ(call("DELETE", "/cbkt").status, 204u);
  EXPECT_EQ(sink_.names(), (std::vector<std::string>{"s3:BucketCreated:* ", "s3:BucketRemoved:* "}));
  EXPECT_EQ(sink_.published.back().bucket, "cbkt");
  EXPECT_EQ(sink_.changed, std::vector<std::string>{"cbkt"});
}

TEST_F(S3Events, NotificationConfiguration) {
  const std::string ns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
  auto empty = call("GET", "/bkt", "notification=");
  EXPECT_EQ(empty.status, 200u);
  EXPECT_NE(empty.body.find("<NotificationConfiguration " + ns + "></NotificationConfiguration>"),
            std::string::npos)
      << empty.body;

  std::string doc =
      "<NotificationConfiguration><QueueConfiguration><Id>jpg</Id><Event>s3:ObjectCreated:*</Event>"
      "<Filter><S3Key><FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter>"
      "<Queue>arn:minio:sqs::1:sluice</Queue></QueueConfiguration></NotificationConfiguration>";
  auto put = call("PUT", "/bkt", "notification=", doc);
  EXPECT_EQ(put.status, 200u) << put.body;
  EXPECT_EQ(put.body, "");
  EXPECT_EQ(sink_.changed, std::vector<std::string>{"bkt"});
  auto got = call("GET", "/bkt", "notification=");
  EXPECT_EQ(got.body,
            "<NotificationConfiguration " + ns +
                "><QueueConfiguration><Id>jpg</Id><Filter><S3Key><FilterRule><Name>suffix</Name>"
                "<Value>.jpg</Value></FilterRule></S3Key></Filter><Event>s3:ObjectCreated:*</Event>"
                "<Queue>arn:minio:sqs::1:sluice</Queue></QueueConfiguration></NotificationConfiguration>");

  auto bad = call("PUT", "/bkt", "notification=",
                  "<NotificationConfiguration><QueueConfiguration><Event>s3:ObjectCreated:*</Event>"
                  "<Queue>arn:minio:sqs::2:sluice</Queue></QueueConfiguration></NotificationConfiguration>");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_NE(bad.body.find("<Code>InvalidArgument</Code><Message>A specified destination ARN does not exist"),
            std::string::npos)
      << bad.body;
  EXPECT_EQ(call("GET", "/bkt", "notification=").body, got.body);  // unchanged

  EXPECT_EQ(call("PUT", "/bkt", "notification=", "<NotificationConfiguration/>").status, 200u);
  EXPECT_EQ(call("GET", "/bkt", "notification=").body,
            "<NotificationConfiguration " + ns + "></NotificationConfiguration>");
  EXPECT_EQ(call("PUT", "/bkt", "notification=", doc, {}, "alice").status, 403u);
}

// Reads a chunked watch stream from a raw socket.
class watch_client {
 public:
  watch_client(uint16_t port, const std::vector<std::pair<std::string, std::string>>& headers,
               const std::string& target) {
    auto s = net::stream::connect("127.0.0.1", port, std::chrono::milliseconds(3000));
    EXPECT_TRUE(s);
    s_ = std::move(s).value();
    s_->set_timeout(std::chrono::milliseconds(5000));
    std::string req = "GET " + target + " HTTP/1.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "\r\n";
    boost::system::error_code ec;
    s_->write_all(req.data(), req.size(), ec);
  }
  // Reads until `text` arrived (or the stream ended); returns everything so far.
  const std::string& until(std::string_view text) {
    char buf[4096];
    while (got_.find(text) == std::string::npos) {
      boost::system::error_code ec;
      size_t n = s_->read(buf, sizeof buf, ec);
      if (ec || n == 0) break;
      got_.append(buf, n);
    }
    return got_;
  }

 private:
  std::unique_ptr<net::stream> s_;
  std::string got_;
};

TEST_F(S3Events, WatchStreamsLinesAndEndsOnOverflow) {
  std::string query = "events=s3%3AObjectCreated%3A%2A&events=s3%3AObjectRemoved%3ADelete&ping=1&prefix=p%2F";
  watch_client w(server_->port(), signed_headers("GET", "/bkt", query, "", {}), "/bkt?" + query);
  const std::string& head = w.until("{\"Records\":null}\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Cache-Control: no-cache\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Accel-Buffering: no\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << head;
  {
    std::lock_guard lock(sink_.mu);
    ASSERT_EQ(sink_.filters.size(), 1u);
    const auto& f = sink_.filters[0];
    EXPECT_EQ(f.bucket, "bkt");
    EXPECT_EQ(f.prefix, "p/");
    EXPECT_EQ(f.suffix, "");
    EXPECT_EQ(events::event_names(f.events).size(), 9u);
  }
  {
    std::lock_guard lock(sink_.feed->mu);
    sink_.feed->items.push_back({std::string("{\"Records\":[1]}"), false});
    sink_.feed->items.push_back({std::nullopt, true});
  }
  sink_.feed->cv.notify_all();
  const std::string& all = w.until("\r\n0\r\n\r\n");
  EXPECT_NE(all.find("\r\n10\r\n{\"Records\":[1]}\n\r\n0\r\n\r\n"), std::string::npos) << all;
}

TEST_F(S3Events, WatchQueriesAreChecked) {
  EXPECT_EQ(call("GET", "/bkt", "events=s3%3ANo&ping=1").status, 400u);
  EXPECT_EQ(call("GET", "/bkt", "events=s3%3AObjectCreated%3A%2A&prefix=a&prefix=b").status, 400u);
  EXPECT_EQ(call("GET", "/bkt", "events=s3%3AObjectCreated%3A%2A&ping=0").status, 400u);
  EXPECT_EQ(call("GET", "/bkt", "events=s3%3AObjectCreated%3A%2A", "", {}, "alice").status, 403u);
  EXPECT_EQ(call("GET", "/", "events=s3%3ABucketCreated%3A%2A", "", {}, "alice").status, 403u);
  EXPECT_EQ(call("GET", "/nob", "events=s3%3AObjectCreated%3A%2A").status, 404u);
}

}  // namespace
}  // namespace sluice::s3
