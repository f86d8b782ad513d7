#include "kafka/protocol/record_batch.h"

#include <gtest/gtest.h>
#include <isa-l/igzip_lib.h>

#include <random>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace sluice::kafka::protocol {
namespace {

std::vector<record_data> sample_records() {
  std::vector<record_data> v(3);
  v[0].timestamp = 1000;
  v[0].key = "k0";
  v[0].value = "v0";
  v[0].headers.push_back({"h", std::string("x")});
  v[0].headers.push_back({"n", std::nullopt});
  v[1].timestamp = 1500;
  v[1].value = std::string(300, 'z');  // multi-byte varint lengths
  v[2].timestamp = 1200;
  v[2].key = "";
  return v;
}

std::string good_batch(batch_options opts = {}) {
  return build_batch(opts, sample_records());
}

void put32(std::string& b, size_t pos, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[pos + i] = static_cast<char>(v >> (24 - 8 * i));
}
void put16(std::string& b, size_t pos, uint16_t v) {
  b[pos] = static_cast<char>(v >> 8);
  b[pos + 1] = static_cast<char>(v);
}
void fix_crc(std::string& b) {
  put32(b, 17, compute_batch_crc(b));
}

errc code_of(const result<std::vector<batch_view>>& r) {
  EXPECT_FALSE(r);
  return r ? errc{} : static_cast<errc>(r.error().code().value());
}

TEST(RecordBatch, GoodBatchValidatesAndDecodes) {
  const std::string b = good_batch({.producer_id = 7, .producer_epoch = 1, .base_sequence = 10});
  auto v = validate_batches(b);
  ASSERT_TRUE(v) << v.error().message();
  ASSERT_EQ(v.value().size(), 1u);
  const batch_header& h = v.value()[0].header;
  EXPECT_EQ(h.record_count, 3);
  EXPECT_EQ(h.last_offset_delta, 2);
  EXPECT_EQ(h.base_timestamp, 1000);
  EXPECT_EQ(h.max_timestamp, 1500);
  EXPECT_EQ(h.producer_id, 7);
  EXPECT_EQ(h.producer_epoch, 1);
  EXPECT_EQ(h.base_sequence, 10);
  EXPECT_EQ(h.last_sequence(), 12);
  EXPECT_EQ(h.codec(), compression_codec::none);
  EXPECT_EQ(h.size_bytes(), b.size());

  auto recs = decode_records(v.value()[0]);
  ASSERT_TRUE(recs) << recs.error().message();
  ASSERT_EQ(recs.value().size(), 3u);
  const auto want = sample_records();
  for (size_t i = 0; i < 3; ++i) {
    const record_view& r = recs.value()[i];
    EXPECT_EQ(r.offset_delta, static_cast<int32_t>(i));
    EXPECT_EQ(record_timestamp(h, r), want[i].timestamp);
    EXPECT_EQ(r.key.has_value(), want[i].key.has_value());
    if (r.key) {
      EXPECT_EQ(*r.key, *want[i].key);
    }
    EXPECT_EQ(*r.value, want[i].value.value_or(""));
  }
  EXPECT_FALSE(recs.value()[2].value);
  ASSERT_EQ(recs.value()[0].headers.size(), 2u);
  EXPECT_EQ(recs.value()[0].headers[0].key, "h");
  EXPECT_EQ(recs.value()[0].headers[0].value, "x");
  EXPECT_FALSE(recs.value()[0].headers[1].value);
}

TEST(RecordBatch, CrcDamageIsCorruptMessage) {
  std::string b = good_batch();
  b[b.size() - 5] ^= 1;  // inside a record
  EXPECT_EQ(code_of(validate_batches(b)), errc::corrupt_message);
  b = good_batch();
  b[21] ^= 0x08;  // attributes are covered too
  EXPECT_EQ(code_of(validate_batches(b)), errc::corrupt_message);
  b = good_batch();
  b[17] ^= 0x80;  // the CRC itself
  EXPECT_EQ(code_of(validate_batches(b)), errc::corrupt_message);
}

TEST(RecordBatch, FieldsOutsideTheCrc) {
  std::string b = good_batch();
  put32(b, 12, 5);  // PartitionLeaderEpoch: not covered, still valid
  EXPECT_TRUE(validate_batches(b));
  b[7] = 1;  // BaseOffset 1: clients must send 0
  EXPECT_EQ(code_of(validate_batches(b)), errc::invalid_record);
  EXPECT_TRUE(validate_batches(b, {.from_client = false}));
}

TEST(RecordBatch, FramingDamageIsCorruptMessage) {
  std::string b = good_batch();
  EXPECT_EQ(code_of(validate_batches(b.substr(0, b.size() - 1))),
            errc::corrupt_message);  // Length beyond data
  EXPECT_EQ(code_of(validate_batches(b.substr(0, 15))), errc::corrupt_message);
  std::string small = b;
  put32(small, 8, 13);  // below LegacyRecord.RECORD_OVERHEAD_V0
  EXPECT_EQ(code_of(validate_batches(small)), errc::corrupt_message);
  put32(small, 8, 40);  // a v2 batch below its 61-byte header
  EXPECT_EQ(code_of(validate_batches(small)), errc::corrupt_message);
  std::string magic = b;
  magic[16] = 3;
  EXPECT_EQ(code_of(validate_batches(magic)), errc::corrupt_message);
  magic[16] = -1;
  EXPECT_EQ(code_of(validate_batches(magic)), errc::corrupt_message);
  magic[16] = 1;  // legacy data must be converted first
  EXPECT_EQ(code_of(validate_batches(magic)), errc::invalid_record);
  EXPECT_EQ(code_of(validate_batches(b + b.substr(0, 20))), errc::corrupt_message);  // truncated second batch
  EXPECT_EQ(code_of(validate_batches("")), errc::invalid_record);
}

TEST(RecordBatch, CountsAreInvalidRecord) {
  std::string b = good_batch();
  put32(b, 57, 4);  // RecordCount 4 but LastOffsetDelta 2
  fix_crc(b);
  EXPECT_EQ(code_of(validate_batches(b)), errc::invalid_record);
  b = good_batch();
  put32(b, 23, 3);  // LastOffsetDelta 3 but RecordCount 3
  fix_crc(b);
  EXPECT_EQ(code_of(validate_batches(b)), errc::invalid_record);
  b = good_batch();
  put32(b, 57, 0);
  put32(b, 23, 0xffffffff);  // count 0, delta -1: consistent but empty
  fix_crc(b);
  EXPECT_EQ(code_of(validate_batches(b)), errc::invalid_record);
  // Header says 4 records (consistently) but only 3 are present.
  b = good_batch();
  put32(b, 57, 4);
  put32(b, 23, 3);
  fix_crc(b);
  EXPECT_EQ(code_of(validate_batches(b)), errc::invalid_record);
  EXPECT_TRUE(validate_batches(b, {.check_records = false}));
  // Header says 2 records but 3 are present.
  b = good_batch();
  put32(b, 57, 2);
  put32(b, 23, 1);
  fix_crc(b);
  EXPECT_EQ(code_of(validate_batches(b)), errc::invalid_record);
}

TEST(RecordBatch, RecordFramingDamageIsInvalidRecord) {
  std::string b = good_batch();
  // The first record's length varint sits right after the header; make it claim 1 byte more.
  reader r(std::string_view(b).substr(batch_header_bytes));
  const int32_t len = r.read_varint();
  writer w;
  w.write_varint(len + 1);
  ASSERT_EQ(w.size(), 1u);
  b[batch_header_bytes] = w.buffer()[0];
  fix_crc(b);
  EXPECT_EQ(code_of(validate_batches(b)), errc::invalid_record);
}

TEST(RecordBatch, ProducerAndControlRules) {
  std::string b = good_batch({.producer_id = 3, .producer_epoch = 0, .base_sequence = -1});
  EXPECT_EQ(code_of(validate_batches(b)), errc::invalid_record);
  b = good_batch({.attributes = attr_control});
  EXPECT_EQ(code_of(validate_batches(b)), errc::invalid_record);
  EXPECT_TRUE(validate_batches(b, {.from_client = false}));
  b = good_batch(
      {.attributes = attr_transactional, .producer_id = 3, .producer_epoch = 0, .base_sequence = 0});
  auto v = validate_batches(b);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v.value()[0].header.is_transactional());
}

