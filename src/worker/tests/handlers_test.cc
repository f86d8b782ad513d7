// The image-resize and exec handlers against Sluice's own S3 front end
// (in-process, loopback), fed MinIO-format events built here.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "base/encoding.h"
#include "s3client/tests/test_servers.h"
#include "worker/errc.h"
#include "worker/exec.h"
#include "worker/image_resize.h"
#include "worker/tests/images.h"

namespace sluice::worker {
namespace {

using s3client::testing::sluice_server;
using worker::testing::make_image;

// A MinIO Kafka message for one record.
message event_message(const std::string& name, const std::string& bucket, const std::string& key,
                      const std::string& etag = {}, boost::json::object user_metadata = {}) {
  boost::json::object object{{"key", query_escape(key)}, {"eTag", etag}, {"sequencer", "18A3F2C4B5D6E7F8"}};
  if (!user_metadata.empty()) object["userMetadata"] = user_metadata;
  boost::json::object rec{
      {"eventVersion", "2.0"},
      {"eventSource", "minio:s3"},
      {"eventTime", format_iso8601(std::chrono::system_clock::now())},
      {"eventName", name},
      {"s3", boost::json::object{{"bucket", boost::json::object{{"name", bucket}}}, {"object", object}}}};
  boost::json::object env{
      {"EventName", name}, {"Key", bucket + "/" + key}, {"Records", boost::json::array{rec}}};
  message m;
  m.topic = "bucket-events";
  m.key = bucket + "/" + key;
  m.value = boost::json::serialize(env);
  return m;
}

class Handlers : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(image::init());
    s3_ = std::shared_ptr<s3client::client>(s3client::testing::make_client(srv_.config()));
    ASSERT_TRUE(s3_->create_bucket("images"));
    ASSERT_TRUE(s3_->create_bucket("processed"));
    opts_.sizes = {{320, 320}, {64, 64}};
    opts_.resize.output = image::format::webp;
  }

  std::string put(const std::string& bucket, const std::string& key, const std::string& data) {
    auto r = s3_->put_object(bucket, key, data);
    EXPECT_TRUE(r) << r.error().message();
    std::string etag = r ? r.value() : "";
    if (etag.size() >= 2 && etag.front() == '"') etag = etag.substr(1, etag.size() - 2);
    return etag;
  }

  outcome run(image_resize_handler& h, const message& m) { return h.handle(m, 1, stop_); }

  sluice_server srv_;
  std::shared_ptr<s3client::client> s3_;
  image_resize_options opts_;
  std::atomic<bool> stop_{false};
};

TEST_F(Handlers, ResizesIntoPredictableKeysWithSourceMetadata) {
  image_resize_handler h(opts_, s3_);
  std::string etag = put("images", "deeper/path/rose.jpg", make_image(640, 480, "jpeg"));
  outcome o = run(h, event_message("s3:ObjectCreated:Put", "images", "deeper/path/rose.jpg", etag));
  ASSERT_EQ(o.what, verdict::done) << o.reason << " " << o.detail;
  EXPECT_EQ(o.outputs, 2u);
  EXPECT_TRUE(o.event_time);
  auto big = s3_->get_object("processed", "deeper/path/rose-320x320.webp");
  ASSERT_TRUE(big) << big.error().message();
  auto hdr = image::probe(big.value().data);
  ASSERT_TRUE(hdr);
  EXPECT_EQ(hdr.value().loader, "webpload_buffer");
  EXPECT_EQ(hdr.value().width, 320);
  EXPECT_EQ(hdr.value().height, 240);
  EXPECT_EQ(big.value().info.content_type, "image/webp");
  std::map<std::string, std::string> meta(big.value().info.metadata.begin(), big.value().info.metadata.end());
  EXPECT_EQ(meta["sluice-source-bucket"], "images");
  EXPECT_EQ(meta["sluice-source-key"], "deeper%2Fpath%2Frose.jpg");
  EXPECT_EQ(meta["sluice-source-etag"], etag);
  EXPECT_EQ(meta["sluice-width"], "320");
  EXPECT_EQ(meta["sluice-height"], "240");
  auto small = s3_->head_object("processed", "deeper/path/rose-64x64.webp");
  ASSERT_TRUE(small);

  // Idempotent: the same event again rewrites the same two keys.
  o = run(h, event_message("s3:ObjectCreated:Put", "images", "deeper/path/rose.jpg", etag));
  EXPECT_EQ(o.what, verdict::done);
  auto all = s3_->list_all("processed", "");
  ASSERT_TRUE(all);
  EXPECT_EQ(all.value().size(), 2u);
}

