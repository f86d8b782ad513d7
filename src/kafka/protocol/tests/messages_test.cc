// Generic tests over every generated message at every version: round trips, defaults, truncation,
// garbage, unknown tagged fields and version checks.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "kafka/protocol/api_table.h"
#include "kafka/protocol/messages/all.h"
#include "kafka/protocol/messages/samples.h"

namespace sluice::kafka::protocol {
namespace {

constexpr uint32_t kSeeds = 8;

template <class M>
void expect_round_trip(const M& msg, int16_t version, const std::string& what) {
  auto ok = msg.check_writable(version);
  ASSERT_TRUE(ok) << what << ": " << ok.error().message();
  writer w;
  msg.write(w, version);
  ASSERT_TRUE(w.ok()) << what;
  const std::string bytes = w.take();
  auto back = decode<M>(bytes, version);
  ASSERT_TRUE(back) << what << ": " << back.error().message();
  EXPECT_TRUE(back.value() == msg) << what;
  EXPECT_EQ(encode(back.value(), version), bytes) << what;
}

struct counts {
  int messages = 0;
};

TEST(Messages, RoundTripEveryMessageEveryVersion) {
  counts n;
  for_each_api([&]<class Api>() {
    for (int16_t v = Api::min_version; v <= Api::max_version; ++v) {
      for (uint32_t seed = 0; seed < kSeeds; ++seed) {
        typename Api::request req;
        fill_sample(req, v, seed);
        expect_round_trip(
            req, v,
            std::string(Api::name) + " request v" + std::to_string(v) + " seed " + std::to_string(seed));
        typename Api::response resp;
        fill_sample(resp, v, seed);
        expect_round_trip(
            resp, v,
            std::string(Api::name) + " response v" + std::to_string(v) + " seed " + std::to_string(seed));
        n.messages += 2;
      }
    }
  });
  EXPECT_GT(n.messages, 0);
}

TEST(Messages, DefaultsRoundTrip) {
  for_each_api([&]<class Api>() {
    for (int16_t v = Api::min_version; v <= Api::max_version; ++v) {
      expect_round_trip(typename Api::request{}, v,
                        std::string(Api::name) + " default request v" + std::to_string(v));
      expect_round_trip(typename Api::response{}, v,
                        std::string(Api::name) + " default response v" + std::to_string(v));
    }
  });
}

TEST(Messages, ApiDescriptorsMatchTable) {
  int apis = 0;
  for_each_api([&]<class Api>() {
    const api_info* info = find_api(Api::key);
    ASSERT_NE(info, nullptr) << Api::name;
    EXPECT_EQ(info->name, Api::name);
    EXPECT_EQ(info->min_version, Api::min_version);
    EXPECT_EQ(info->max_version, Api::max_version);
    EXPECT_EQ(info->first_flexible_version, Api::first_flexible_version);
    EXPECT_EQ(Api::request::api_key, Api::key);
    EXPECT_EQ(Api::response::max_version, Api::max_version);
    ++apis;
  });
  EXPECT_EQ(apis, 28);
}

// The ranges the issue asks for.
TEST(Messages, RequiredVersionRanges) {
  const struct {
    int16_t key;
    int16_t max;
  } want[] = {{18, 3}, {3, 12}, {0, 9},  {1, 12}, {2, 7},  {10, 4}, {11, 9}, {14, 5}, {12, 4}, {13, 5},
              {8, 8},  {9, 8},  {15, 5}, {16, 4}, {42, 2}, {47, 0}, {19, 7}, {20, 6}, {37, 3}, {32, 4},
              {33, 2}, {44, 1}, {21, 2}, {22, 4}, {23, 4}, {60, 0}, {17, 1}, {36, 2}};
  for (const auto& w : want) {
    const api_info* info = find_api(w.key);
    ASSERT_NE(info, nullptr) << w.key;
    EXPECT_EQ(info->min_version, 0) << info->name;
    EXPECT_EQ(info->max_version, w.max) << info->name;
  }
}

TEST(Messages, TruncatedInputFailsCleanly) {
  for_each_api([&]<class Api>() {
    for (int16_t v = Api::min_version; v <= Api::max_version; ++v) {
      auto check = [&]<class M>(const M& msg, const char* kind) {
        const std::string bytes = encode(msg, v);
        for (size_t cut = 0; cut < bytes.size(); ++cut) {
          // Every field of a version is always encoded, so every strict prefix lacks something.
          auto r = decode<M>(std::string_view(bytes).substr(0, cut), v);
          ASSERT_FALSE(r) << Api::name << " " << kind << " v" << v << " cut " << cut;
          const auto& e = r.error();
          EXPECT_TRUE(e.is(errc::truncated) || e.is(errc::invalid_length) || e.is(errc::invalid_varint))
              << Api::name << " " << kind << " v" << v << " cut " << cut << ": " << e.message();
        }
      };
      typename Api::request req;
      fill_sample(req, v, 1);
      check(req, "request");
      typename Api::response resp;
      fill_sample(resp, v, 2);
      check(resp, "response");
    }
  });
}

TEST(Messages, EveryStrictPrefixOfAMetadataRequestFails) {
  metadata_request m;
  m.topics.emplace();
  m.topics->push_back({});
  m.topics->back().name = "orders";
  m.allow_auto_topic_creation = false;
  for (int16_t v = 4; v <= metadata_request::max_version; ++v) {
    const std::string bytes = encode(m, v);
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      EXPECT_FALSE(decode<metadata_request>(std::string_view(bytes).substr(0, cut), v)) << v << " " << cut;
    }
  }
}

TEST(Messages, GarbageNeverCrashes) {
  std::mt19937 rng(12345);
  int decoded = 0;
  for_each_api([&]<class Api>() {
    for (int16_t v = Api::min_version; v <= Api::max_version; ++v) {
      for (int i = 0; i < 200; ++i) {
        std::string junk(rng() % 64, '\0');
        for (auto& c : junk) c = static_cast<char>(rng() % 4 == 0 ? 0xff : rng() % 3);
        if (auto r = decode<typename Api::request>(junk, v)) {
          ++decoded;
          (void)encode(r.value(), v);
        }
        if (auto r = decode<typename Api::response>(junk, v)) {
          ++decoded;
          (void)encode(r.value(), v);
        }
      }
    }
  });
  EXPECT_GE(decoded, 0);
}

TEST(Messages, UnsupportedVersionIsAnError) {
  auto r = decode<fetch_request>("", 13);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::unsupported_version));
  EXPECT_FALSE(decode<produce_request>("", -1));
  EXPECT_TRUE(fetch_request{}.check_writable(13).error().is(errc::unsupported_version));
}

