// The broker over a real socket: requests encoded with the codecs, sent to a
// frame_server on loopback, responses decoded. (Real clients — kcat,
// librdkafka, kafka-python, kafkajs — are driven by tests/integration.)
#include "kafka/broker/broker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "kafka/protocol/messages/api_versions.h"
#include "kafka/protocol/messages/create_topics.h"
#include "kafka/protocol/messages/fetch.h"
#include "kafka/protocol/messages/init_producer_id.h"
#include "kafka/protocol/messages/list_offsets.h"
#include "kafka/protocol/messages/metadata.h"
#include "kafka/protocol/messages/produce.h"
#include "kafka/protocol/record_batch.h"
#include "net/stream.h"

namespace sluice::kafka {
namespace {

namespace fs = std::filesystem;
namespace proto = protocol;
using namespace std::chrono_literals;

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-broker-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    storage_ = stream::make_memory_storage();
    start();
  }
  void TearDown() override {
    stop();
    fs::remove_all(dir_);
  }
  void start() {
    meta_ = stream::meta::open_sqlite((dir_ / "meta.db").string()).value();
    auto dev = stream::wal::open_file_device((dir_ / "wal").string(), 32 << 20, true);
    ASSERT_TRUE(dev) << dev.error().message();
    stream::engine_options eo;
    eo.janitor_interval = 1h;
    engine_ = stream::open_engine(eo, std::move(dev).value(), *meta_, *storage_).value();
    broker_options bo;
    bo.groups.initial_rebalance_delay = 0ms;
    auto b = broker::open(bo, *engine_, *meta_);
    ASSERT_TRUE(b) << b.error().message();
    broker_ = std::shared_ptr<broker>(std::move(b).value());
    frame_server_options so;
    so.address = "127.0.0.1:0";
    server_ = std::make_unique<frame_server>(so, broker_);
    ASSERT_TRUE(server_->start());
    conn_.reset();
  }
  void stop() {
    conn_.reset();
    if (server_) server_->stop();
    server_.reset();
    if (broker_) broker_->stop();
    broker_.reset();
    engine_.reset();
    meta_.reset();
  }

  net::stream& conn() {
    if (!conn_) {
      auto s = net::stream::connect("127.0.0.1", server_->port(), 5s);
      EXPECT_TRUE(s) << s.error().message();
      conn_ = std::move(s).value();
    }
    return *conn_;
  }

  // Sends one request and returns the response body (after the header), or nullopt when the broker closed.
  template <class Request>
  std::optional<std::string> call(int16_t key, int16_t version, const Request& req, int32_t corr = 7) {
    proto::writer w;
    proto::request_header h;
    h.api_key = key;
    h.api_version = version;
    h.correlation_id = corr;
    h.client_id = "test";
    proto::write_request_header(w, h, proto::request_header_version(key, version));
    req.write(w, version);
    return send_raw(w.take(), key, version, corr);
  }

  std::optional<std::string> send_raw(const std::string& frame, int16_t key, int16_t version, int32_t corr) {
    uint32_t n = htonl(static_cast<uint32_t>(frame.size()));
    std::string out(reinterpret_cast<char*>(&n), 4);
    out += frame;
    boost::system::error_code ec;
    if (!conn().write_all(out.data(), out.size(), ec)) return std::nullopt;
    char hdr[4];
    if (!read_exact(hdr, 4)) return std::nullopt;
    uint32_t len;
    std::memcpy(&len, hdr, 4);
    std::string body(ntohl(len), '\0');
    if (!read_exact(body.data(), body.size())) return std::nullopt;
    proto::reader r(body);
    proto::response_header rh;
    proto::read_response_header(r, proto::response_header_version(key, version), rh);
    EXPECT_EQ(rh.correlation_id, corr);
    return body.substr(r.position());
  }

  bool read_exact(char* p, size_t n) {
    size_t got = 0;
    while (got < n) {
      boost::system::error_code ec;
      size_t k = conn().read(p + got, n - got, ec);
      if (ec || k == 0) return false;
      got += k;
    }
    return true;
  }

  template <class Response>
  Response decode(const std::string& body, int16_t version) {
    Response resp;
    proto::reader r(body);
    resp.read(r, version);
    EXPECT_TRUE(r.status()) << r.status().error().message();
    return resp;
  }

  std::string batch(int n, int64_t pid = -1, int16_t epoch = -1, int32_t seq = -1) {
    std::vector<proto::record_data> recs;
    for (int i = 0; i < n; ++i) {
      proto::record_data d;
      d.timestamp = 1000 + i;
      d.key = "k" + std::to_string(i);
      d.value = "value-" + std::to_string(i);
      recs.push_back(std::move(d));
    }
    proto::batch_options o;
    o.producer_id = pid;
    o.producer_epoch = epoch;
    o.base_sequence = seq;
    return proto::build_batch(o, recs);
  }

