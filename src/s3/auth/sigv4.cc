#include "s3/auth/sigv4.h"

#include <algorithm>
#include <charconv>

#include "base/crypto.h"
#include "base/encoding.h"

SLUICE_ERRC_CATEGORY(sluice::s3::auth, "s3auth",
                     case errc::missing_security_header : return "request carries no SigV4 credentials";
                     case errc::authorization_header_malformed : return "malformed Authorization header";
                     case errc::authorization_query_malformed : return "malformed presigned query parameters";
                     case errc::unsupported_algorithm : return "unsupported signature algorithm";
                     case errc::invalid_access_key : return "unknown access key";
                     case errc::signature_mismatch : return "signature does not match";
                     case errc::request_expired : return "presigned request has expired";
                     case errc::request_not_yet_valid : return "presigned request is not valid yet";
                     case errc::time_skewed : return "request time too far from server time";
                     case errc::missing_date : return "missing or malformed x-amz-date / Date";
                     case errc::bad_region : return "credential scope names another region";
                     case errc::content_sha256_mismatch : return "body does not match x-amz-content-sha256";
                     case errc::invalid_content_sha256 : return "invalid x-amz-content-sha256 value";
                     case errc::chunk_malformed : return "malformed aws-chunked body";
                     case errc::chunk_signature_mismatch : return "aws-chunked chunk signature does not match";
                     case errc::incomplete_body : return "request body ended early";
                     case errc::checksum_mismatch : return "body does not match x-amz-checksum-*";
                     case errc::checksum_invalid : return "invalid x-amz-checksum-* value";
                     case errc::content_md5_mismatch : return "body does not match Content-MD5";
                     case errc::content_md5_invalid : return "invalid Content-MD5";
                     case errc::policy_malformed : return "malformed POST policy";
                     case errc::policy_violation : return "POST policy condition failed";)

