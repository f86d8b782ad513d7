// Byte vectors derived by hand from the protocol description (kafka.apache.org/protocol,
// ../shared/reference/kafka-protocol.md), so that a mistake made symmetrically in encoder and
// decoder cannot hide behind a round trip. CRCs were computed with independent bit-wise
// implementations (Python zlib.crc32 and a Castagnoli loop).
#include <gtest/gtest.h>

#include <string>

#include "kafka/protocol/api_table.h"
#include "kafka/protocol/frame.h"
#include "kafka/protocol/header.h"
#include "kafka/protocol/messages/all.h"
#include "kafka/protocol/record_batch.h"

namespace sluice::kafka::protocol {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// A request frame: size prefix, header, body.
template <class M>
std::string request_frame(const M& body, int16_t version, int32_t correlation_id,
                          std::optional<std::string> client) {
  writer w;
  const size_t start = begin_frame(w);
  request_header h{M::api_key, version, correlation_id, std::move(client), {}};
  write_request_header(w, h, request_header_version(M::api_key, version));
  body.write(w, version);
  end_frame(w, start);
  return w.take();
}

template <class M>
std::string response_frame(const M& body, int16_t version, int32_t correlation_id) {
  writer w;
  const size_t start = begin_frame(w);
  write_response_header(w, correlation_id, response_header_version(M::api_key, version));
  body.write(w, version);
  end_frame(w, start);
  return w.take();
}

TEST(Golden, ApiVersionsV0Request) {
  // size 14 | key 18 | v0 | correlation 1 | client_id "kcat" (int16 length) | empty body
  const std::string want = bytes({0, 0, 0, 14, 0, 18, 0, 0, 0, 0, 0, 1, 0, 4, 'k', 'c', 'a', 't'});
  EXPECT_EQ(request_frame(api_versions_request{}, 0, 1, "kcat"), want);

  auto f = next_frame(want);
  ASSERT_TRUE(f && f.value());
  reader r(f.value()->payload);
  auto h = read_request_header(r);
  ASSERT_TRUE(h);
  EXPECT_EQ(h.value().api_key, 18);
  EXPECT_EQ(h.value().client_id, "kcat");
  EXPECT_TRUE(decode<api_versions_request>(r.rest(), 0));
}

TEST(Golden, ApiVersionsV3Request) {
  api_versions_request req;
  req.client_software_name = "librdkafka";
  req.client_software_version = "2.0.2";
  // Header v2: client_id stays an int16 string, then an empty tag section. Body: compact strings
  // (length + 1 as uvarint) and an empty tag section.
  const std::string want =
      bytes({0,  0,   0,   33,  0,   18,  0,   3,   0,   0,   0,   2, 0,   4,   'k', 'c', 'a', 't', 0,
             11, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a', 6, '2', '.', '0', '.', '2', 0});
  EXPECT_EQ(request_frame(req, 3, 2, "kcat"), want);
  auto back = decode<api_versions_request>(std::string_view(want).substr(4 + 15), 3);
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value(), req);
}

api_versions_response two_apis() {
  api_versions_response resp;
  resp.api_keys.push_back({0, 0, 9, {}});
  resp.api_keys.push_back({18, 0, 3, {}});
  return resp;
}

TEST(Golden, ApiVersionsV0Response) {
  // header v0 | error 0 | int32 count 2 | (0, 0, 9) | (18, 0, 3); no throttle in v0
  const std::string want =
      bytes({0, 0, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 9, 0, 18, 0, 0, 0, 3});
  EXPECT_EQ(response_frame(two_apis(), 0, 1), want);
  auto back = decode<api_versions_response>(std::string_view(want).substr(8), 0);
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value(), two_apis());

  // A too-new ApiVersions request is answered in v0 with UNSUPPORTED_VERSION (35) and the list.
  api_versions_response unsupported = two_apis();
  unsupported.error_code = 35;
  EXPECT_EQ(encode(unsupported, 0).substr(0, 2), bytes({0, 35}));
}

TEST(Golden, ApiVersionsV3ResponseUsesHeaderV0) {
  api_versions_response resp = two_apis();
  resp.throttle_time_ms = 0;
  resp.zk_migration_ready = true;
  // header v0 (no tag section, KIP-511) | error 0 | compact array 2+1 | (0,0,9,tags) | (18,0,3,tags) |
  // throttle 0 | tag section: 1 field, tag 3, size 1, true. FinalizedFeaturesEpoch (-1) is default: omitted.
  const std::string want = bytes(
      {0, 0, 0, 29, 0, 0, 0, 5, 0, 0, 3, 0, 0, 0, 0, 0, 9, 0, 0, 18, 0, 0, 0, 3, 0, 0, 0, 0, 0, 1, 3, 1, 1});
  EXPECT_EQ(response_frame(resp, 3, 5), want);
  auto back = decode<api_versions_response>(std::string_view(want).substr(8), 3);
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value(), resp);
}

