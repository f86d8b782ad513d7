#pragma once
// Servers for the s3client tests, on loopback in this process: Sluice's own
// S3 front end over a local_store in a temp dir, and a scripted HTTP server
// that answers from a queue and records what it received.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "base/crypto.h"
#include "http/server.h"
#include "iam/iam.h"
#include "objstore/local_store.h"
#include "s3/service.h"
#include "s3client/client.h"

namespace sluice::s3client::testing {

inline constexpr const char* kAccessKey = "s3client-root";
inline constexpr const char* kSecretKey = "s3client-root-secret";

// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI.
inline std::pair<std::string, std::string> make_cert(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::string crt = (dir / "public.crt").string(), key = (dir / "private.key").string();
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
      key + "' -out '" + crt + "' >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return {crt, key};
}

class sluice_server {
 public:
  // domain: s3.domain for virtual-host-style requests; tls: serve HTTPS.
  explicit sluice_server(std::string domain = {}, bool tls = false) {
    root_ = std::filesystem::temp_directory_path() / ("sluice-s3client-" + random_token(8));
    auto store = objstore::open_local_store({(root_ / "drive").string()});
    EXPECT_TRUE(store) << store.error().message();
    store_ = std::move(store).value();
    auto users = iam::store::open((root_ / "iam").string(), {kAccessKey, kSecretKey, false}, {});
    EXPECT_TRUE(users) << users.error().message();
    users_ = std::move(users).value();
    http::server_options ho;
    ho.address = "127.0.0.1:0";
    ho.idle_timeout = std::chrono::milliseconds(5000);
    if (tls) {
      auto [crt, key] = make_cert(root_ / "certs");
      cert_file_ = crt;
      auto ctx = net::tls_context::load(crt, key);
      EXPECT_TRUE(ctx) << ctx.error().message();
      ho.tls = ctx.value();
    }
    s3::service_options so;
    so.domain = std::move(domain);
    server_ = std::make_unique<http::server>(ho, s3::make_service(so, *store_, *users_));
    auto r = server_->start();
    EXPECT_TRUE(r) << r.error().message();
  }
  ~sluice_server() {
    server_->stop();
    std::filesystem::remove_all(root_);
  }

  uint16_t port() const { return server_->port(); }
  const std::string& cert_file() const { return cert_file_; }
  client_config config() const {
    client_config c;
    c.host = "127.0.0.1";
    c.port = port();
    c.access_key = kAccessKey;
    c.secret_key = kSecretKey;
    c.io_timeout = std::chrono::milliseconds(20'000);
    return c;
  }

 private:
  std::filesystem::path root_;
  std::unique_ptr<objstore::object_layer> store_;
  std::unique_ptr<iam::store> users_;
  std::unique_ptr<http::server> server_;
  std::string cert_file_;
};

struct scripted_response {
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};
};

struct received_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Answers each request with the next queued response; 200 with an empty body
// once the queue is empty.
class scripted_server {
 public:
  explicit scripted_server(std::chrono::milliseconds idle_timeout = std::chrono::milliseconds(5000)) {
    http::server_options ho;
    ho.address = "127.0.0.1:0";
    ho.idle_timeout = idle_timeout;
    handler_ = std::make_shared<handler>();
    server_ = std::make_unique<http::server>(ho, handler_);
    auto r = server_->start();
    EXPECT_TRUE(r) << r.error().message();
  }
  ~scripted_server() { server_->stop(); }

  void push(scripted_response r) {
    std::lock_guard lk(handler_->mu);
    handler_->script.push_back(std::move(r));
  }
  std::vector<received_request> received() const {
    std::lock_guard lk(handler_->mu);
    return handler_->seen;
  }
  uint16_t port() const { return server_->port(); }
  client_config config() const {
    client_config c;
    c.host = "127.0.0.1";
    c.port = port();
    c.access_key = "AK";
    c.secret_key = "SK";
    c.retry.base_delay = std::chrono::milliseconds(1);
    c.retry.max_delay = std::chrono::milliseconds(5);
    return c;
  }

 private:
  struct handler final : http::handler {
    void handle(http::exchange& ex) override {
      received_request rr;
      rr.method = std::string(ex.request.method_string());
      rr.target = std::string(ex.request.target());
      for (const auto& f : ex.request) {
        std::string n(f.name_string());
        for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        rr.headers[n] = std::string(f.value());
      }
      char buf[65536];
      for (;;) {
        auto n = ex.body.read(buf, sizeof buf);
        if (!n || n.value() == 0) break;
        rr.body.append(buf, n.value());
      }
      scripted_response next;
      {
        std::lock_guard lk(mu);
        seen.push_back(std::move(rr));
        if (!script.empty()) {
          next = std::move(script.front());
          script.pop_front();
        }
      }
      if (next.delay.count() > 0) std::this_thread::sleep_for(next.delay);
      http::response r;
      r.status = next.status;
      for (const auto& [k, v] : next.headers) r.headers.set(k, v);
      (void)ex.out.send(r, next.body);
    }
    mutable std::mutex mu;
    std::deque<scripted_response> script;
    std::vector<received_request> seen;
  };

  std::shared_ptr<handler> handler_;
  std::unique_ptr<http::server> server_;
};

inline std::unique_ptr<client> make_client(const client_config& c) {
  auto r = client::make(c);
  EXPECT_TRUE(r) << r.error().message();
  return r ? std::move(r).value() : nullptr;
}

// Deterministic bytes.
inline std::string pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

}  // namespace sluice::s3client::testing