namespace sluice::s3::auth {

namespace {

namespace http = boost::beast::http;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr std::string_view kStreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
constexpr std::string_view kStreamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
constexpr std::string_view kStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
constexpr std::string_view kTerminator = "aws4_request";
// Longest validity AWS allows for a presigned URL (X-Amz-Expires), 7 days.
constexpr int64_t kMaxPresignExpiry = 604800;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

// SigV4 "Trimall": no leading or trailing whitespace, inner runs of whitespace
// become one space (MinIO collapses every Unicode space; ASCII is what clients send).
std::string trim_all(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool pending_space = false;
  for (char c : v) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// All values of a header, comma-joined in arrival order (the SigV4 rule for repeated headers).
std::optional<std::string> header_value(const http::fields& h, std::string_view name) {
  auto [first, last] = h.equal_range(boost::beast::string_view(name.data(), name.size()));
  if (first == last) return std::nullopt;
  std::string out;
  for (auto it = first; it != last; ++it) {
    if (it != first) out.push_back(',');
    auto v = it->value();
    out += trim_all(std::string_view(v.data(), v.size()));
  }
  return out;
}

// Raw header value (first occurrence), for values used verbatim.
std::optional<std::string_view> header_raw(const http::fields& h, std::string_view name) {
  auto it = h.find(boost::beast::string_view(name.data(), name.size()));
  if (it == h.end()) return std::nullopt;
  auto v = it->value();
  return trim(std::string_view(v.data(), v.size()));
}

struct query_param {
  std::string name, value;  // decoded
};

// Splits a raw query string. '+' decodes to a space, as Go's url.ParseQuery
// does for MinIO; SDKs never send a bare '+', they send %2B. A bad escape keeps
// the raw text so that the signature check, not the parser, rejects it.
std::vector<query_param> parse_query(std::string_view raw) {
  std::vector<query_param> out;
  for (std::string_view piece : split(raw, '&')) {
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    std::string_view n = piece.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
    auto dn = uri_decode(n, true);
    auto dv = uri_decode(v, true);
    out.push_back({dn ? *dn : std::string(n), dv ? *dv : std::string(v)});
  }
  return out;
}

std::string canonical_query(const std::vector<query_param>& params, bool presigned) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(params.size());
  for (const auto& p : params) {
    if (presigned && p.name == "X-Amz-Signature") continue;
    enc.emplace_back(uri_encode(p.name), uri_encode(p.value));
  }
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [n, v] : enc) {
    if (!out.empty()) out.push_back('&');
    out += n;
    out.push_back('=');
    out += v;
  }
  return out;
}

// S3 does not normalise paths ("." , "..", "//" stay); each segment is decoded
// and re-encoded so that "a b", "a%20b" and "a%20b" sent by different clients
// agree, and a literal '+' becomes %2B.
std::string canonical_uri(std::string_view raw_path) {
  if (raw_path.empty()) return "/";
  std::string out;
  bool first = true;
  for (std::string_view seg : split(raw_path, '/')) {
    if (!first) out.push_back('/');
    first = false;
    auto dec = uri_decode(seg);
    out += uri_encode(dec ? std::string_view(*dec) : seg);
  }
  return out;
}

std::optional<payload_mode> classify_payload(std::string_view v) {
  if (is_hex64(v)) return payload_mode::signed_hash;
  if (v == kUnsignedPayload) return payload_mode::unsigned_payload;
  if (v == kStreamingSigned) return payload_mode::streaming_signed;
  if (v == kStreamingSignedTrailer) return payload_mode::streaming_signed_trailer;
  if (v == kStreamingUnsignedTrailer) return payload_mode::streaming_unsigned_trailer;
  return std::nullopt;
}

struct credential {
  std::string access_key, date8, region, service;
  std::string scope() const { return date8 + "/" + region + "/" + service + "/" + std::string(kTerminator); }
};

// Older clients name us-east-1 "US" (MinIO accepts it the same way).
std::string_view normalize_region(std::string_view r) {
  return r == "US" ? std::string_view("us-east-1") : r;
}

// "AK/20130524/us-east-1/s3/aws4_request"; the access key may itself contain '/'.
result<credential> parse_credential(std::string_view v, const verify_options& opts, errc malformed) {
  auto parts = split(v, '/');
  if (parts.size() < 5) {
    return fail(malformed, "credential must be <key>/<date>/<region>/<service>/aws4_request");
  }
  credential c;
  size_t n = parts.size();
  for (size_t i = 0; i + 4 < n; ++i) {
    if (i) c.access_key.push_back('/');
    c.access_key += parts[i];
  }
  c.date8 = parts[n - 4];
  c.region = parts[n - 3];
  c.service = parts[n - 2];
  if (c.access_key.empty()) return fail(malformed, "credential has an empty access key");
  if (c.date8.size() != 8 || !all_digits(c.date8) || !parse_amz_date(c.date8 + "T000000Z")) {
    return fail(malformed, "credential date is not YYYYMMDD");
  }
  if (parts[n - 1] != kTerminator) return fail(malformed, "credential scope must end in aws4_request");
  if (c.service != "s3") return fail(malformed, "credential scope names service '" + c.service + "', not s3");
  if (!opts.region.empty() && normalize_region(c.region) != normalize_region(opts.region)) {
    return fail(errc::bad_region,
                "credential scope region '" + c.region + "' is wrong; expecting '" + opts.region + "'");
  }
  return c;
}

// Lower-case names, no empty entries, and host among them (AWS and MinIO both insist).
result<std::vector<std::string>> parse_signed_headers(std::string_view v, errc malformed) {
  std::vector<std::string> names;
  bool host = false;
  for (std::string_view n : split(v, ';')) {
    if (n.empty()) return fail(malformed, "empty name in SignedHeaders");
    names.push_back(to_lower(n));
    host = host || names.back() == "host";
  }
  if (!host) return fail(malformed, "SignedHeaders must include host");
  return names;
}

result<void> check_signed_headers_present(const request_view& req, const std::vector<std::string>& names,
                                          errc malformed) {
  for (const auto& n : names) {
    // "expect" is exempt like in MinIO: some HTTP stacks consume Expect: 100-continue.
    if (n != "expect" &&
        req.headers.find(boost::beast::string_view(n.data(), n.size())) == req.headers.end()) {
      return fail(malformed, "signed header '" + n + "' is not in the request");
    }
  }
  return ok();
}

std::string sign_hex(std::string_view key, std::string_view sts) {
  return to_hex(hmac_sha256(key, sts));
}

struct parsed_authorization {
  credential cred;
  std::string signed_headers;  // as sent
  std::vector<std::string> signed_names;
  std::string signature;  // lower-case hex
};

result<parsed_authorization> parse_authorization(std::string_view header, const verify_options& opts) {
  const errc malformed = errc::authorization_header_malformed;
  std::string_view v = trim(header);
  if (v.empty()) return fail(malformed, "empty Authorization header");
  if (v.substr(0, kAlgorithm.size()) != kAlgorithm ||
      (v.size() > kAlgorithm.size() && !is_space(v[kAlgorithm.size()]))) {
    if (v.substr(0, 4) == "AWS ") {
      return fail(errc::unsupported_algorithm, "signature version 2 is not supported");
    }
    return fail(errc::unsupported_algorithm, "Authorization algorithm must be AWS4-HMAC-SHA256");
  }
  v.remove_prefix(kAlgorithm.size());
  std::optional<std::string_view> cred, signed_headers, signature;
  for (std::string_view field : split(v, ',')) {
    field = trim(field);
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) return fail(malformed, "Authorization field without '='");
    std::string_view key = trim(field.substr(0, eq)), value = trim(field.substr(eq + 1));
    std::optional<std::string_view>* slot = key == "Credential"      ? &cred
                                            : key == "SignedHeaders" ? &signed_headers
                                            : key == "Signature"     ? &signature
                                                                     : nullptr;
    if (!slot) return fail(malformed, "unknown Authorization field '" + std::string(key) + "'");
    if (*slot) return fail(malformed, "repeated Authorization field '" + std::string(key) + "'");
    *slot = value;
  }
  if (!cred || !signed_headers || !signature) {
    return fail(malformed, "Authorization needs Credential, SignedHeaders and Signature");
  }
  parsed_authorization out;
  SLUICE_TRY(out.cred, parse_credential(*cred, opts, malformed));
  out.signed_headers = std::string(*signed_headers);
  SLUICE_TRY(out.signed_names, parse_signed_headers(*signed_headers, malformed));
  if (!is_hex64(*signature)) return fail(malformed, "Signature must be 64 hex digits");
  out.signature = to_lower(*signature);
  return out;
}