TEST_F(Handlers, NeverLoopsOnItsOwnOutputEvenInTheSameBucket) {
  opts_.dest_bucket = "images";
  image_resize_handler h(opts_, s3_);
  put("images", "cat.png", make_image(500, 500, "png"));
  ASSERT_EQ(run(h, event_message("s3:ObjectCreated:Put", "images", "cat.png")).what, verdict::done);
  // The outputs' events: skipped by the mark in the event's userMetadata ...
  outcome o = run(h, event_message("s3:ObjectCreated:Put", "images", "cat-320x320.webp", "",
                                   {{"X-Amz-Meta-Sluice-Source-Key", "cat.png"}}));
  EXPECT_EQ(o.what, verdict::skipped);
  // ... and by the object's own metadata when the event carries none.
  o = run(h, event_message("s3:ObjectCreated:Put", "images", "cat-64x64.webp"));
  EXPECT_EQ(o.what, verdict::skipped) << o.detail;
  EXPECT_NE(o.reason.find("written by a worker"), std::string::npos) << o.reason;
  auto all = s3_->list_all("images", "");
  ASSERT_TRUE(all);
  EXPECT_EQ(all.value().size(), 3u);  // cat.png and its two outputs, nothing more
}

TEST_F(Handlers, SkipsWhatIsNotForIt) {
  image_resize_handler h(opts_, s3_);
  outcome o = run(h, event_message("s3:ObjectRemoved:Delete", "images", "a.jpg"));
  EXPECT_EQ(o.what, verdict::skipped);
  EXPECT_TRUE(o.quiet);
  EXPECT_EQ(run(h, event_message("s3:ObjectCreated:PutTagging", "images", "a.jpg")).what, verdict::skipped);
  EXPECT_EQ(run(h, event_message("s3:ObjectCreated:Put", "images", "folder/")).what, verdict::skipped);
  // Deleted before processing: 404 → skipped (and committed), not an error.
  o = run(h, event_message("s3:ObjectCreated:Put", "images", "gone.jpg"));
  EXPECT_EQ(o.what, verdict::skipped);
  EXPECT_NE(o.reason.find("deleted before processing"), std::string::npos) << o.reason;
  EXPECT_EQ(run(h, event_message("s3:ObjectCreated:Put", "no-such-bucket", "x.jpg")).what, verdict::skipped);
}