TEST(Golden, MetadataV1Request) {
  metadata_request req;
  req.topics.emplace();
  req.topics->push_back({});
  req.topics->back().name = "foo";
  EXPECT_EQ(encode(req, 1), bytes({0, 0, 0, 1, 0, 3, 'f', 'o', 'o'}));
  req.topics.reset();  // all topics
  EXPECT_EQ(encode(req, 1), bytes({0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(encode(metadata_request{}, 0), bytes({0, 0, 0, 0}));  // v0: empty = all topics

  auto back = decode<metadata_request>(bytes({0, 0, 0, 1, 0, 3, 'b', 'a', 'r'}), 1);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back.value().topics);
  EXPECT_EQ(back.value().topics->at(0).name, "bar");
}

TEST(Golden, MetadataV9RequestIsCompact) {
  metadata_request req;
  req.topics.emplace();
  req.topics->push_back({});
  req.topics->back().name = "foo";
  req.allow_auto_topic_creation = true;
  // compact array 1+1 | compact string "foo" | topic tags | allow_auto 1 | cluster ops 0 | topic ops 0 | tags
  EXPECT_EQ(encode(req, 9), bytes({2, 4, 'f', 'o', 'o', 0, 1, 0, 0, 0}));
}

TEST(Golden, MetadataV1Response) {
  metadata_response resp;
  resp.brokers.push_back({1, "h", 9092, std::nullopt, {}});
  resp.controller_id = 1;
  resp.topics.emplace_back();
  resp.topics[0].name = "t";
  resp.topics[0].partitions.emplace_back();
  resp.topics[0].partitions[0].leader_id = 1;
  resp.topics[0].partitions[0].replica_nodes = {1};
  resp.topics[0].partitions[0].isr_nodes = {1};
  const std::string want = bytes({
      0,    0,    0, 1,                                 // brokers: 1
      0,    0,    0, 1, 0,   1, 'h', 0, 0, 0x23, 0x84,  // node 1, "h", port 9092
      0xff, 0xff,                                       // rack null (v1+)
      0,    0,    0, 1,                                 // controller id (v1+)
      0,    0,    0, 1,                                 // topics: 1
      0,    0,    0, 1, 't', 0,                         // error 0, "t", is_internal false
      0,    0,    0, 1,                                 // partitions: 1
      0,    0,    0, 0, 0,   0, 0,   0, 0, 1,           // error 0, index 0, leader 1
      0,    0,    0, 1, 0,   0, 0,   1,                 // replicas [1]
      0,    0,    0, 1, 0,   0, 0,   1,                 // isr [1]
  });
  EXPECT_EQ(encode(resp, 1), want);
  auto back = decode<metadata_response>(want, 1);
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value(), resp);
}

// One record, key null, value "hi", timestamp 1000, no producer id:
//   record: length 8 (zigzag 0x10) | attributes 0 | ts delta 0 | offset delta 0 | key -1 (0x01) |
//           value length 2 (0x04) "hi" | 0 headers
const std::string kGoldenBatch = bytes({
    0,    0,    0,    0,    0,    0,    0,    0,     // BaseOffset 0
    0,    0,    0,    58,                            // Length = 61 - 12 + 9
    0xff, 0xff, 0xff, 0xff,                          // PartitionLeaderEpoch -1
    2,                                               // Magic
    0x23, 0x3d, 0xad, 0x44,                          // CRC-32C of the bytes below
    0,    0,                                         // Attributes
    0,    0,    0,    0,                             // LastOffsetDelta 0
    0,    0,    0,    0,    0,    0,    0x03, 0xe8,  // BaseTimestamp 1000
    0,    0,    0,    0,    0,    0,    0x03, 0xe8,  // MaxTimestamp 1000
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // ProducerId -1
    0xff, 0xff,                                      // ProducerEpoch -1
    0xff, 0xff, 0xff, 0xff,                          // BaseSequence -1
    0,    0,    0,    1,                             // RecordCount 1
    0x10, 0,    0,    0,    0x01, 0x04, 'h',  'i',  0,
});

TEST(Golden, RecordBatch) {
  record_data rd;
  rd.timestamp = 1000;
  rd.value = "hi";
  EXPECT_EQ(build_batch({}, std::span(&rd, 1)), kGoldenBatch);
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);      // CRC-32C check value
  EXPECT_EQ(crc32_ieee("123456789"), 0xcbf43926u);  // CRC-32 check value
  auto batches = validate_batches(kGoldenBatch, {});
  ASSERT_TRUE(batches) << batches.error().message();
  ASSERT_EQ(batches.value().size(), 1u);
  auto recs = decode_records(batches.value()[0]);
  ASSERT_TRUE(recs);
  ASSERT_EQ(recs.value().size(), 1u);
  EXPECT_FALSE(recs.value()[0].key);
  EXPECT_EQ(recs.value()[0].value, "hi");
}