std::optional<sys_time> parse_request_date(std::string_view v) {
  if (auto t = parse_amz_date(v)) return t;
  return parse_http_date(v);
}

result<verified_request> verify_header(const request_view& req, std::string_view authorization,
                                       const secret_lookup& secrets, sys_time now,
                                       const verify_options& opts) {
  SLUICE_TRY(auto pa, parse_authorization(authorization, opts));
  SLUICE_TRY(check_signed_headers_present(req, pa.signed_names, errc::authorization_header_malformed));

  // Without x-amz-content-sha256 the canonical request carries the hash of an
  // empty body (MinIO and the AWS SDKs agree). MinIO then skips checking the
  // body at all; we hold the body to that hash, so only empty bodies pass.
  std::string payload_hash(kEmptySha256);
  if (auto h = header_raw(req.headers, "x-amz-content-sha256")) payload_hash = std::string(*h);
  auto mode = classify_payload(payload_hash);
  if (!mode) {
    return fail(errc::invalid_content_sha256, "x-amz-content-sha256 '" + payload_hash + "' is not valid");
  }

  auto secret = secrets(pa.cred.access_key);
  if (!secret) return fail(errc::invalid_access_key, "unknown access key '" + pa.cred.access_key + "'");

  std::string amz_date;
  sys_time t;
  if (auto d = header_raw(req.headers, "x-amz-date")) {
    auto parsed = parse_amz_date(*d);
    if (!parsed) return fail(errc::missing_date, "malformed x-amz-date '" + std::string(*d) + "'");
    t = *parsed;
    amz_date = std::string(*d);
  } else if (auto d2 = header_raw(req.headers, "date")) {
    auto parsed = parse_request_date(*d2);
    if (!parsed) return fail(errc::missing_date, "malformed Date '" + std::string(*d2) + "'");
    t = *parsed;
    amz_date = parse_amz_date(*d2) ? std::string(*d2) : format_amz_date(t);
  } else {
    return fail(errc::missing_date, "request has neither x-amz-date nor Date");
  }
  if (amz_date.substr(0, 8) != pa.cred.date8) {
    return fail(errc::authorization_header_malformed,
                "credential date " + pa.cred.date8 + " differs from request date " + amz_date);
  }
  if (now - t > opts.max_skew || t - now > opts.max_skew) {
    return fail(errc::time_skewed, "request time " + amz_date + " vs server time " + format_amz_date(now));
  }

  std::string key = derive_signing_key(*secret, pa.cred.date8, pa.cred.region, "s3");
  std::string scope = pa.cred.scope();
  std::string canonical = canonical_request(req, pa.signed_headers, payload_hash, false);
  std::string expected = sign_hex(key, string_to_sign(amz_date, scope, canonical));
  if (!constant_time_equal(expected, pa.signature)) return fail(errc::signature_mismatch);

  verified_request out;
  out.access_key = pa.cred.access_key;
  out.mode = *mode;
  if (*mode == payload_mode::signed_hash) out.payload_sha256 = to_lower(payload_hash);
  out.signing = {std::move(key), std::move(amz_date), std::move(scope), std::move(expected)};
  return out;
}