TEST(Messages, UnknownTagsAreSkippedAndKept) {
  // Every flexible message: append an unknown tag to the top-level tag section and decode.
  for_each_api([&]<class Api>() {
    if constexpr (Api::first_flexible_version >= 0) {
      for (int16_t v = Api::first_flexible_version; v <= Api::max_version; ++v) {
        typename Api::request req;
        fill_sample(req, v, 0);
        req.unknown_tags.push_back({900, "\x01\x02\x03"});
        req.unknown_tags.push_back({901, ""});
        expect_round_trip(req, v,
                          std::string(Api::name) + " request with unknown tags v" + std::to_string(v));

        typename Api::response resp;
        fill_sample(resp, v, 0);
        const std::string plain = encode(resp, v);
        resp.unknown_tags.push_back({77777, std::string(300, 'x')});  // multi-byte tag and size varints
        const std::string tagged = encode(resp, v);
        EXPECT_GT(tagged.size(), plain.size() + 300);
        auto back = decode<typename Api::response>(tagged, v);
        ASSERT_TRUE(back) << Api::name;
        EXPECT_TRUE(back.value() == resp) << Api::name;
        // Dropping the unknown tag gives back the plain encoding.
        auto copy = back.value();
        copy.unknown_tags.clear();
        EXPECT_EQ(encode(copy, v), plain) << Api::name;
      }
    }
  });
}

