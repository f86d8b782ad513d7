#include "s3/auth/sigv2.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>

#include "base/crypto.h"
#include "base/encoding.h"

namespace sluice::s3::auth {

namespace {

namespace http = boost::beast::http;

// Sub-resources that are part of the V2 canonical resource (MinIO's list, sorted).
constexpr std::string_view kSubResources[] = {
    "acl", "cors", "delete", "encryption", "legal-hold", "lifecycle", "location", "logging", "notification",
    "partNumber", "policy", "requestPayment", "response-cache-control", "response-content-disposition",
    "response-content-encoding", "response-content-language", "response-content-type", "response-expires",
    "retention", "select", "select-type", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website"};

std::string header(const request_view& req, std::string_view name) {
  auto it = req.headers.find(name);
  return it == req.headers.end() ? std::string() : std::string(it->value());
}

std::string hmac_sha1_base64(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &n);
  return base64_encode(std::string_view(reinterpret_cast<char*>(out), n));
}

}  // namespace

bool has_v2_credentials(const request_view& req) {
  auto it = req.headers.find(http::field::authorization);
  if (it != req.headers.end()) return std::string_view(it->value().data(), it->value().size()).starts_with("AWS ");
  bool ak = false, sig = false;
  for (const auto& p : parse_query_string(req.raw_query)) {
    ak = ak || p.name == "AWSAccessKeyId";
    sig = sig || p.name == "Signature";
  }
  return ak && sig;
}

std::string v2_string_to_sign(const request_view& req, std::string_view date, std::string_view raw_path) {
  std::string out(req.method);
  out += "\n" + header(req, "content-md5") + "\n" + header(req, "content-type") + "\n" + std::string(date) + "\n";
  std::map<std::string, std::string> amz;
  for (const auto& f : req.headers) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (!name.starts_with("x-amz-")) continue;
    std::string value(f.value());
    auto b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t");
    value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
    auto [it, inserted] = amz.emplace(name, value);
    if (!inserted) it->second += "," + value;
  }
  for (const auto& [k, v] : amz) out += k + ":" + v + "\n";
  out += raw_path;
  std::vector<query_param> subs;
  for (auto& p : parse_query_string(req.raw_query)) {
    if (std::find(std::begin(kSubResources), std::end(kSubResources), p.name) != std::end(kSubResources)) {
      subs.push_back(std::move(p));
    }
  }
  std::stable_sort(subs.begin(), subs.end(), [](const query_param& a, const query_param& b) { return a.name < b.name; });
  for (size_t i = 0; i < subs.size(); ++i) {
    out += (i == 0 ? "?" : "&") + subs[i].name;
    if (subs[i].has_value) out += "=" + subs[i].value;
  }
  return out;
}

result<verified_request> verify_v2(const request_view& req, const secret_lookup& secrets, sys_time now,
                                   const verify_options& opts) {
  std::string access_key, signature, date;
  bool presigned = false;
  auto it = req.headers.find(http::field::authorization);
  if (it != req.headers.end()) {
    std::string v(it->value());
    auto colon = v.rfind(':');
    if (!v.starts_with("AWS ") || colon == std::string::npos || colon < 5) {
      return fail(errc::authorization_header_malformed, "malformed V2 Authorization header");
    }
    access_key = v.substr(4, colon - 4);
    signature = v.substr(colon + 1);
    // With x-amz-date the Date line is empty; the date is signed among the x-amz- headers.
    std::string amz_date = header(req, "x-amz-date");
    std::string http_date = header(req, "date");
    std::optional<sys_time> when = parse_http_date(amz_date.empty() ? http_date : amz_date);
    if (!when) return fail(errc::missing_date);
    auto skew = now > *when ? now - *when : *when - now;
    if (skew > opts.max_skew) return fail(errc::time_skewed);
    date = amz_date.empty() ? http_date : "";
  } else {
    std::string expires;
    for (const auto& p : parse_query_string(req.raw_query)) {
      if (p.name == "AWSAccessKeyId") access_key = p.value;
      else if (p.name == "Signature") signature = p.value;
      else if (p.name == "Expires") expires = p.value;
    }
    if (access_key.empty() || signature.empty() || expires.empty()) {
      return fail(errc::authorization_query_malformed, "V2 presigned URLs need AWSAccessKeyId, Expires and Signature");
    }
    char* end = nullptr;
    long long e = std::strtoll(expires.c_str(), &end, 10);
    if (*end || e <= 0) return fail(errc::authorization_query_malformed, "Expires must be a Unix time");
    if (std::chrono::system_clock::from_time_t(static_cast<time_t>(e)) < now) return fail(errc::request_expired);
    date = expires;
    presigned = true;
  }
  auto secret = secrets(access_key);
  if (!secret) return fail(errc::invalid_access_key);
  std::string sts = v2_string_to_sign(req, date, req.raw_path);
  if (!constant_time_equal(hmac_sha1_base64(*secret, sts), signature)) return fail(errc::signature_mismatch);
  verified_request out;
  out.access_key = access_key;
  out.presigned = presigned;
  out.mode = payload_mode::unsigned_payload;
  return out;
}

}  // namespace sluice::s3::auth