const query_param* find_param(const std::vector<query_param>& params, std::string_view name, bool& repeated) {
  const query_param* found = nullptr;
  for (const auto& p : params) {
    if (p.name != name) continue;
    if (found) repeated = true;
    found = &p;
  }
  return found;
}

result<verified_request> verify_presigned(const request_view& req, const std::vector<query_param>& params,
                                          const secret_lookup& secrets, sys_time now,
                                          const verify_options& opts) {
  const errc malformed = errc::authorization_query_malformed;
  bool repeated = false;
  auto* algorithm = find_param(params, "X-Amz-Algorithm", repeated);
  auto* cred_p = find_param(params, "X-Amz-Credential", repeated);
  auto* date_p = find_param(params, "X-Amz-Date", repeated);
  auto* expires_p = find_param(params, "X-Amz-Expires", repeated);
  auto* signed_p = find_param(params, "X-Amz-SignedHeaders", repeated);
  auto* signature_p = find_param(params, "X-Amz-Signature", repeated);
  auto* sha_p = find_param(params, "X-Amz-Content-Sha256", repeated);
  if (repeated) return fail(malformed, "repeated X-Amz-* query parameter");
  if (!algorithm || !cred_p || !date_p || !expires_p || !signed_p || !signature_p) {
    return fail(malformed,
                "presigned URL needs X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, "
                "X-Amz-SignedHeaders and X-Amz-Signature");
  }
  if (algorithm->value != kAlgorithm) {
    return fail(errc::unsupported_algorithm, "X-Amz-Algorithm must be AWS4-HMAC-SHA256");
  }
  SLUICE_TRY(auto cred, parse_credential(cred_p->value, opts, malformed));
  auto t = parse_amz_date(date_p->value);
  if (!t) return fail(malformed, "X-Amz-Date is not YYYYMMDDTHHMMSSZ");
  if (date_p->value.substr(0, 8) != cred.date8) {
    return fail(malformed, "credential date " + cred.date8 + " differs from X-Amz-Date " + date_p->value);
  }
  int64_t expires = 0;
  const std::string& ev = expires_p->value;
  if (!all_digits(ev) || ev.size() > 9 ||
      std::from_chars(ev.data(), ev.data() + ev.size(), expires).ec != std::errc() || expires < 1 ||
      expires > kMaxPresignExpiry || expires > opts.max_presign_expiry.count()) {
    return fail(malformed,
                "X-Amz-Expires must be 1.." +
                    std::to_string(std::min<int64_t>(kMaxPresignExpiry, opts.max_presign_expiry.count())));
  }
  SLUICE_TRY(auto signed_names, parse_signed_headers(signed_p->value, malformed));
  if (!is_hex64(signature_p->value)) return fail(malformed, "X-Amz-Signature must be 64 hex digits");
  SLUICE_TRY(check_signed_headers_present(req, signed_names, malformed));

  // MinIO's order: the query parameter, then the header, then UNSIGNED-PAYLOAD.
  std::string payload_hash(kUnsignedPayload);
  if (sha_p) {
    payload_hash = sha_p->value;
  } else if (auto h = header_raw(req.headers, "x-amz-content-sha256")) {
    payload_hash = std::string(*h);
  }
  auto mode = classify_payload(payload_hash);
  if (!mode || (*mode != payload_mode::signed_hash && *mode != payload_mode::unsigned_payload)) {
    return fail(errc::invalid_content_sha256, "presigned payload hash '" + payload_hash + "' is not valid");
  }

  auto secret = secrets(cred.access_key);
  if (!secret) return fail(errc::invalid_access_key, "unknown access key '" + cred.access_key + "'");

  if (*t - now > opts.max_skew) return fail(errc::request_not_yet_valid, "X-Amz-Date " + date_p->value);
  if (now - *t > std::chrono::seconds(expires)) {
    return fail(errc::request_expired, "signed at " + date_p->value + " for " + ev + "s");
  }

  std::string key = derive_signing_key(*secret, cred.date8, cred.region, "s3");
  std::string scope = cred.scope();
  std::string canonical = canonical_request(req, signed_p->value, payload_hash, true);
  std::string expected = sign_hex(key, string_to_sign(date_p->value, scope, canonical));
  if (!constant_time_equal(expected, to_lower(signature_p->value))) return fail(errc::signature_mismatch);

  verified_request out;
  out.access_key = cred.access_key;
  out.presigned = true;
  out.mode = *mode;
  if (*mode == payload_mode::signed_hash) out.payload_sha256 = to_lower(payload_hash);
  out.signing = {std::move(key), date_p->value, std::move(scope), std::move(expected)};
  return out;
}