TEST(RecordBatch, CompressionCodecs) {
  std::string b = good_batch();
  put16(b, 21, 5);  // codec 5 does not exist
  fix_crc(b);
  EXPECT_EQ(code_of(validate_batches(b)), errc::unsupported_compression);
  put16(b, 21, 4);  // zstd: records are an opaque blob, not walked
  fix_crc(b);
  EXPECT_EQ(code_of(validate_batches(b, {.produce_version = 6})), errc::unsupported_compression);
  auto v = validate_batches(b, {.produce_version = 7});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v.value()[0].header.codec(), compression_codec::zstd);
  auto recs = decode_records(v.value()[0]);
  ASSERT_FALSE(recs);
  EXPECT_TRUE(recs.error().is(errc::unsupported_compression));
}

TEST(RecordBatch, SizeLimit) {
  const std::string b = good_batch();
  EXPECT_EQ(code_of(validate_batches(b, {.max_batch_bytes = b.size() - 1})), errc::message_too_large);
  EXPECT_TRUE(validate_batches(b, {.max_batch_bytes = b.size()}));
}

TEST(RecordBatch, ProduceV3NeedsExactlyOneBatch) {
  const std::string two = good_batch() + good_batch();
  auto v = validate_batches(two);
  ASSERT_TRUE(v);
  ASSERT_EQ(v.value().size(), 2u);
  EXPECT_EQ(v.value()[1].position, two.size() / 2);
  EXPECT_EQ(code_of(validate_batches(two, {.produce_version = 3})), errc::invalid_record);
  EXPECT_TRUE(validate_batches(two, {.produce_version = 2}));
}

