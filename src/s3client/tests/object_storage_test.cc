#include <gtest/gtest.h>

#include "s3client/s3_object_storage.h"
#include "s3client/tests/test_servers.h"

namespace sluice::s3client {
namespace {

using testing::make_client;
using testing::pattern;
using testing::scripted_response;
using testing::scripted_server;
using testing::sluice_server;

class S3Storage : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(make_client(srv_.config())->create_bucket("stream"));
    auto s = make_s3_storage(srv_.config(), "stream");
    ASSERT_TRUE(s) << s.error().message();
    st_ = std::move(s).value();
  }

  sluice_server srv_;
  std::unique_ptr<stream::object_storage> st_;
};

TEST_F(S3Storage, PutGetSizeListRemove) {
  EXPECT_EQ(st_->describe(), "s3://127.0.0.1:" + std::to_string(srv_.port()) + "/stream");
  std::string data = pattern(10'000, 7);
  ASSERT_TRUE(st_->put("obj/1", data));
  ASSERT_TRUE(st_->put("obj/2", "two"));
  ASSERT_TRUE(st_->put("other", "x"));

  auto whole = st_->get("obj/1");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole.value(), data);
  EXPECT_EQ(st_->get("obj/1", 100, 50).value(), data.substr(100, 50));
  EXPECT_EQ(st_->get("obj/1", 9990, 0).value(), data.substr(9990));
  EXPECT_EQ(st_->get("obj/1", 9990, 100).value(), data.substr(9990));  // shorter at the end
  EXPECT_EQ(st_->get("obj/1", 10'000, 10).value(), "");                // at the end: empty
  EXPECT_EQ(st_->size("obj/1").value(), data.size());

  auto listed = st_->list("obj/");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed.value().size(), 2u);
  EXPECT_EQ(listed.value()[0].key, "obj/1");
  EXPECT_EQ(listed.value()[0].size, data.size());
  EXPECT_EQ(listed.value()[1].key, "obj/2");

  ASSERT_TRUE(st_->remove({"obj/1", "obj/2", "never-existed"}));
  auto gone = st_->get("obj/1");
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().is(stream::errc::object_not_found)) << gone.error().message();
  auto size_gone = st_->size("obj/2");
  ASSERT_FALSE(size_gone);
  EXPECT_TRUE(size_gone.error().is(stream::errc::object_not_found));
  EXPECT_EQ(st_->list("").value().size(), 1u);
}

TEST_F(S3Storage, RemoveManyInBatches) {
  std::vector<std::string> keys;
  for (int i = 0; i < 1100; ++i) keys.push_back("many/" + std::to_string(i));
  // A few real objects among more than one DeleteObjects batch of keys.
  for (int i = 0; i < 1100; i += 100) ASSERT_TRUE(st_->put(keys[i], "x"));
  ASSERT_TRUE(st_->remove(keys));
  EXPECT_TRUE(st_->list("many/").value().empty());
}

TEST_F(S3Storage, MultipartUpload) {
  std::string p1 = pattern(5 << 20, 8), p2 = pattern(123, 9);
  auto up = st_->start_upload("big");
  ASSERT_TRUE(up) << up.error().message();
  ASSERT_TRUE(up.value()->write_part(p1));
  ASSERT_TRUE(up.value()->write_part(p2));
  ASSERT_TRUE(up.value()->complete());
  EXPECT_TRUE(up.value()->write_part("late").error().is(stream::errc::bad_argument));
  auto got = st_->get("big");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got.value() == p1 + p2);
  EXPECT_EQ(st_->get("big", (5 << 20) - 1, 2).value(), p1.substr(p1.size() - 1) + p2.substr(0, 1));

  // An upload with no parts completes as an empty object.
  auto empty = st_->start_upload("empty");
  ASSERT_TRUE(empty);
  ASSERT_TRUE(empty.value()->complete());
  EXPECT_EQ(st_->size("empty").value(), 0u);

  // Dropping an upload without complete() aborts it: nothing appears.
  {
    auto dropped = st_->start_upload("dropped");
    ASSERT_TRUE(dropped);
    ASSERT_TRUE(dropped.value()->write_part(p2));
  }
  EXPECT_TRUE(st_->get("dropped").error().is(stream::errc::object_not_found));
  auto aborted = st_->start_upload("aborted");
  ASSERT_TRUE(aborted);
  ASSERT_TRUE(aborted.value()->abort());
  ASSERT_TRUE(aborted.value()->abort());  // twice is fine
}

TEST(S3StorageMake, MissingBucketFailsAtStart) {
  sluice_server srv;
  auto s = make_s3_storage(srv.config(), "not-there");
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error().is(stream::errc::storage_error));
  EXPECT_NE(s.error().message().find("NoSuchBucket"), std::string::npos) << s.error().message();
  auto cfg = srv.config();
  cfg.access_key.clear();
  EXPECT_TRUE(make_s3_storage(cfg, "b").error().is(stream::errc::bad_argument));
}

TEST(S3StorageFaults, RetriesHideTransient503sAndPersistentOnesSurface) {
  scripted_server fake;
  fake.push({200, ""});  // HEAD bucket at make time
  auto cfg = fake.config();
  cfg.retry.max_attempts = 3;
  auto st = make_s3_storage(cfg, "b");
  ASSERT_TRUE(st) << st.error().message();
  fake.push({503, ""});
  fake.push({200, "", {{"ETag", "\"e\""}}});
  EXPECT_TRUE(st.value()->put("k", "v"));
  for (int i = 0; i < 3; ++i) fake.push({503, ""});
  auto r = st.value()->put("k", "v");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(stream::errc::storage_error));
  EXPECT_NE(r.error().message().find("ServiceUnavailable"), std::string::npos) << r.error().message();
}

TEST(S3StorageFaults, FallsBackToSingleDeletesWithoutDeleteObjects) {
  scripted_server fake;
  fake.push({200, ""});  // HEAD bucket
  auto st = make_s3_storage(fake.config(), "b");
  ASSERT_TRUE(st);
  fake.push({501, "<Error><Code>NotImplemented</Code><Message>no multi-delete</Message></Error>"});
  ASSERT_TRUE(st.value()->remove({"a", "b"}));
  auto seen = fake.received();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].target, "/b?delete");
  EXPECT_EQ(seen[2].method, "DELETE");
  EXPECT_EQ(seen[2].target, "/b/a");
  EXPECT_EQ(seen[3].target, "/b/b");
  ASSERT_TRUE(st.value()->remove({"c"}));  // remembered: no second DeleteObjects try
  EXPECT_EQ(fake.received().back().target, "/b/c");
}

}  // namespace
}  // namespace sluice::s3client