TEST(Messages, KnownTaggedFieldsOnlyWhenNotDefault) {
  fetch_response r;
  r.responses.emplace_back();
  r.responses[0].topic = "t";
  r.responses[0].partitions.emplace_back();
  auto& p = r.responses[0].partitions[0];
  p.records = std::string_view("");
  const std::string plain = encode(r, 12);
  p.diverging_epoch.epoch = 3;
  p.diverging_epoch.end_offset = 100;
  const std::string tagged = encode(r, 12);
  // tag 0, size 13 (int32 + int64 + empty tag section)
  EXPECT_EQ(tagged.size(), plain.size() + 2 + 13);
  auto back = decode<fetch_response>(tagged, 12);
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value().responses[0].partitions[0].diverging_epoch.epoch, 3);
  EXPECT_EQ(back.value().responses[0].partitions[0].diverging_epoch.end_offset, 100);
  EXPECT_TRUE(back.value() == r);
}

TEST(Messages, ApiVersionsTaggedFields) {
  api_versions_response r;
  r.zk_migration_ready = true;
  auto back = decode<api_versions_response>(encode(r, 3), 3);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back.value().zk_migration_ready);
  EXPECT_TRUE(back.value().unknown_tags.empty());
}

TEST(Messages, CheckWritableRejectsLostValues) {
  join_group_response r;
  r.skip_assignment = true;  // v9+, not ignorable
  EXPECT_TRUE(r.check_writable(9));
  EXPECT_TRUE(r.check_writable(8).error().is(errc::not_writable));
  r.skip_assignment = false;
  r.protocol_type = "consumer";  // v7+, ignorable: silently dropped below v7
  EXPECT_TRUE(r.check_writable(6));
  r.protocol_name.reset();  // nullable only from v7
  EXPECT_TRUE(r.check_writable(7));
  EXPECT_TRUE(r.check_writable(6).error().is(errc::not_writable));

  metadata_request m;
  m.topics.reset();  // null means "all topics" from v1; v0 cannot say it
  EXPECT_TRUE(m.check_writable(1));
  EXPECT_FALSE(m.check_writable(0));

  describe_configs_response d;
  d.results.emplace_back();
  d.results[0].configs.emplace_back();
  d.results[0].configs[0].is_default = true;  // v0 only
  EXPECT_TRUE(d.check_writable(0));
  EXPECT_TRUE(d.check_writable(1).error().is(errc::not_writable));

  sasl_handshake_request s;
  s.mechanism = std::string(40000, 'a');
  EXPECT_TRUE(s.check_writable(1).error().is(errc::not_writable));
  writer w;
  s.write(w, 1);
  EXPECT_FALSE(w.ok());
}

TEST(Messages, AbsentFieldsTakeDefaultsWhenReading) {
  produce_response r;
  r.responses.emplace_back();
  r.responses[0].partition_responses.emplace_back();
  r.responses[0].partition_responses[0].log_append_time_ms = 5;
  r.responses[0].partition_responses[0].log_start_offset = 7;
  r.throttle_time_ms = 11;
  auto v0 = decode<produce_response>(encode(r, 0), 0);
  ASSERT_TRUE(v0);
  EXPECT_EQ(v0.value().responses[0].partition_responses[0].log_append_time_ms, -1);
  EXPECT_EQ(v0.value().responses[0].partition_responses[0].log_start_offset, -1);
  EXPECT_EQ(v0.value().throttle_time_ms, 0);
  auto v5 = decode<produce_response>(encode(r, 5), 5);
  ASSERT_TRUE(v5);
  EXPECT_EQ(v5.value().responses[0].partition_responses[0].log_start_offset, 7);
  EXPECT_EQ(v5.value().throttle_time_ms, 11);
}

TEST(Messages, ArrayCountsAreBoundedBeforeAllocation) {
  // Metadata v1 response claiming 2^31-1 brokers in a 10-byte body must fail without allocating.
  const std::string body("\x7f\xff\xff\xff\x00\x00", 6);
  auto r = decode<metadata_response>(body, 1);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::invalid_length));
}

}  // namespace
}  // namespace sluice::kafka::protocol
