#include "kafka/protocol/wire.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "kafka/protocol/api_table.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/frame.h"
#include "kafka/protocol/header.h"

namespace sluice::kafka::protocol {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(Wire, BigEndianIntegers) {
  writer w;
  w.write_int8(-2);
  w.write_int16(0x0102);
  w.write_int32(-1);
  w.write_int64(0x0102030405060708LL);
  w.write_uint16(0xfffe);
  w.write_uint32(0x80000001u);
  w.write_bool(true);
  w.write_float64(1.5);
  EXPECT_EQ(w.buffer(), bytes({0xfe, 1,    2,    0xff, 0xff, 0xff, 0xff, 1,    2,    3, 4, 5, 6, 7, 8,
                               0xff, 0xfe, 0x80, 0,    0,    1,    1,    0x3f, 0xf8, 0, 0, 0, 0, 0, 0}));
  reader r(w.buffer());
  EXPECT_EQ(r.read_int8(), -2);
  EXPECT_EQ(r.read_int16(), 0x0102);
  EXPECT_EQ(r.read_int32(), -1);
  EXPECT_EQ(r.read_int64(), 0x0102030405060708LL);
  EXPECT_EQ(r.read_uint16(), 0xfffe);
  EXPECT_EQ(r.read_uint32(), 0x80000001u);
  EXPECT_TRUE(r.read_bool());
  EXPECT_EQ(r.read_float64(), 1.5);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Wire, UnsignedVarints) {
  // Values and encodings from the protobuf varint definition Kafka uses (ByteUtils.writeUnsignedVarint).
  const std::pair<uint32_t, std::string> cases[] = {
      {0, bytes({0})},
      {1, bytes({1})},
      {127, bytes({0x7f})},
      {128, bytes({0x80, 1})},
      {300, bytes({0xac, 2})},
      {16384, bytes({0x80, 0x80, 1})},
      {0xffffffffu, bytes({0xff, 0xff, 0xff, 0xff, 0x0f})},
  };
  for (const auto& [v, enc] : cases) {
    writer w;
    w.write_uvarint(v);
    EXPECT_EQ(w.buffer(), enc) << v;
    reader r(enc);
    EXPECT_EQ(r.read_uvarint(), v);
    EXPECT_TRUE(r.ok());
  }
}

TEST(Wire, ZigzagVarints) {
  const std::pair<int32_t, std::string> cases[] = {
      {0, bytes({0})},
      {-1, bytes({1})},
      {1, bytes({2})},
      {-2, bytes({3})},
      {63, bytes({0x7e})},
      {-64, bytes({0x7f})},
      {64, bytes({0x80, 1})},
      {std::numeric_limits<int32_t>::max(), bytes({0xfe, 0xff, 0xff, 0xff, 0x0f})},
      {std::numeric_limits<int32_t>::min(), bytes({0xff, 0xff, 0xff, 0xff, 0x0f})},
  };
  for (const auto& [v, enc] : cases) {
    writer w;
    w.write_varint(v);
    EXPECT_EQ(w.buffer(), enc) << v;
    reader r(enc);
    EXPECT_EQ(r.read_varint(), v);
  }
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1} << 40, -(int64_t{1} << 40),
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    writer w;
    w.write_varlong(v);
    reader r(w.buffer());
    EXPECT_EQ(r.read_varlong(), v);
    EXPECT_EQ(r.remaining(), 0u);
  }
}

TEST(Wire, OverlongVarintsFail) {
  reader r(bytes({0xff, 0xff, 0xff, 0xff, 0x1f}));  // 33 bits
  r.read_uvarint();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().error().is(errc::invalid_varint));
  reader r2(bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}));
  r2.read_uvarlong();
  EXPECT_TRUE(r2.status().error().is(errc::invalid_varint));
  reader r3(bytes({0x80, 0x80}));
  r3.read_uvarint();
  EXPECT_TRUE(r3.status().error().is(errc::truncated));
}