TEST(RecordBatch, AssignOffsetsInPlace) {
  std::string b = good_batch();
  const std::string crc_before = b.substr(17, 4);
  ASSERT_TRUE(assign_offsets(b, 1000, 7));
  EXPECT_EQ(b.substr(17, 4), crc_before);
  auto v = validate_batches(b, {.from_client = false});
  ASSERT_TRUE(v);
  EXPECT_EQ(v.value()[0].header.base_offset, 1000);
  EXPECT_EQ(v.value()[0].header.last_offset(), 1002);
  EXPECT_EQ(v.value()[0].header.partition_leader_epoch, 7);
  std::string tiny(10, '\0');
  EXPECT_FALSE(assign_offsets(tiny, 1, 1));
}

TEST(RecordBatch, LogAppendTimeRewritesCrc) {
  std::string b = good_batch();
  ASSERT_TRUE(set_log_append_time(b, 99999));
  auto v = validate_batches(b);
  ASSERT_TRUE(v) << v.error().message();
  const batch_header& h = v.value()[0].header;
  EXPECT_TRUE(h.log_append_time());
  EXPECT_EQ(h.max_timestamp, 99999);
  auto recs = decode_records(v.value()[0]);
  ASSERT_TRUE(recs);
  for (const auto& r : recs.value()) EXPECT_EQ(record_timestamp(h, r), 99999);
  std::string cut = b.substr(0, 70);
  EXPECT_FALSE(set_log_append_time(cut, 1));
}

TEST(RecordBatch, SequenceWraps) {
  batch_header h;
  h.base_sequence = INT32_MAX - 1;
  h.last_offset_delta = 3;
  EXPECT_EQ(h.last_sequence(), 1);
}