  proto::produce_response produce(const std::string& topic, int32_t partition, const std::string& records,
                                  int16_t version = 7) {
    proto::produce_request req;
    req.acks = -1;
    req.timeout_ms = 5000;
    proto::produce_request::topic_produce_data td;
    td.name = topic;
    proto::produce_request::partition_produce_data pd;
    pd.index = partition;
    pd.records = records;
    td.partition_data.push_back(pd);
    req.topic_data.push_back(td);
    auto body = call(0, version, req);
    EXPECT_TRUE(body);
    return decode<proto::produce_response>(body.value_or(""), version);
  }

  proto::fetch_response fetch(const std::string& topic, int32_t partition, int64_t offset,
                              int32_t max_wait = 0, int32_t min_bytes = 1, int16_t version = 11) {
    proto::fetch_request req;
    req.max_wait_ms = max_wait;
    req.min_bytes = min_bytes;
    proto::fetch_request::fetch_topic ft;
    ft.topic = topic;
    proto::fetch_request::fetch_partition fp;
    fp.partition = partition;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = 1 << 20;
    ft.partitions.push_back(fp);
    req.topics.push_back(ft);
    auto body = call(1, version, req);
    EXPECT_TRUE(body);
    fetched_ = body.value_or("");  // the response's record views point into this
    return decode<proto::fetch_response>(fetched_, version);
  }

  fs::path dir_;
  std::unique_ptr<stream::object_storage> storage_;
  std::unique_ptr<stream::meta::meta_store> meta_;
  std::unique_ptr<stream::engine> engine_;
  std::shared_ptr<broker> broker_;
  std::unique_ptr<frame_server> server_;
  std::unique_ptr<net::stream> conn_;
  std::string fetched_;
};

TEST_F(BrokerTest, ApiVersionsAdvertisesTheRegistryAndAnswersTooNewInV0) {
  proto::api_versions_request req;
  req.client_software_name = "test";
  req.client_software_version = "1";
  auto body = call(18, 3, req);
  ASSERT_TRUE(body);
  auto resp = decode<proto::api_versions_response>(*body, 3);
  EXPECT_EQ(resp.error_code, 0);
  EXPECT_EQ(resp.api_keys.size(), broker::registry().size());
  // Version 9 of ApiVersions: a v0 answer with UNSUPPORTED_VERSION and the ranges.
  auto old = call(18, 9, req);
  ASSERT_TRUE(old);
  auto v0 = decode<proto::api_versions_response>(*old, 0);
  EXPECT_EQ(v0.error_code, 35);
  EXPECT_FALSE(v0.api_keys.empty());
}

TEST_F(BrokerTest, UnknownApiKeyClosesTheConnection) {
  proto::api_versions_request req;
  EXPECT_FALSE(call(99, 0, req));
}

TEST_F(BrokerTest, MetadataAutoCreatesTopics) {
  proto::metadata_request req;
  proto::metadata_request::request_topic rt;
  rt.name = "auto";
  req.topics = std::vector<proto::metadata_request::request_topic>{rt};
  auto body = call(3, 9, req);
  ASSERT_TRUE(body);
  auto resp = decode<proto::metadata_response>(*body, 9);
  ASSERT_EQ(resp.topics.size(), 1u);
  EXPECT_EQ(resp.topics[0].error_code, 0);
  EXPECT_EQ(resp.topics[0].partitions.size(), 1u);
  EXPECT_EQ(resp.brokers.size(), 1u);
  EXPECT_EQ(resp.controller_id, 1);
}

TEST_F(BrokerTest, ProduceThenFetchReturnsTheBatchesWithAssignedOffsets) {
  ASSERT_TRUE(broker_->topics().create("t", 2, 1, {}));
  auto p1 = produce("t", 1, batch(3));
  ASSERT_EQ(p1.responses[0].partition_responses[0].error_code, 0);
  EXPECT_EQ(p1.responses[0].partition_responses[0].base_offset, 0);
  auto p2 = produce("t", 1, batch(2));
  EXPECT_EQ(p2.responses[0].partition_responses[0].base_offset, 3);
  auto f = fetch("t", 1, 0);
  ASSERT_EQ(f.responses.size(), 1u);
  const auto& pd = f.responses[0].partitions[0];
  EXPECT_EQ(pd.error_code, 0);
  EXPECT_EQ(pd.high_watermark, 5);
  auto batches = proto::validate_batches(*pd.records, {.from_client = false});
  ASSERT_TRUE(batches) << batches.error().message();
  ASSERT_EQ(batches.value().size(), 2u);
  EXPECT_EQ(batches.value()[0].header.base_offset, 0);
  EXPECT_EQ(batches.value()[1].header.base_offset, 3);
  // Out of range, and unknown partitions.
  EXPECT_EQ(fetch("t", 1, 6).responses[0].partitions[0].error_code, 1);
  EXPECT_EQ(fetch("t", 7, 0).responses[0].partitions[0].error_code, 3);
  EXPECT_EQ(produce("nope", 0, batch(1)).responses[0].partition_responses[0].error_code, 3);
}

