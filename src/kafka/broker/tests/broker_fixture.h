#pragma once
// The broker tests' fixture: an engine over memory storage, a broker and its
// frame_server on loopback, and a client that sends codec-encoded requests
// over a real socket.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "kafka/broker/broker.h"
#include "kafka/protocol/messages/fetch.h"
#include "kafka/protocol/messages/produce.h"
#include "kafka/protocol/record_batch.h"
#include "net/stream.h"

namespace sluice::kafka::testing {

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

}  // namespace sluice::kafka::testing
