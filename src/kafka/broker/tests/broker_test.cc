// The broker over a real socket: requests encoded with the codecs, sent to a
// frame_server on loopback, responses decoded. (Real clients — kcat,
// librdkafka, kafka-python, kafkajs — are driven by tests/integration.)
#include "kafka/broker/broker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "base/byte_arena.h"
#include "kafka/broker/tests/broker_fixture.h"
#include "kafka/protocol/messages/api_versions.h"
#include "kafka/protocol/messages/create_topics.h"
#include "kafka/protocol/messages/fetch.h"
#include "kafka/protocol/messages/init_producer_id.h"
#include "kafka/protocol/messages/list_offsets.h"
#include "kafka/protocol/messages/metadata.h"
#include "kafka/protocol/messages/produce.h"
#include "kafka/protocol/partitioner.h"
#include "kafka/protocol/record_batch.h"
#include "net/stream.h"

namespace sluice::kafka {
namespace {

using testing::BrokerTest;

namespace fs = std::filesystem;
namespace proto = protocol;
using namespace std::chrono_literals;

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

// Whether a stored batch is the sent one apart from what the broker stamps
// (base offset, bytes 0-7, and partition leader epoch, 12-15); says where
// they differ when not.
::testing::AssertionResult same_but_stamps(std::string_view stored, std::string_view sent) {
  if (stored.size() != sent.size())
    return ::testing::AssertionFailure() << "sizes " << stored.size() << " and " << sent.size();
  for (size_t i = 8; i < sent.size(); ++i) {
    if (i >= 12 && i < 16) continue;
    if (stored[i] != sent[i]) return ::testing::AssertionFailure() << "first difference at byte " << i;
  }
  return ::testing::AssertionSuccess();
}

TEST_F(BrokerTest, LargeBatchesRoundTripIntactBesideSmallOnes) {
  // Batches above the arena's run size get buffers of their own, two of them
  // (two partitions) in one request here; small ones share arena chunks. Each
  // is stamped with its offsets in place and must otherwise come back byte for byte.
  ASSERT_TRUE(broker_->topics().create("big", 2, 1, {}));
  auto large = [&](int n, char fill) {
    std::vector<proto::record_data> recs;
    for (int i = 0; i < n; ++i) {
      proto::record_data d;
      d.timestamp = 1000 + i;
      d.value = std::string(100 << 10, static_cast<char>(fill + i));
      recs.push_back(std::move(d));
    }
    return proto::build_batch({}, recs);
  };
  const std::string a = large(3, 'a'), b = large(2, 'p');
  ASSERT_GT(a.size(), byte_arena::kMaxRunBytes);
  proto::produce_request req;
  req.acks = -1;
  req.timeout_ms = 5000;
  proto::produce_request::topic_produce_data td;
  td.name = "big";
  for (int32_t part : {0, 1}) {
    proto::produce_request::partition_produce_data pd;
    pd.index = part;
    pd.records = part == 0 ? a : b;
    td.partition_data.push_back(pd);
  }
  req.topic_data.push_back(td);
  auto body = call(0, 7, req);
  ASSERT_TRUE(body);
  auto p1 = decode<proto::produce_response>(*body, 7);
  for (const auto& pr : p1.responses[0].partition_responses) {
    EXPECT_EQ(pr.error_code, 0);
    EXPECT_EQ(pr.base_offset, 0);
  }
  EXPECT_EQ(produce("big", 0, batch(4)).responses[0].partition_responses[0].base_offset, 3);
  EXPECT_EQ(produce("big", 0, large(1, 'x')).responses[0].partition_responses[0].base_offset, 7);
  auto f1 = fetch("big", 1, 0);
  auto in_b = proto::validate_batches(*f1.responses[0].partitions[0].records, {.from_client = false});
  ASSERT_TRUE(in_b) << in_b.error().message();
  ASSERT_EQ(in_b.value().size(), 1u);
  EXPECT_TRUE(same_but_stamps(in_b.value()[0].bytes, b));
  std::vector<std::string> got;
  for (int64_t next = 0; next < 8;) {
    auto f = fetch("big", 0, next);
    const auto& pd = f.responses[0].partitions[0];
    ASSERT_EQ(pd.error_code, 0);
    auto batches = proto::validate_batches(*pd.records, {.from_client = false});  // CRCs intact
    ASSERT_TRUE(batches) << batches.error().message();
    ASSERT_FALSE(batches.value().empty());
    for (const auto& bv : batches.value()) {
      EXPECT_EQ(bv.header.base_offset, next);
      next = bv.header.base_offset + bv.header.last_offset_delta + 1;
      got.emplace_back(bv.bytes);
    }
  }
  ASSERT_EQ(got.size(), 3u);
  // Apart from what the broker stamps, each is what was sent.
  EXPECT_TRUE(same_but_stamps(got[0], a));
  EXPECT_TRUE(same_but_stamps(got[2], large(1, 'x')));
}

TEST_F(BrokerTest, PipelinedRequestsInOneWriteAreAnsweredInOrder) {
  // librdkafka pipelines one produce request per partition: hundreds arrive
  // back to back, several per read. Among them one frame larger than the
  // connection's read buffer, and the answers come back in request order.
  ASSERT_TRUE(broker_->topics().create("t", 4, 1, {}));
  std::string wire;
  const int n = 300;
  for (int i = 0; i < n; ++i) {
    proto::produce_request req;
    req.acks = -1;
    req.timeout_ms = 5000;
    proto::produce_request::topic_produce_data td;
    td.name = "t";
    proto::produce_request::partition_produce_data pd;
    pd.index = i % 4;
    std::vector<proto::record_data> recs(1);
    recs[0].timestamp = 1000;
    recs[0].value = std::string(i == 150 ? 200000 : 50, 'v');
    proto::batch_options o;
    o.producer_id = -1;
    o.producer_epoch = -1;
    o.base_sequence = -1;
    const std::string records = proto::build_batch(o, recs);  // pd.records views it
    pd.records = records;
    td.partition_data.push_back(pd);
    req.topic_data.push_back(td);
    proto::writer w;
    proto::request_header h;
    h.api_key = 0;
    h.api_version = 7;
    h.correlation_id = 1000 + i;
    h.client_id = "test";
    proto::write_request_header(w, h, proto::request_header_version(0, 7));
    req.write(w, 7);
    uint32_t len = htonl(static_cast<uint32_t>(w.size()));
    wire.append(reinterpret_cast<char*>(&len), 4);
    wire.append(w.buffer());
  }
  boost::system::error_code ec;
  ASSERT_TRUE(conn().write_all(wire.data(), wire.size(), ec)) << ec.message();
  std::map<int32_t, int64_t> next_offset;
  for (int i = 0; i < n; ++i) {
    char hdr[4];
    ASSERT_TRUE(read_exact(hdr, 4)) << i;
    uint32_t len;
    std::memcpy(&len, hdr, 4);
    std::string body(ntohl(len), '\0');
    ASSERT_TRUE(read_exact(body.data(), body.size())) << i;
    proto::reader r(body);
    proto::response_header rh;
    proto::read_response_header(r, proto::response_header_version(0, 7), rh);
    ASSERT_EQ(rh.correlation_id, 1000 + i);
    auto resp = decode<proto::produce_response>(body.substr(r.position()), 7);
    const auto& pr = resp.responses.at(0).partition_responses.at(0);
    ASSERT_EQ(pr.error_code, 0) << i;
    EXPECT_EQ(pr.base_offset, next_offset[i % 4]++) << i;
  }
}

TEST_F(BrokerTest, LocalProduceCreatesTheTopicAndKeysPickPartitions) {
  std::vector<broker::local_record> recs;
  for (int i = 0; i < 20; ++i) {
    recs.push_back({"images/" + std::to_string(i % 4) + ".jpg", "v" + std::to_string(i), {{"x-sluice-event-id", "e"}}});
  }
  ASSERT_TRUE(broker_->produce_local("events", recs));
  auto t = broker_->topics().find("events");
  ASSERT_TRUE(t) << "auto-created";
  const auto n = static_cast<int32_t>(t->partitions.size());
  // Every record is where Kafka's default partitioner puts its key, in order.
  std::map<int32_t, std::vector<std::string>> want;
  for (const auto& r : recs) want[proto::partition_for_key(r.key, n)].push_back(r.value);
  for (int32_t p = 0; p < n; ++p) {
    auto f = fetch("events", p, 0);
    const auto& pd = f.responses[0].partitions[0];
    ASSERT_EQ(pd.error_code, 0);
    std::vector<std::string> got;
    auto batches = proto::validate_batches(pd.records ? *pd.records : std::string_view(), {.from_client = false});
    ASSERT_TRUE(batches) << batches.error().message();
    for (const auto& b : batches.value()) {
      auto decoded = proto::decode_records(b);
      ASSERT_TRUE(decoded);
      for (const auto& r : decoded.value()) {
        got.emplace_back(*r.value);
        ASSERT_EQ(r.headers.size(), 1u);
        EXPECT_EQ(r.headers[0].key, "x-sluice-event-id");
      }
    }
    EXPECT_EQ(got, want[p]) << "partition " << p;
  }
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
    ar.payload = unique_bytes(batch(1));
    ar.count = 1;
    ar.stamp = [](std::span<char> p, stream::offset base) { (void)proto::assign_offsets(p, base, 0); };
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
  // Woken by the append, not by the fetch threads' own 1 s re-check.
  EXPECT_LT(waited, 900ms);
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
