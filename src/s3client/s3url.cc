#include "s3client/s3url.h"

#include <cctype>
#include <charconv>
#include <set>

namespace sluice::s3client {

namespace {

constexpr std::string_view kScheme = "s3://";

// Case-insensitive, like Java's Boolean.parseBoolean, but anything else is an error.
result<bool> parse_bool(std::string_view key, std::string_view v) {
  std::string l(v);
  for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "true") return true;
  if (l == "false") return false;
  return fail(errc::invalid_argument,
              "s3url: " + std::string(key) + " must be true or false, not '" + std::string(v) + "'");
}

// Characters that would change how the URL splits.
result<void> check_value(std::string_view key, std::string_view v) {
  if (v.find_first_of("&=") != std::string_view::npos) {
    return fail(errc::invalid_argument, "s3url: the value of " + std::string(key) + " contains '&' or '='");
  }
  if (v.find_first_of(" \t\r\n") != std::string_view::npos) {
    return fail(errc::invalid_argument, "s3url: the value of " + std::string(key) + " contains whitespace");
  }
  return ok();
}

}  // namespace

result<std::pair<std::string, uint16_t>> split_endpoint(std::string_view ep) {
  auto bad = [&](std::string why) {
    return fail(errc::invalid_argument, "s3url: endpoint '" + std::string(ep) + "' " + why);
  };
  if (ep.empty()) return bad("is empty");
  if (ep.find("://") != std::string_view::npos) {
    return bad("must not carry a scheme; give the protocol as s3-endpoint-protocol=http|https");
  }
  if (ep.find_first_of("/?#@ ") != std::string_view::npos) return bad("must be host[:port]");
  std::string_view host = ep, port;
  if (ep.front() == '[') {
    auto close = ep.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed '['");
    host = ep.substr(1, close - 1);
    std::string_view rest = ep.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("must be [v6address]:port");
      port = rest.substr(1);
      if (port.empty()) return bad("has an empty port");
    }
  } else if (auto colon = ep.find(':'); colon != std::string_view::npos) {
    if (ep.find(':', colon + 1) != std::string_view::npos)
      return bad("has several ':'; write IPv6 as [addr]:port");
    host = ep.substr(0, colon);
    port = ep.substr(colon + 1);
    if (port.empty()) return bad("has an empty port");
  }
  if (host.empty()) return bad("has no host");
  uint16_t p = 0;
  if (!port.empty()) {
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || ptr != port.data() + port.size() || v < 1 || v > 65535) {
      return bad("has a bad port '" + std::string(port) + "'");
    }
    p = static_cast<uint16_t>(v);
  }
  return std::make_pair(std::string(host), p);
}

result<s3url> parse_s3url(std::string_view text) {
  if (text.empty()) return fail(errc::invalid_argument, "s3url: empty");
  if (!text.starts_with(kScheme)) return fail(errc::invalid_argument, "s3url: must start with s3://");
  text.remove_prefix(kScheme.size());
  auto q = text.find('?');
  if (q == std::string_view::npos) {
    return fail(errc::invalid_argument, "s3url: no '?' with parameters after the endpoint");
  }
  s3url u;
  u.endpoint = std::string(text.substr(0, q));
  SLUICE_TRY(split_endpoint(u.endpoint));

  std::set<std::string, std::less<>> seen;
  std::string_view params = text.substr(q + 1);
  size_t pos = 0;
  while (pos <= params.size()) {
    size_t amp = params.find('&', pos);
    std::string_view p =
        params.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    pos = amp == std::string_view::npos ? params.size() + 1 : amp + 1;
    auto eq = p.find('=');
    if (p.empty() || eq == std::string_view::npos || eq == 0 ||
        p.find('=', eq + 1) != std::string_view::npos) {
      return fail(errc::invalid_argument, "s3url: parameter '" + std::string(p) +
                                              "' is not key=value (values may not contain '=' or '&')");
    }
    std::string_view key = p.substr(0, eq), value = p.substr(eq + 1);
    if (!seen.emplace(key).second)
      return fail(errc::invalid_argument, "s3url: " + std::string(key) + " given twice");
    if (value.empty())
      return fail(errc::invalid_argument, "s3url: " + std::string(key) + " has an empty value");
    SLUICE_TRY(check_value(key, value));
    if (key == "s3-access-key") {
      u.access_key = value;
    } else if (key == "s3-secret-key") {
      u.secret_key = value;
    } else if (key == "s3-region") {
      u.region = value;
    } else if (key == "s3-endpoint-protocol") {
      if (value != "http" && value != "https") {
        return fail(errc::invalid_argument,
                    "s3url: s3-endpoint-protocol must be http or https, not '" + std::string(value) + "'");
      }
      u.https = value == "https";
    } else if (key == "s3-data-bucket") {
      u.data_bucket = value;
    } else if (key == "s3-ops-bucket") {
      u.ops_bucket = value;
    } else if (key == "s3-path-style") {
      SLUICE_TRY(u.path_style, parse_bool(key, value));
    } else if (key == "cluster-id") {
      u.cluster_id = value;
    } else {
      return fail(
          errc::invalid_argument,
          "s3url: unknown parameter '" + std::string(key) +
              "' (known: s3-access-key, s3-secret-key, s3-region, s3-endpoint-protocol, s3-data-bucket, "
              "s3-ops-bucket, s3-path-style, cluster-id)");
    }
  }
  std::string missing;
  for (auto [name, value] : {std::pair<const char*, const std::string*>{"s3-access-key", &u.access_key},
                             {"s3-secret-key", &u.secret_key},
                             {"s3-region", &u.region},
                             {"s3-data-bucket", &u.data_bucket}}) {
    if (value->empty()) missing += (missing.empty() ? "" : ", ") + std::string(name);
  }
  if (!missing.empty())
    return fail(errc::invalid_argument, "s3url: missing required parameter(s) " + missing);
  return u;
}

result<std::string> format_s3url(const s3url& u) {
  SLUICE_TRY(split_endpoint(u.endpoint));
  std::vector<std::pair<const char*, std::string>> params = {
      {"s3-access-key", u.access_key},   {"s3-secret-key", u.secret_key},
      {"s3-region", u.region},           {"s3-endpoint-protocol", u.https ? "https" : "http"},
      {"s3-data-bucket", u.data_bucket}, {"s3-path-style", u.path_style ? "true" : "false"},
  };
  if (!u.ops_bucket.empty()) params.emplace_back("s3-ops-bucket", u.ops_bucket);
  if (!u.cluster_id.empty()) params.emplace_back("cluster-id", u.cluster_id);
  std::string out = std::string(kScheme) + u.endpoint;
  char sep = '?';
  for (const auto& [k, v] : params) {
    if (v.empty()) return fail(errc::invalid_argument, std::string("s3url: ") + k + " is required");
    SLUICE_TRY(check_value(k, v));
    out.push_back(sep);
    out += k;
    out.push_back('=');
    out += v;
    sep = '&';
  }
  return out;
}

result<client_config> to_client_config(const s3url& u) {
  SLUICE_TRY(auto hp, split_endpoint(u.endpoint));
  client_config c;
  c.host = hp.first;
  c.port = hp.second;
  c.https = u.https;
  c.region = u.region;
  c.access_key = u.access_key;
  c.secret_key = u.secret_key;
  c.path_style = u.path_style;
  return c;
}

}  // namespace sluice::s3client