TEST(Wire, ErrorsAreStickyAndSafe) {
  reader r(bytes({0, 1}));
  EXPECT_EQ(r.read_int32(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.status().error().is(errc::truncated));
  EXPECT_EQ(r.read_int8(), 0);  // further reads are harmless
  EXPECT_EQ(r.read_raw(5), "");
  EXPECT_NE(r.status().error().message().find("at byte 0"), std::string::npos);
}

TEST(Wire, Strings) {
  writer w;
  w.write_string("abc", false);
  w.write_string("abc", true);
  w.write_string(std::optional<std::string>(), false);
  w.write_string(std::optional<std::string>(), true);
  w.write_string("", true);
  EXPECT_EQ(w.buffer(), bytes({0, 3, 'a', 'b', 'c', 4, 'a', 'b', 'c', 0xff, 0xff, 0, 1}));
  reader r(w.buffer());
  std::string a;
  std::optional<std::string> b, c, d, e;
  r.read_string(a, false, "a");
  r.read_string(b, true, false, "b");
  r.read_string(c, false, true, "c");
  r.read_string(d, true, true, "d");
  r.read_string(e, true, true, "e");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(a, "abc");
  EXPECT_EQ(b, "abc");
  EXPECT_FALSE(c);
  EXPECT_FALSE(d);
  EXPECT_EQ(e, "");
}

TEST(Wire, NullInNonNullableFieldFails) {
  reader r(bytes({0xff, 0xff}));
  std::string s;
  r.read_string(s, false, "topic");
  EXPECT_TRUE(r.status().error().is(errc::unexpected_null));
  reader r2(bytes({0}));
  std::optional<std::string> o;
  r2.read_string(o, true, /*nullable=*/false, "topic");
  EXPECT_TRUE(r2.status().error().is(errc::unexpected_null));
}

TEST(Wire, LengthsAreBoundedByRemainingBytes) {
  reader r(bytes({0x80, 0x00, 'a'}));
  std::string s;
  r.read_string(s, false, "s");
  EXPECT_TRUE(r.status().error().is(errc::invalid_length));  // -32768
  reader r0(bytes({0x81, 0x80, 0x02, 'a'}));                 // compact 32769 - 1 > 0x7fff
  r0.read_string(s, true, "s");
  EXPECT_TRUE(r0.status().error().is(errc::invalid_length));
  reader r2(bytes({0x00, 0x05, 'a'}));
  r2.read_string(s, false, "s");
  EXPECT_TRUE(r2.status().error().is(errc::truncated));
  reader r3(bytes({0x7f, 0xff, 0xff, 0xff}));
  EXPECT_EQ(r3.read_array_length(false, 4), -1);
  EXPECT_TRUE(r3.status().error().is(errc::invalid_length));
  reader r4(bytes({0xff, 0xff, 0xff, 0xfe}));
  r4.read_array_length(false, 1);
  EXPECT_TRUE(r4.status().error().is(errc::invalid_length));
  reader r5(bytes({0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7}));  // 2 elements of at least 4 bytes: 8 > 7
  r5.read_array_length(false, 4);
  EXPECT_TRUE(r5.status().error().is(errc::invalid_length));
}

TEST(Wire, UnknownTaggedFieldsAreKeptAndReemittedInOrder) {
  // count 2: tag 1 (2 bytes), tag 7 (0 bytes)
  const std::string section = bytes({2, 1, 2, 0xaa, 0xbb, 7, 0});
  reader r(section);
  tagged_fields unknown;
  r.read_tagged_fields(unknown, [](uint32_t, reader&) { return false; });
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[0].tag, 1u);
  EXPECT_EQ(unknown[0].data, bytes({0xaa, 0xbb}));
  EXPECT_EQ(unknown[1].tag, 7u);

  // A known tag 3 is emitted between the unknown 1 and 7.
  writer w;
  tag_section_writer tags(w, unknown, 1);
  tags.field(3, [](writer& tw) { tw.write_int8(9); });
  tags.finish();
  EXPECT_EQ(w.buffer(), bytes({3, 1, 2, 0xaa, 0xbb, 3, 1, 9, 7, 0}));
}