TEST(RecordBatch, RandomMutationsNeverCrash) {
  std::mt19937 rng(7);
  const std::string base =
      good_batch() + good_batch({.producer_id = 1, .producer_epoch = 0, .base_sequence = 0});
  int ok = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string b = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) b[rng() % b.size()] = static_cast<char>(rng());
    if (rng() % 3 == 0) fix_crc(b);
    if (rng() % 5 == 0) b.resize(rng() % b.size());
    auto v = validate_batches(b, {.check_records = rng() % 2 == 0});
    if (v) {
      ++ok;
      for (const auto& bv : v.value()) (void)decode_records(bv);
    }
    (void)convert_v2_to_legacy(b, 1);
    (void)convert_legacy_to_v2(b);
  }
  EXPECT_GE(ok, 0);
}

// Legacy message sets.

std::string legacy_message(int8_t magic, int64_t offset, int8_t attributes, int64_t ts,
                           std::optional<std::string_view> key, std::optional<std::string_view> value) {
  writer body;
  body.write_int8(magic);
  body.write_int8(attributes);
  if (magic == 1) body.write_int64(ts);
  for (const auto& f : {key, value}) {
    if (f) {
      body.write_int32(static_cast<int32_t>(f->size()));
      body.write_raw(*f);
    } else {
      body.write_int32(-1);
    }
  }
  writer w;
  w.write_int64(offset);
  w.write_int32(static_cast<int32_t>(body.size() + 4));
  w.write_uint32(crc32_ieee(body.buffer()));
  w.write_raw(body.buffer());
  return w.take();
}

std::string gzip(std::string_view in) {
  isal_zstream s;
  isal_deflate_stateless_init(&s);
  s.gzip_flag = IGZIP_GZIP;
  s.level = 0;
  s.end_of_stream = 1;
  std::string out(in.size() + 1024, '\0');
  s.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uint32_t>(in.size());
  s.next_out = reinterpret_cast<uint8_t*>(out.data());
  s.avail_out = static_cast<uint32_t>(out.size());
  EXPECT_EQ(isal_deflate_stateless(&s), COMP_OK);
  out.resize(s.total_out);
  return out;
}

TEST(Legacy, ParseAndConvertUncompressed) {
  const std::string set =
      legacy_message(1, 0, 0, 10, "a", "1") + legacy_message(1, 1, 0, 5, std::nullopt, "2");
  auto msgs = parse_legacy_message_set(set);
  ASSERT_TRUE(msgs) << msgs.error().message();
  ASSERT_EQ(msgs.value().size(), 2u);
  EXPECT_EQ(msgs.value()[0].key, "a");
  EXPECT_EQ(msgs.value()[1].offset, 1);

  auto v2 = convert_legacy_to_v2(set);
  ASSERT_TRUE(v2) << v2.error().message();
  auto batches = validate_batches(v2.value(), {.produce_version = 3});
  ASSERT_TRUE(batches) << batches.error().message();
  const batch_header& h = batches.value()[0].header;
  EXPECT_EQ(h.record_count, 2);
  EXPECT_EQ(h.base_timestamp, 10);
  EXPECT_EQ(h.max_timestamp, 10);
  auto recs = decode_records(batches.value()[0]);
  ASSERT_TRUE(recs);
  EXPECT_EQ(record_timestamp(h, recs.value()[1]), 5);
  EXPECT_EQ(recs.value()[1].value, "2");
  EXPECT_FALSE(recs.value()[1].key);

  // v0 messages have no timestamp.
  auto v0 = convert_legacy_to_v2(legacy_message(0, 0, 0, 0, "k", "v"));
  ASSERT_TRUE(v0);
  EXPECT_EQ(read_batch_header(v0.value()).value().max_timestamp, -1);
}

