#pragma once
// A minimal blocking HTTP/1.1 client for Sluice's own tools (admin CLI,
// health checks): one request per call on a fresh connection, bounded
// response size, timeouts.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sluice::http {

struct client_response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct client_request {
  std::string method = "GET";
  std::string host;  // connect to host:port
  uint16_t port = 80;
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;  // Host is added when missing
  std::string body;
  std::chrono::milliseconds timeout{30'000};
  size_t max_response_bytes = 16 << 20;
};

result<client_response> send_request(const client_request& req);

}  // namespace sluice::http