TEST(Wire, TaggedFieldPayloadErrorsPropagate) {
  const std::string section = bytes({1, 0, 1, 0x80});  // tag 0, payload is a truncated varint
  reader r(section);
  tagged_fields unknown;
  r.read_tagged_fields(unknown, [](uint32_t, reader& tr) {
    tr.read_uvarint();
    return true;
  });
  EXPECT_FALSE(r.ok());
  reader r2(bytes({1, 0, 5, 1}));  // payload size beyond the input
  r2.read_tagged_fields(unknown, [](uint32_t, reader&) { return false; });
  EXPECT_TRUE(r2.status().error().is(errc::truncated));
}

TEST(Frame, SizeLimits) {
  EXPECT_TRUE(read_frame_size(bytes({0xff, 0xff, 0xff, 0xff})).error().is(errc::invalid_frame));
  EXPECT_TRUE(read_frame_size(bytes({0, 0, 0, 7})).error().is(errc::invalid_frame));
  EXPECT_TRUE(read_frame_size(bytes({0x7f, 0, 0, 0})).error().is(errc::frame_too_large));
  EXPECT_TRUE(read_frame_size(bytes({0, 0, 1, 1}), 256).error().is(errc::frame_too_large));
  EXPECT_EQ(read_frame_size(bytes({0, 0, 1, 0}), 256).value(), 256);
  EXPECT_TRUE(read_frame_size(bytes({0, 0})).error().is(errc::truncated));
}

TEST(Frame, NextFrameNeedsWholeFrame) {
  const std::string two = bytes({0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9, 1});
  auto f = next_frame(two);
  ASSERT_TRUE(f && f.value());
  EXPECT_EQ(f.value()->payload, bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(f.value()->consumed, 12u);
  auto g = next_frame(std::string_view(two).substr(12));
  ASSERT_TRUE(g);
  EXPECT_FALSE(g.value());  // 9 bytes announced, 1 present
  auto h = next_frame(std::string_view(two).substr(0, 3));
  ASSERT_TRUE(h);
  EXPECT_FALSE(h.value());
  EXPECT_FALSE(next_frame(bytes({0x80, 0, 0, 0})));
}

TEST(Frame, BeginEndFrame) {
  writer w;
  const size_t start = begin_frame(w);
  write_response_header(w, 7, 0);
  w.write_int16(0);
  end_frame(w, start);
  EXPECT_EQ(w.buffer(), bytes({0, 0, 0, 6, 0, 0, 0, 7, 0, 0}));
}

TEST(Header, RequestHeaderV2ClientIdIsNotCompact) {
  request_header h{18, 3, 42, std::string("cli"), {}};
  writer w;
  write_request_header(w, h, 2);
  // key 18, version 3, correlation 42, int16 length 3 + "cli", empty tag section
  EXPECT_EQ(w.buffer(), bytes({0, 18, 0, 3, 0, 0, 0, 42, 0, 3, 'c', 'l', 'i', 0}));
  reader r(w.buffer());
  auto back = read_request_header(r);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back.value(), h);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Header, NullClientIdAndHeaderV1) {
  request_header h{3, 1, -5, std::nullopt, {}};
  writer w;
  write_request_header(w, h, 1);
  EXPECT_EQ(w.buffer(), bytes({0, 3, 0, 1, 0xff, 0xff, 0xff, 0xfb, 0xff, 0xff}));
  reader r(w.buffer());
  auto back = read_request_header(r);
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value(), h);
}

