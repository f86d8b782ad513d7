#include "events/target_config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/crypto.h"
#include "base/fs.h"

namespace sluice::events {
namespace {

std::map<std::string, std::string> props(const kv_map& kvs) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : kafka_properties(kvs)) out[k] = v;
  return out;
}

TEST(TargetConfig, SectionNames) {
  auto s = parse_section("notify_kafka:1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s.value().kind, target_kind::kafka);
  EXPECT_EQ(s.value().id, "1");
  EXPECT_EQ(s.value().str(), "notify_kafka:1");
  EXPECT_EQ(s.value().arn(), "arn:minio:sqs::1:kafka");
  s = parse_section("notify_webhook");
  ASSERT_TRUE(s);
  EXPECT_EQ(s.value().id, "_");
  EXPECT_EQ(s.value().str(), "notify_webhook");
  EXPECT_EQ(s.value().arn(), "arn:minio:sqs::_:webhook");
  EXPECT_EQ(parse_section("notify_sluice", true).value().id, "");
  EXPECT_TRUE(parse_section("notify_mqtt:1").error().is(errc::unknown_target));
  EXPECT_TRUE(parse_section("notify_kafka:a:b").error().is(errc::bad_config));
  EXPECT_TRUE(parse_section("notify_kafka:").error().is(errc::bad_config));
}

TEST(TargetConfig, ValidatesKafka) {
  EXPECT_TRUE(validate_section(target_kind::kafka, {{"brokers", "h1:9092, h2:9093"}, {"topic", "t"}}));
  auto r = validate_section(target_kind::kafka, {{"brokers", "h:9092"}, {"topic", "t"}, {"bogus", "1"}});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::bad_config));
  EXPECT_NE(r.error().message().find("unknown key 'bogus'"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("brokers"), std::string::npos);
  r = validate_section(target_kind::kafka, {{"topic", "t"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "kafka 'brokers' cannot be empty");
  EXPECT_FALSE(validate_section(target_kind::kafka, {{"brokers", "nohostport"}, {"topic", "t"}}));
  EXPECT_FALSE(validate_section(target_kind::kafka, {{"brokers", "h:1"}}));
  EXPECT_FALSE(
      validate_section(target_kind::kafka, {{"brokers", "h:1"}, {"topic", "t"}, {"sasl_mechanism", "md5"}}));
  EXPECT_FALSE(validate_section(target_kind::kafka, {{"brokers", "h:1"}, {"topic", "t"}, {"tls", "maybe"}}));
  EXPECT_FALSE(
      validate_section(target_kind::kafka, {{"brokers", "h:1"}, {"topic", "t"}, {"queue_dir", "rel"}}));
  EXPECT_FALSE(
      validate_section(target_kind::kafka, {{"brokers", "h:1"}, {"topic", "t"}, {"client_tls_cert", "/c"}}));
  EXPECT_FALSE(validate_section(target_kind::kafka,
                                {{"brokers", "h:1"}, {"topic", "t"}, {"compression_codec", "brotli"}}));
  // MinIO keys Sluice does not need are accepted.
  EXPECT_TRUE(validate_section(target_kind::kafka, {{"brokers", "h:1"},
                                                    {"topic", "t"},
                                                    {"queue_dir", "/q"},
                                                    {"queue_limit", "100"},
                                                    {"version", "2.2.0"},
                                                    {"comment", "x"}}));
  // A disabled section is only checked for its keys.
  EXPECT_TRUE(validate_section(target_kind::kafka, {{"enable", "off"}}));
  EXPECT_FALSE(section_enabled({{"enable", "off"}}));
  EXPECT_TRUE(section_enabled({}));
}

TEST(TargetConfig, ValidatesWebhookAndSluice) {
  EXPECT_TRUE(validate_section(target_kind::webhook, {{"endpoint", "http://127.0.0.1:8080/hook"}}));
  auto r = validate_section(target_kind::webhook, {{"endpoint", "ftp://x"}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not an http:// or https:// URL"), std::string::npos);
  EXPECT_FALSE(validate_section(target_kind::webhook, {}));
  EXPECT_FALSE(validate_section(target_kind::webhook, {{"endpoint", "http://h:99999/"}}));
  // Both end up in each request's head: no way to add headers through them.
  EXPECT_TRUE(
      validate_section(target_kind::webhook, {{"endpoint", "http://h/hook"}, {"auth_token", "abc.def"}}));
  EXPECT_TRUE(
      validate_section(target_kind::webhook, {{"endpoint", "http://h/hook"}, {"auth_token", "Basic dTpw"}}));
  EXPECT_FALSE(validate_section(target_kind::webhook,
                                {{"endpoint", "http://h/hook"}, {"auth_token", "t\r\nX-Injected: 1"}}));
  EXPECT_FALSE(validate_section(target_kind::webhook, {{"endpoint", "http://h/a b"}}));
  EXPECT_FALSE(validate_section(target_kind::webhook, {{"endpoint", "http://h/a\r\nX-Injected: 1"}}));
  EXPECT_TRUE(validate_section(target_kind::sluice, {{"topic", "bucket-events"}}));
  EXPECT_FALSE(validate_section(target_kind::sluice, {{"topic", "bad topic"}}));
  EXPECT_FALSE(validate_section(target_kind::sluice, {{"topic", "t"}, {"brokers", "x:1"}}));
}

TEST(TargetConfig, Endpoints) {
  auto e = parse_endpoint("https://hooks.example.com/a/b?x=1").value();
  EXPECT_TRUE(e.tls);
  EXPECT_EQ(e.host, "hooks.example.com");
  EXPECT_EQ(e.port, 443);
  EXPECT_EQ(e.target, "/a/b?x=1");
  EXPECT_EQ(e.host_header, "hooks.example.com");
  e = parse_endpoint("http://[::1]:8080").value();
  EXPECT_FALSE(e.tls);
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 8080);
  EXPECT_EQ(e.target, "/");
  EXPECT_EQ(e.host_header, "[::1]:8080");
  EXPECT_FALSE(parse_endpoint("http://"));
  EXPECT_FALSE(parse_endpoint("http://user:pw@h/"));
}

TEST(TargetConfig, KafkaProperties) {
  auto p = props({{"brokers", "h1:9092, h2:9092"}, {"topic", "t"}});
  EXPECT_EQ(p["bootstrap.servers"], "h1:9092,h2:9092");
  EXPECT_EQ(p["enable.idempotence"], "true");
  EXPECT_EQ(p["acks"], "all");
  EXPECT_EQ(p["linger.ms"], "5");
  EXPECT_EQ(p["security.protocol"], "PLAINTEXT");
  EXPECT_FALSE(p.contains("sasl.mechanisms"));
  EXPECT_FALSE(p.contains("compression.codec"));

  p = props({{"brokers", "h:9093"},
             {"topic", "t"},
             {"tls", "on"},
             {"tls_skip_verify", "on"},
             {"client_tls_cert", "/c.pem"},
             {"client_tls_key", "/k.pem"},
             {"sasl", "on"},
             {"sasl_mechanism", "sha512"},
             {"sasl_username", "u"},
             {"sasl_password", "p"},
             {"compression_codec", "ZSTD"},
             {"compression_level", "3"}});
  EXPECT_EQ(p["security.protocol"], "SASL_SSL");
  EXPECT_EQ(p["enable.ssl.certificate.verification"], "false");
  EXPECT_EQ(p["ssl.certificate.location"], "/c.pem");
  EXPECT_EQ(p["ssl.key.location"], "/k.pem");
  EXPECT_EQ(p["sasl.mechanisms"], "SCRAM-SHA-512");
  EXPECT_EQ(p["sasl.username"], "u");
  EXPECT_EQ(p["sasl.password"], "p");
  EXPECT_EQ(p["compression.codec"], "zstd");
  EXPECT_EQ(p["compression.level"], "3");

  EXPECT_EQ(props({{"brokers", "h:1"}, {"sasl", "on"}})["security.protocol"], "SASL_PLAINTEXT");
  EXPECT_EQ(props({{"brokers", "h:1"}, {"sasl", "on"}})["sasl.mechanisms"], "PLAIN");
  EXPECT_EQ(props({{"brokers", "h:1"}, {"sasl", "on"}, {"sasl_mechanism", "sha256"}})["sasl.mechanisms"],
            "SCRAM-SHA-256");
  EXPECT_EQ(props({{"brokers", "h:1"}, {"tls", "on"}})["security.protocol"], "SSL");
  EXPECT_FALSE(props({{"brokers", "h:1"}, {"tls", "on"}}).contains("enable.ssl.certificate.verification"));
}

TEST(TargetConfig, Environment) {
  std::map<std::string, std::string> env = {
      {"MINIO_NOTIFY_KAFKA_ENABLE_PRIMARY", "on"},
      {"MINIO_NOTIFY_KAFKA_BROKERS_PRIMARY", "k1:9092"},
      {"MINIO_NOTIFY_KAFKA_TOPIC_PRIMARY", "minio-topic"},
      {"SLUICE_NOTIFY_KAFKA_TOPIC_PRIMARY", "sluice-topic"},  // SLUICE_ wins
      {"MINIO_NOTIFY_KAFKA_TLS_SKIP_VERIFY_PRIMARY", "on"},
      {"MINIO_NOTIFY_KAFKA_TLS_PRIMARY", "on"},
      {"MINIO_NOTIFY_KAFKA_PRODUCER_COMPRESSION_CODEC_PRIMARY", "lz4"},
      {"MINIO_NOTIFY_KAFKA_BROKERS", "k0:9092"},  // no suffix: id "_"
      {"MINIO_NOTIFY_WEBHOOK_ENDPOINT_HOOK1", "http://h/x"},
      {"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_HOOK1", "secret"},
      {"MINIO_NOTIFY_WEBHOOK_NOSUCHKEY", "x"},
      {"SLUICE_NOTIFY_SLUICE_TOPIC_2", "more-events"},
      {"MINIO_ROOT_USER", "admin"},
  };
  std::vector<std::string> unknown;
  auto sections = sections_from_env(env, &unknown);
  std::map<std::string, std::map<std::string, std::string>> got;
  for (auto& s : sections) got[s.name] = {s.kvs.begin(), s.kvs.end()};
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got["notify_kafka:PRIMARY"], (std::map<std::string, std::string>{{"enable", "on"},
                                                                             {"brokers", "k1:9092"},
                                                                             {"topic", "sluice-topic"},
                                                                             {"tls_skip_verify", "on"},
                                                                             {"tls", "on"},
                                                                             {"compression_codec", "lz4"}}));
  EXPECT_EQ(got["notify_kafka"], (std::map<std::string, std::string>{{"brokers", "k0:9092"}}));
  EXPECT_EQ(got["notify_webhook:HOOK1"],
            (std::map<std::string, std::string>{{"endpoint", "http://h/x"}, {"auth_token", "secret"}}));
  EXPECT_EQ(got["notify_sluice:2"], (std::map<std::string, std::string>{{"topic", "more-events"}}));
  EXPECT_EQ(unknown, std::vector<std::string>{"MINIO_NOTIFY_WEBHOOK_NOSUCHKEY"});
}

class Layers : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-tcfg-" + random_token(8));
    ASSERT_TRUE(fs::mkdirs(dir_.string()));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<config_layers> make(std::vector<config_section> env = {}) {
    auto l = std::make_unique<config_layers>(
        std::vector<config_section>{{"notify_sluice:1", {{"enable", "on"}, {"topic", "bucket-events"}}}},
        std::vector<config_section>{{"notify_kafka:1", {{"brokers", "file:9092"}, {"topic", "file-topic"}}}},
        std::move(env), (dir_ / "targets.json").string());
    EXPECT_TRUE(l->load());
    return l;
  }
  std::filesystem::path dir_;
};

TEST_F(Layers, MergeOrderAndPersistence) {
  const section_id k1{target_kind::kafka, "1"}, s1{target_kind::sluice, "1"}, w2{target_kind::webhook, "2"};
  {
    auto l = make({{"notify_kafka:1", {{"topic", "env-topic"}}}});
    auto eff = l->effective();
    EXPECT_EQ(eff[k1]["brokers"], "file:9092");
    EXPECT_EQ(eff[k1]["topic"], "env-topic");  // environment overrides
    EXPECT_EQ(eff[s1]["topic"], "bucket-events");

    ASSERT_TRUE(l->set(k1, {{"brokers", "admin:9092"}}, true));
    ASSERT_TRUE(l->set(w2, {{"endpoint", "http://h:1/"}}, true));
    auto r = l->set(w2, {{"endpoint", "nope"}}, true);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::bad_config));
    r = l->set(k1, {{"nope", "1"}}, true);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::bad_config));
    EXPECT_FALSE(l->set(s1, {{"topic", "x"}}, false));  // no built-in target without the Kafka side
    EXPECT_TRUE(l->set({target_kind::kafka, "3"}, {{"topic", "only"}}, true).error().is(errc::bad_config));
  }
  auto l = make();
  auto eff = l->effective();
  EXPECT_EQ(eff[k1]["brokers"], "admin:9092");  // admin changes override the file
  EXPECT_EQ(eff[k1]["topic"], "file-topic");
  EXPECT_EQ(eff[w2]["endpoint"], "http://h:1/");
  EXPECT_FALSE(eff.contains({target_kind::kafka, "3"}));
  EXPECT_EQ(
      std::filesystem::status(dir_ / "targets.json").permissions() & std::filesystem::perms::others_read,
      std::filesystem::perms::none);

  // Reset hides the file's and the defaults' values too, across reopen.
  ASSERT_TRUE(l->reset(k1));
  ASSERT_TRUE(l->reset(s1));
  ASSERT_TRUE(l->reset(w2));
  EXPECT_TRUE(l->reset(w2).error().is(errc::unknown_target));
  EXPECT_TRUE(l->effective().empty());
  l = make();
  EXPECT_TRUE(l->effective().empty());
  // And a set brings the section back with only the new values.
  ASSERT_TRUE(l->set(k1, {{"brokers", "new:9092"}, {"topic", "t2"}}, true));
  l = make();
  EXPECT_EQ(l->effective()[k1], (kv_map{{"brokers", "new:9092"}, {"topic", "t2"}}));
}

}  // namespace
}  // namespace sluice::events
