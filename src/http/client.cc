#include "http/client.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/server.h"
#include "net/stream.h"

namespace sluice::http {

result<client_response> send_request(const client_request& req) {
  SLUICE_TRY(auto s, net::stream::connect(req.host, req.port, req.timeout));
  std::string out = req.method + " " + req.target + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto& [k, v] : req.headers) {
    if (boost::beast::iequals(k, "host")) has_host = true;
    out += k + ": " + v + "\r\n";
  }
  if (!has_host) out += "Host: " + req.host + ":" + std::to_string(req.port) + "\r\n";
  out += "Content-Length: " + std::to_string(req.body.size()) + "\r\nConnection: close\r\n\r\n" + req.body;
  boost::system::error_code ec;
  if (!s->write_all(out.data(), out.size(), ec)) return fail(errc::connection_closed, "send: " + ec.message());
  boost::beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(req.max_response_bytes);
  bhttp::read(*s, buf, parser, ec);
  if (ec) return fail(errc::connection_closed, "receive: " + ec.message());
  client_response r;
  r.status = parser.get().result_int();
  for (const auto& f : parser.get()) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  r.body = std::move(parser.get().body());
  return r;
}

}  // namespace sluice::http