TEST_F(BrokerTest, CorruptBatchIsRefused) {
  ASSERT_TRUE(broker_->topics().create("c", 1, 1, {}));
  auto b = batch(2);
  b[b.size() - 1] ^= 1;
  EXPECT_EQ(produce("c", 0, b).responses[0].partition_responses[0].error_code, 2);  // CORRUPT_MESSAGE
  std::string big = batch(1);
  std::vector<proto::record_data> recs(1);
  recs[0].value = std::string(2 << 20, 'x');
  EXPECT_EQ(produce("c", 0, proto::build_batch({}, recs)).responses[0].partition_responses[0].error_code, 10);
}

TEST_F(BrokerTest, FetchLongPollWakesOnNewData) {
  ASSERT_TRUE(broker_->topics().create("w", 1, 1, {}));
  // The long poll waits; an append from elsewhere wakes it.
  std::thread later([&] {
    std::this_thread::sleep_for(300ms);
    stream::append_request ar;
    ar.payload = batch(1);
    ar.count = 1;
    ar.stamp = [](std::string& p, stream::offset base) {
      (void)proto::assign_offsets(std::span<char>(p.data(), p.size()), base, 0);
    };
    auto sid = broker_->topics().stream_of("w", 0);
    ASSERT_TRUE(engine_->append_sync(*sid, std::move(ar)));
  });
  auto t0 = std::chrono::steady_clock::now();
  auto f = fetch("w", 0, 0, 5000, 1);
  auto waited = std::chrono::steady_clock::now() - t0;
  later.join();
  EXPECT_EQ(f.responses[0].partitions[0].high_watermark, 1);
  EXPECT_FALSE(f.responses[0].partitions[0].records->empty());
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 3s);
  // Nothing arrives: the poll ends at max_wait with an empty answer.
  t0 = std::chrono::steady_clock::now();
  auto empty = fetch("w", 0, 1, 300, 1);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 280ms);
  EXPECT_TRUE(empty.responses[0].partitions[0].records->empty());
}

TEST_F(BrokerTest, IdempotentRetryGetsTheOriginalOffsetsEvenAfterRestart) {
  ASSERT_TRUE(broker_->topics().create("i", 1, 1, {}));
  proto::init_producer_id_request ir;
  ir.transactional_id = std::nullopt;
  auto ib = call(22, 1, ir);
  ASSERT_TRUE(ib);
  auto pid = decode<proto::init_producer_id_response>(*ib, 1);
  ASSERT_EQ(pid.error_code, 0);
  EXPECT_GE(pid.producer_id, 0);
  auto b0 = batch(2, pid.producer_id, pid.producer_epoch, 0);
  auto b1 = batch(3, pid.producer_id, pid.producer_epoch, 2);
  EXPECT_EQ(produce("i", 0, b0).responses[0].partition_responses[0].base_offset, 0);
  EXPECT_EQ(produce("i", 0, b1).responses[0].partition_responses[0].base_offset, 2);
  // The retry of b1 is not written again.
  auto dup = produce("i", 0, b1).responses[0].partition_responses[0];
  EXPECT_EQ(dup.error_code, 0);
  EXPECT_EQ(dup.base_offset, 2);
  // A gap is refused.
  EXPECT_EQ(produce("i", 0, batch(1, pid.producer_id, pid.producer_epoch, 9))
                .responses[0]
                .partition_responses[0]
                .error_code,
            45);
  // After a restart (state rebuilt from the log), the retry is still detected.
  stop();
  start();
  auto again = produce("i", 0, b1).responses[0].partition_responses[0];
  EXPECT_EQ(again.base_offset, 2);
  auto f = fetch("i", 0, 0);
  EXPECT_EQ(f.responses[0].partitions[0].high_watermark, 5);
  // Producer ids are not reused after a restart.
  auto ib2 = call(22, 1, ir);
  EXPECT_GT(decode<proto::init_producer_id_response>(*ib2, 1).producer_id, pid.producer_id);
}

TEST_F(BrokerTest, ListOffsetsEarliestLatestAndByTime) {
  ASSERT_TRUE(broker_->topics().create("l", 1, 1, {}));
  produce("l", 0, batch(3));  // timestamps 1000..1002
  auto q = [&](int64_t ts, int16_t v = 5) {
    proto::list_offsets_request req;
    req.replica_id = -1;
    proto::list_offsets_request::topic t;
    t.name = "l";
    proto::list_offsets_request::partition p;
    p.partition_index = 0;
    p.timestamp = ts;
    t.partitions.push_back(p);
    req.topics.push_back(t);
    auto body = call(2, v, req);
    return decode<proto::list_offsets_response>(body.value_or(""), v).topics[0].partitions[0];
  };
  EXPECT_EQ(q(-2).offset, 0);
  EXPECT_EQ(q(-1).offset, 3);
  EXPECT_EQ(q(1001).offset, 0);  // the batch holding it
  EXPECT_EQ(q(5000).offset, -1);
  EXPECT_EQ(q(-1, 0).old_style_offsets.at(0), 3);
}

}  // namespace
}  // namespace sluice::kafka