TEST(Legacy, Corruption) {
  std::string m = legacy_message(1, 0, 0, 10, "a", "1");
  std::string bad = m;
  bad.back() ^= 1;
  EXPECT_TRUE(parse_legacy_message_set(bad).error().is(errc::corrupt_message));
  EXPECT_TRUE(parse_legacy_message_set(m.substr(0, m.size() - 1)).error().is(errc::corrupt_message));
  bad = m;
  bad[16] = 2;  // magic
  EXPECT_TRUE(parse_legacy_message_set(bad).error().is(errc::corrupt_message));
  bad = m;
  bad[11] = 5;  // MessageSize below the minimum
  EXPECT_TRUE(parse_legacy_message_set(bad).error().is(errc::corrupt_message));
  EXPECT_TRUE(parse_legacy_message_set(m, m.size() - 1).error().is(errc::message_too_large));
  EXPECT_TRUE(parse_legacy_message_set("").error().is(errc::invalid_record));
  // A key length pointing past the message (with a matching CRC).
  std::string lying = legacy_message(0, 0, 0, 0, "abc", "d");
  lying[18 + 3] = 100;
  std::string body = lying.substr(16);
  const uint32_t crc = crc32_ieee(body);
  for (int i = 0; i < 4; ++i) lying[12 + i] = static_cast<char>(crc >> (24 - 8 * i));
  EXPECT_TRUE(parse_legacy_message_set(lying).error().is(errc::corrupt_message));
}

TEST(Legacy, GzipWrapperIsInflated) {
  const std::string inner = legacy_message(1, 0, 0, 10, "a", "1") + legacy_message(1, 1, 0, 11, "b", "2");
  const std::string wrapper = legacy_message(1, 1, 1 /*gzip*/, 11, std::nullopt, gzip(inner));
  auto v2 = convert_legacy_to_v2(wrapper);
  ASSERT_TRUE(v2) << v2.error().message();
  auto batches = validate_batches(v2.value());
  ASSERT_TRUE(batches);
  auto recs = decode_records(batches.value()[0]);
  ASSERT_TRUE(recs);
  ASSERT_EQ(recs.value().size(), 2u);
  EXPECT_EQ(recs.value()[0].key, "a");
  EXPECT_EQ(recs.value()[1].value, "2");

  // Garbage inside the gzip wrapper.
  const std::string broken = legacy_message(1, 0, 1, 0, std::nullopt, "not gzip at all");
  EXPECT_TRUE(convert_legacy_to_v2(broken).error().is(errc::corrupt_message));
}

TEST(Legacy, SnappyAndLz4AreUnsupported) {
  for (int8_t codec : {2, 3}) {
    const std::string wrapper = legacy_message(1, 0, codec, 0, std::nullopt, "opaque");
    auto r = convert_legacy_to_v2(wrapper);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unsupported_compression));
  }
}

TEST(Legacy, DownConversion) {
  std::string stored = good_batch();
  ASSERT_TRUE(assign_offsets(stored, 50, 0));
  std::string control = good_batch({.attributes = attr_control});
  ASSERT_TRUE(assign_offsets(control, 53, 0));
  std::string partial = good_batch();
  const std::string all = stored + control + partial.substr(0, partial.size() - 3);
  auto set = convert_v2_to_legacy(all, 1);
  ASSERT_TRUE(set) << set.error().message();
  auto msgs = parse_legacy_message_set(set.value());
  ASSERT_TRUE(msgs);
  ASSERT_EQ(msgs.value().size(), 3u);  // control batch dropped, partial batch dropped
  EXPECT_EQ(msgs.value()[0].offset, 50);
  EXPECT_EQ(msgs.value()[2].offset, 52);
  EXPECT_EQ(msgs.value()[1].timestamp, 1500);
  EXPECT_EQ(msgs.value()[0].key, "k0");

  std::string zstd = good_batch();
  put16(zstd, 21, 4);
  fix_crc(zstd);
  EXPECT_TRUE(convert_v2_to_legacy(zstd, 1).error().is(errc::unsupported_compression));
  EXPECT_FALSE(convert_v2_to_legacy(stored, 2));
  EXPECT_EQ(convert_v2_to_legacy("", 0).value(), "");
}

}  // namespace
}  // namespace sluice::kafka::protocol