bool is_presign_param(std::string_view name) {
  return name == "X-Amz-Algorithm" || name == "X-Amz-Credential" || name == "X-Amz-Signature";
}

// SigV2 presigned URLs: reported as unsupported rather than treated as anonymous.
bool is_v2_presign(const std::vector<query_param>& params) {
  bool key = false, sig = false;
  for (const auto& p : params) {
    key = key || p.name == "AWSAccessKeyId";
    sig = sig || p.name == "Signature";
  }
  return key && sig;
}

}  // namespace

bool has_credentials(const request_view& req) {
  if (req.headers.find(http::field::authorization) != req.headers.end()) return true;
  auto params = parse_query(req.raw_query);
  return is_v2_presign(params) || std::any_of(params.begin(), params.end(),
                                              [](const query_param& p) { return is_presign_param(p.name); });
}

result<verified_request> verify(const request_view& req, const secret_lookup& secrets, sys_time now,
                                const verify_options& opts) {
  auto params = parse_query(req.raw_query);
  bool presign = std::any_of(params.begin(), params.end(),
                             [](const query_param& p) { return is_presign_param(p.name); });
  auto auth = req.headers.find(http::field::authorization);
  if (auth != req.headers.end()) {
    if (presign) {
      return fail(errc::authorization_query_malformed,
                  "only one auth mechanism allowed: Authorization header or X-Amz-* query, not both");
    }
    auto v = auth->value();
    return verify_header(req, std::string_view(v.data(), v.size()), secrets, now, opts);
  }
  if (presign) return verify_presigned(req, params, secrets, now, opts);
  if (is_v2_presign(params)) return fail(errc::unsupported_algorithm, "signature version 2 is not supported");
  return fail(errc::missing_security_header);
}

// A signing key is the same for every request of one secret, day, region
// and service, and deriving it is four HMACs: recently derived keys are kept
// in a small per-thread cache (connections have a thread each; no lock), so
// a request costs the string-to-sign's HMAC only. The cache holds secrets as
// the user table does; it is wiped when it fills.
std::string derive_signing_key(std::string_view secret, std::string_view date8, std::string_view region,
                               std::string_view service) {
  constexpr size_t kCachedKeys = 8;
  struct entry {
    std::string scope;  // secret NUL date NUL region NUL service
    std::string key;
  };
  thread_local std::vector<entry> cache;
  std::string scope;
  scope.reserve(secret.size() + date8.size() + region.size() + service.size() + 3);
  scope.append(secret).push_back('\0');
  scope.append(date8).push_back('\0');
  scope.append(region).push_back('\0');
  scope.append(service);
  for (const auto& e : cache) {
    if (e.scope == scope) return e.key;
  }
  std::string k = hmac_sha256("AWS4" + std::string(secret), date8);
  k = hmac_sha256(k, region);
  k = hmac_sha256(k, service);
  k = hmac_sha256(k, kTerminator);
  if (cache.size() >= kCachedKeys) cache.clear();
  cache.push_back(entry{std::move(scope), k});
  return k;
}

std::string canonical_request(const request_view& req, std::string_view signed_headers,
                              std::string_view payload_hash, bool presigned) {
  std::string out;
  out.reserve(512);
  out += req.method;
  out.push_back('\n');
  out += canonical_uri(req.raw_path);
  out.push_back('\n');
  out += canonical_query(parse_query(req.raw_query), presigned);
  out.push_back('\n');
  for (std::string_view name : split(signed_headers, ';')) {
    std::string lname = to_lower(name);
    out += lname;
    out.push_back(':');
    if (auto v = header_value(req.headers, lname)) {
      out += *v;
    } else if (lname == "expect") {
      out += "100-continue";  // what the client sent before the HTTP layer consumed it
    }
    out.push_back('\n');
  }
  out.push_back('\n');
  out += signed_headers;
  out.push_back('\n');
  out += payload_hash;
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical) {
  std::string out;
  out.reserve(kAlgorithm.size() + amz_date.size() + scope.size() + 68);
  out += kAlgorithm;
  out.push_back('\n');
  out += amz_date;
  out.push_back('\n');
  out += scope;
  out.push_back('\n');
  out += sha256_hex(canonical);
  return out;
}