TEST(Golden, ProduceV3RequestWithOneBatch) {
  produce_request req;
  req.acks = -1;
  req.timeout_ms = 30000;
  req.topic_data.emplace_back();
  req.topic_data[0].name = "t";
  req.topic_data[0].partition_data.emplace_back();
  req.topic_data[0].partition_data[0].index = 0;
  req.topic_data[0].partition_data[0].records = kGoldenBatch;
  std::string want = bytes({
      0xff, 0xff,              // transactional_id null
      0xff, 0xff,              // acks -1
      0,    0,    0x75, 0x30,  // timeout 30000
      0,    0,    0,    1,     // topics: 1
      0,    1,    't',         // "t"
      0,    0,    0,    1,     // partitions: 1
      0,    0,    0,    0,     // index 0
      0,    0,    0,    70,    // records: 70 bytes
  });
  want += kGoldenBatch;
  EXPECT_EQ(encode(req, 3), want);
  auto back = decode<produce_request>(want, 3);
  ASSERT_TRUE(back);
  const auto& records = back.value().topic_data[0].partition_data[0].records;
  ASSERT_TRUE(records);
  EXPECT_EQ(records->data(), want.data() + want.size() - kGoldenBatch.size());  // a view, no copy
  EXPECT_TRUE(validate_batches(*records, {.produce_version = 3}));
}

TEST(Golden, FetchV4ResponseAndV12Tags) {
  fetch_response resp;
  resp.responses.emplace_back();
  resp.responses[0].topic = "t";
  resp.responses[0].partitions.emplace_back();
  auto& p = resp.responses[0].partitions[0];
  p.high_watermark = 1;
  p.last_stable_offset = 1;
  p.aborted_transactions.reset();
  p.records = std::string_view("");
  const std::string v4 = bytes({
      0,    0,    0,    0,                   // throttle
      0,    0,    0,    1,    0, 1, 't',     // topics: "t"
      0,    0,    0,    1,                   // partitions: 1
      0,    0,    0,    0,    0, 0,          // index 0, error 0
      0,    0,    0,    0,    0, 0, 0,   1,  // high watermark 1
      0,    0,    0,    0,    0, 0, 0,   1,  // last stable offset 1
      0xff, 0xff, 0xff, 0xff,                // aborted transactions null
      0,    0,    0,    0,                   // records: 0 bytes
  });
  EXPECT_EQ(encode(resp, 4), v4);

  p.current_leader.leader_id = 2;
  p.current_leader.leader_epoch = 7;
  const std::string v12 = bytes({
      0,    0,    0,    0,                             // throttle
      0,    0,                                         // error 0 (v7+)
      0,    0,    0,    0,                             // session id 0 (v7+)
      2,    2,    't',                                 // compact topics 1, compact "t"
      2,                                               // compact partitions 1
      0,    0,    0,    0,    0,    0,                 // index 0, error 0
      0,    0,    0,    0,    0,    0,    0,    1,     // high watermark
      0,    0,    0,    0,    0,    0,    0,    1,     // last stable offset
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // log start offset -1 (v5+)
      0,                                               // aborted transactions null (compact)
      0xff, 0xff, 0xff, 0xff,                          // preferred read replica -1 (v11+)
      1,                                               // compact records: 0 bytes
      1,    1,    9,    0,    0,    0,    2,    0,
      0,    0,    7,    0,  // tags: 1 field, tag 1 CurrentLeader, 9 bytes
      0,                    // topic tags
      0,                    // top-level tags
  });
  EXPECT_EQ(encode(resp, 12), v12);
  auto back = decode<fetch_response>(v12, 12);
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value(), resp);
}

TEST(Golden, LegacyMessages) {
  // v1: offset 0 | size 24 | crc | magic 1 | attributes 0 | timestamp 1000 | key null | value "hi"
  const std::string v1 =
      bytes({0, 0, 0, 0, 0, 0, 0,    0,    0,    0,    0,    24,   0x06, 0x61, 0x4b, 0x6d, 1,   0,
             0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0xff, 0xff, 0xff, 0xff, 0,    0,    0,    2,    'h', 'i'});
  // v0: offset 0 | size 16 | crc | magic 0 | attributes 0 | key null | value "hi"
  const std::string v0 = bytes({0,    0,    0, 0, 0,    0,    0,    0,    0, 0, 0, 16, 0xfd, 0x6e,
                                0xbd, 0xdb, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2,  'h',  'i'});
  auto m1 = parse_legacy_message_set(v1);
  ASSERT_TRUE(m1) << m1.error().message();
  EXPECT_EQ(m1.value()[0].timestamp, 1000);
  EXPECT_EQ(m1.value()[0].value, "hi");
  auto m0 = parse_legacy_message_set(v0);
  ASSERT_TRUE(m0) << m0.error().message();
  EXPECT_EQ(m0.value()[0].timestamp, -1);

  // Up-conversion of the v1 message is exactly the golden v2 batch.
  auto converted = convert_legacy_to_v2(v1);
  ASSERT_TRUE(converted);
  EXPECT_EQ(converted.value(), kGoldenBatch);
  // And down-conversion of the golden batch gives back the legacy messages.
  EXPECT_EQ(convert_v2_to_legacy(kGoldenBatch, 1).value(), v1);
  EXPECT_EQ(convert_v2_to_legacy(kGoldenBatch, 0).value(), v0);
}

}  // namespace
}  // namespace sluice::kafka::protocol