TEST(Header, UnknownApiAndTooNewVersionStillParse) {
  // ApiVersions v9 (above our max): header v2, so the tag section is consumed (KIP-511).
  const std::string v9 = bytes({0, 18, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0xee});
  reader r(v9);
  auto h = read_request_header(r);
  ASSERT_TRUE(h);
  EXPECT_EQ(h.value().api_version, 9);
  EXPECT_EQ(h.value().correlation_id, 1);
  EXPECT_EQ(r.remaining(), 1u);
  // Unknown key 1000: header v1.
  const std::string unknown = bytes({0x03, 0xe8, 0, 0, 0, 0, 0, 2, 0, 0});
  reader r2(unknown);
  auto h2 = read_request_header(r2);
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2.value().correlation_id, 2);
  EXPECT_EQ(h2.value().client_id, "");
  reader r3(bytes({0, 18, 0}));
  EXPECT_FALSE(read_request_header(r3));
}

TEST(Header, ResponseHeaders) {
  writer w;
  write_response_header(w, 9, 1);
  EXPECT_EQ(w.buffer(), bytes({0, 0, 0, 9, 0}));
  reader r(w.buffer());
  response_header h;
  read_response_header(r, 1, h);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(h.correlation_id, 9);
}

TEST(ApiTable, HeaderVersions) {
  EXPECT_EQ(request_header_version(18, 2), 1);
  EXPECT_EQ(request_header_version(18, 3), 2);
  EXPECT_EQ(response_header_version(18, 3), 0);  // KIP-511
  EXPECT_EQ(request_header_version(3, 8), 1);
  EXPECT_EQ(request_header_version(3, 9), 2);
  EXPECT_EQ(response_header_version(3, 9), 1);
  EXPECT_EQ(response_header_version(0, 8), 0);
  EXPECT_EQ(request_header_version(60, 0), 2);  // DescribeCluster is always flexible
  EXPECT_EQ(request_header_version(17, 1), 1);  // SaslHandshake is never flexible
  EXPECT_EQ(response_header_version(17, 1), 0);
  EXPECT_EQ(request_header_version(999, 0), 1);
}

TEST(ApiTable, Table) {
  const api_info* fetch = find_api(1);
  ASSERT_NE(fetch, nullptr);
  EXPECT_EQ(fetch->name, "Fetch");
  EXPECT_EQ(fetch->min_version, 0);
  EXPECT_EQ(fetch->max_version, 12);
  EXPECT_EQ(fetch->first_flexible_version, 12);
  EXPECT_EQ(find_api(24), nullptr);
  EXPECT_EQ(find_api(-1), nullptr);
  EXPECT_EQ(codec_apis().size(), 28u);
  for (size_t i = 1; i < codec_apis().size(); ++i) EXPECT_LT(codec_apis()[i - 1].key, codec_apis()[i].key);
}

TEST(Errors, NamesAndMapping) {
  EXPECT_EQ(error_name(error_code::member_id_required), "MEMBER_ID_REQUIRED");
  EXPECT_EQ(static_cast<int>(error_code::member_id_required), 79);
  EXPECT_EQ(static_cast<int>(error_code::invalid_record), 87);
  EXPECT_EQ(static_cast<int>(error_code::unsupported_version), 35);
  EXPECT_EQ(error_name(static_cast<error_code>(9999)), "UNKNOWN");
  EXPECT_EQ(to_error_code(error(errc::corrupt_message)), error_code::corrupt_message);
  EXPECT_EQ(to_error_code(error(errc::invalid_record)), error_code::invalid_record);
  EXPECT_EQ(to_error_code(error(errc::message_too_large)), error_code::message_too_large);
  EXPECT_EQ(to_error_code(error(errc::unsupported_compression)), error_code::unsupported_compression_type);
  EXPECT_EQ(to_error_code(error(errc::truncated)), error_code::invalid_request);
  EXPECT_EQ(to_error_code(error(errc::unsupported_version)), error_code::unsupported_version);
  EXPECT_EQ(to_error_code(error(std::make_error_code(std::errc::io_error))),
            error_code::unknown_server_error);
}

}  // namespace
}  // namespace sluice::kafka::protocol