std::string chunk_signature(const signing_context& ctx, std::string_view prev_signature,
                            std::string_view chunk_data) {
  std::string sts = "AWS4-HMAC-SHA256-PAYLOAD\n";
  sts += ctx.amz_date;
  sts.push_back('\n');
  sts += ctx.scope;
  sts.push_back('\n');
  sts += prev_signature;
  sts.push_back('\n');
  sts += kEmptySha256;
  sts.push_back('\n');
  sts += sha256_hex(chunk_data);
  return sign_hex(ctx.signing_key, sts);
}

std::string trailer_signature(const signing_context& ctx, std::string_view prev_signature,
                              std::string_view canonical_trailers) {
  std::string sts = "AWS4-HMAC-SHA256-TRAILER\n";
  sts += ctx.amz_date;
  sts.push_back('\n');
  sts += ctx.scope;
  sts.push_back('\n');
  sts += prev_signature;
  sts.push_back('\n');
  sts += sha256_hex(canonical_trailers);
  return sign_hex(ctx.signing_key, sts);
}

namespace {

struct client_signature {
  std::string amz_date, scope, signed_headers, signature;
  http::fields fields;
};

std::vector<std::string> client_header_names(const sign_input& in, http::fields& f) {
  std::vector<std::string> names;
  for (const auto& [k, v] : in.headers) {
    std::string lk = to_lower(k);
    if (lk == "authorization" || lk == "x-amz-date" || lk == "x-amz-content-sha256") continue;
    f.insert(boost::beast::string_view(lk.data(), lk.size()), boost::beast::string_view(v.data(), v.size()));
    names.push_back(std::move(lk));
  }
  return names;
}

std::string join_sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out.push_back(';');
    out += n;
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> sign(const sign_input& in) {
  std::string amz_date = format_amz_date(in.now);
  std::string date8 = amz_date.substr(0, 8);
  std::string payload = in.payload_sha256.empty() ? std::string(kUnsignedPayload) : in.payload_sha256;
  http::fields f;
  auto names = client_header_names(in, f);
  f.set("x-amz-date", amz_date);
  f.set("x-amz-content-sha256", payload);
  names.emplace_back("x-amz-date");
  names.emplace_back("x-amz-content-sha256");
  std::string signed_headers = join_sorted(std::move(names));
  std::string scope = date8 + "/" + in.region + "/" + in.service + "/" + std::string(kTerminator);
  std::string key = derive_signing_key(in.secret_key, date8, in.region, in.service);
  request_view rv{in.method, in.raw_path, in.raw_query, f};
  std::string sig =
      sign_hex(key, string_to_sign(amz_date, scope, canonical_request(rv, signed_headers, payload, false)));
  return {
      {"Authorization", std::string(kAlgorithm) + " Credential=" + in.access_key + "/" + scope +
                            ", SignedHeaders=" + signed_headers + ", Signature=" + sig},
      {"x-amz-date", amz_date},
      {"x-amz-content-sha256", payload},
  };
}

std::string presign_query(const sign_input& in, std::chrono::seconds expires) {
  std::string amz_date = format_amz_date(in.now);
  std::string date8 = amz_date.substr(0, 8);
  http::fields f;
  std::string signed_headers = join_sorted(client_header_names(in, f));
  std::string scope = date8 + "/" + in.region + "/" + in.service + "/" + std::string(kTerminator);
  auto params = parse_query(in.raw_query);
  params.push_back({"X-Amz-Algorithm", std::string(kAlgorithm)});
  params.push_back({"X-Amz-Credential", in.access_key + "/" + scope});
  params.push_back({"X-Amz-Date", amz_date});
  params.push_back({"X-Amz-Expires", std::to_string(expires.count())});
  params.push_back({"X-Amz-SignedHeaders", signed_headers});
  std::string query = canonical_query(params, true);
  std::string key = derive_signing_key(in.secret_key, date8, in.region, in.service);
  request_view rv{in.method, in.raw_path, query, f};
  std::string canonical = canonical_request(rv, signed_headers, kUnsignedPayload, true);
  return query + "&X-Amz-Signature=" + sign_hex(key, string_to_sign(amz_date, scope, canonical));
}

}  // namespace sluice::s3::auth