TEST_F(Handlers, DeadLettersWhatCanNeverWork) {
  opts_.max_pixels = 1'000'000;
  opts_.max_input_bytes = 200'000;
  image_resize_handler h(opts_, s3_);
  message bad;
  bad.value = "this is not an event";
  outcome o = run(h, bad);
  EXPECT_EQ(o.what, verdict::dead_letter);
  EXPECT_EQ(o.reason, "bad_event");

  put("images", "corrupt.jpg", "\xff\xd8\xff\xe0 definitely not a jpeg");
  o = run(h, event_message("s3:ObjectCreated:Put", "images", "corrupt.jpg"));
  EXPECT_EQ(o.what, verdict::dead_letter);
  EXPECT_EQ(o.reason, "undecodable");

  put("images", "empty.jpg", "");
  EXPECT_EQ(run(h, event_message("s3:ObjectCreated:Put", "images", "empty.jpg")).reason, "undecodable");

  put("images", "big.png", make_image(1200, 1000, "png"));  // 1.2 MP > 1 MP
  o = run(h, event_message("s3:ObjectCreated:Put", "images", "big.png"));
  EXPECT_EQ(o.what, verdict::dead_letter);
  EXPECT_EQ(o.reason, "too_large");
  EXPECT_NE(o.detail.find("1.2 megapixels"), std::string::npos) << o.detail;

  put("images", "heavy.png", std::string(300'000, 'x'));
  o = run(h, event_message("s3:ObjectCreated:Put", "images", "heavy.png"));
  EXPECT_EQ(o.what, verdict::dead_letter);
  EXPECT_EQ(o.reason, "too_large");
  auto all = s3_->list_all("processed", "");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all.value().empty());
}

TEST_F(Handlers, DestinationProblemsAreRetried) {
  opts_.dest_bucket = "missing-bucket";
  image_resize_handler h(opts_, s3_);
  put("images", "a.jpg", make_image(100, 100, "jpeg"));
  outcome o = run(h, event_message("s3:ObjectCreated:Put", "images", "a.jpg"));
  EXPECT_EQ(o.what, verdict::failed) << o.detail;
  EXPECT_EQ(o.reason, "s3_error");

  // S3 not answering at all: transient, retried for as long as the worker runs.
  s3client::client_config cfg = srv_.config();
  cfg.port = 1;  // nothing listens there
  cfg.retry = s3client::retry_policy::none();
  image_resize_handler down(opts_, std::shared_ptr<s3client::client>(s3client::testing::make_client(cfg)));
  o = down.handle(event_message("s3:ObjectCreated:Put", "images", "a.jpg"), 1, stop_);
  EXPECT_EQ(o.what, verdict::transient) << o.detail;
}

TEST(ByteBudget, BoundsWhatIsHeldAtOnce) {
  byte_budget b(100);
  std::atomic<bool> stop{false};
  ASSERT_TRUE(b.acquire(60, stop));
  ASSERT_TRUE(b.acquire(40, stop));
  std::atomic<bool> got{false};
  std::thread t([&] { got = b.acquire(10, stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_FALSE(got);  // full
  b.release(60);
  t.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(b.used(), 50u);
  b.release(50);
  EXPECT_TRUE(b.acquire(1000, stop));  // larger than the budget: alone
  std::atomic<bool> stopping{true};
  EXPECT_FALSE(b.acquire(1, stopping));
}

class Exec : public Handlers {
 protected:
  std::string dir_ =
      (std::filesystem::temp_directory_path() / ("sluice-exec-test-" + std::to_string(::getpid()))).string();
  void SetUp() override {
    Handlers::SetUp();
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string slurp(const std::string& name) {
    std::ifstream f(dir_ + "/" + name);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
};

TEST_F(Exec, RunsTheCommandWithEventObjectAndEnvironment) {
  exec_options eo;
  eo.command = "cat > " + dir_ + "/stdin; cp \"$SLUICE_OBJECT_PATH\" " + dir_ +
               "/object; env | grep ^SLUICE_ | sort > " + dir_ + "/env";
  eo.tmp_dir = dir_;
  exec_handler h(eo, s3_);
  put("images", "docs/read me.txt", "hello object");
  message m = event_message("s3:ObjectCreated:Put", "images", "docs/read me.txt", "etag1");
  m.partition = 3;
  m.offset = 42;
  outcome o = h.handle(m, 2, stop_);
  ASSERT_EQ(o.what, verdict::done) << o.reason << " " << o.detail;
  EXPECT_EQ(slurp("stdin"), m.value);
  EXPECT_EQ(slurp("object"), "hello object");
  std::string env = slurp("env");
  for (const char* want :
       {"SLUICE_BUCKET=images\n", "SLUICE_KEY=docs/read me.txt\n", "SLUICE_EVENT_NAME=s3:ObjectCreated:Put\n",
        "SLUICE_ETAG=etag1\n", "SLUICE_ATTEMPT=2\n", "SLUICE_OBJECT_SIZE=12\n", "SLUICE_KAFKA_PARTITION=3\n",
        "SLUICE_KAFKA_OFFSET=42\n", "SLUICE_OBJECT_PATH="}) {
    EXPECT_NE(env.find(want), std::string::npos) << want << " in\n" << env;
  }
  // The temp files are gone afterwards (only what the test itself wrote is left).
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir_))
    files += e.path().filename().string().starts_with("sluice-exec-");
  EXPECT_EQ(files, 0u);
}

TEST_F(Exec, FailuresTimeoutsAndSkips) {
  exec_options eo;
  eo.command = "echo something went wrong >&2; exit 3";
  eo.tmp_dir = dir_;
  exec_handler failing(eo, s3_);
  put("images", "a.jpg", "x");
  outcome o = failing.handle(event_message("s3:ObjectCreated:Put", "images", "a.jpg"), 1, stop_);
  EXPECT_EQ(o.what, verdict::failed);
  EXPECT_EQ(o.reason, "command_failed");
  EXPECT_NE(o.detail.find("exit status 3: something went wrong"), std::string::npos) << o.detail;

  eo.command = "sleep 30";
  eo.timeout = std::chrono::milliseconds(300);
  exec_handler slow(eo, s3_);
  auto started = std::chrono::steady_clock::now();
  o = slow.handle(event_message("s3:ObjectCreated:Put", "images", "a.jpg"), 1, stop_);
  EXPECT_EQ(o.what, verdict::failed);
  EXPECT_EQ(o.reason, "command_timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));

  // Stopping kills a running command; the message is retried by whoever runs next.
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
  });
  eo.timeout = std::chrono::seconds(60);
  exec_handler stoppable(eo, s3_);
  o = stoppable.handle(event_message("s3:ObjectCreated:Put", "images", "a.jpg"), 1, stop);
  stopper.join();
  EXPECT_EQ(o.what, verdict::transient);

  eo.command = "true";
  exec_handler ok(eo, s3_);
  EXPECT_EQ(ok.handle(event_message("s3:ObjectRemoved:Delete", "images", "a.jpg"), 1, stop_).what,
            verdict::skipped);
  EXPECT_EQ(ok.handle(event_message("s3:ObjectCreated:Put", "images", "gone.jpg"), 1, stop_).what,
            verdict::skipped);
  eo.events = {"s3:ObjectRemoved:*"};
  exec_handler removals(eo, s3_);
  o = removals.handle(event_message("s3:ObjectRemoved:Delete", "images", "a.jpg"), 1, stop_);
  EXPECT_EQ(o.what, verdict::done) << o.detail;
}

TEST(RunCommand, KeepsTheTailOfTheOutput) {
  std::atomic<bool> stop{false};
  auto r = run_command("for i in $(seq 1 2000); do echo line $i; done; exit 7", "/dev/null", {{"X", "1"}},
                       std::chrono::seconds(10), 64, stop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().exit_status, 7);
  EXPECT_EQ(r.value().output_tail.size(), 64u);
  EXPECT_NE(r.value().output_tail.find("line 2000\n"), std::string::npos);
  r = run_command("kill -9 $$", "/dev/null", {}, std::chrono::seconds(10), 64, stop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().signal, 9);
  // A background child holding the output open does not keep the worker waiting.
  auto started = std::chrono::steady_clock::now();
  r = run_command("sleep 5 & echo done", "/dev/null", {}, std::chrono::seconds(10), 64, stop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().exit_status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

}  // namespace
}  // namespace sluice::worker
