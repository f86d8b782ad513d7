#include "s3client/client.h"

#include <arpa/inet.h>

#include <charconv>
#include <random>
#include <thread>

#include "base/crypto.h"
#include "base/encoding.h"
#include "net/stream.h"
#include "s3/auth/sigv4.h"
#include "s3client/internal/transport.h"
#include "s3client/internal/xml.h"

namespace sluice::s3client {

namespace {

using internal::header_list;
using internal::http_response;

// S3 limits (docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
constexpr size_t kMaxKeyBytes = 1024;
constexpr int kMaxPartNumber = 10'000;
constexpr size_t kMaxDeleteKeys = 1000;
constexpr int kMaxAttempts = 100;

bool is_ip_literal(const std::string& host) {
  in6_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

uint16_t effective_port(const client_config& c) {
  return c.port ? c.port : (c.https ? 443 : 80);
}

// host[:port] as it goes into the Host header; the default port is left out as SDKs do.
std::string host_and_port(const client_config& c, const std::string& host) {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  uint16_t port = effective_port(c);
  if (port != (c.https ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

result<void> check_bucket(const std::string& bucket) {
  if (bucket.empty()) return fail(errc::invalid_argument, "empty bucket name");
  return ok();
}

result<void> check_key(const std::string& bucket, const std::string& key) {
  SLUICE_TRY(check_bucket(bucket));
  if (key.empty()) return fail(errc::invalid_argument, "empty object key");
  if (key.size() > kMaxKeyBytes) {
    return fail(errc::invalid_argument, "object key longer than " + std::to_string(kMaxKeyBytes) + " bytes");
  }
  return ok();
}

result<void> check_part(int part_number) {
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return fail(errc::invalid_argument, "part number " + std::to_string(part_number) + " outside 1.." +
                                            std::to_string(kMaxPartNumber));
  }
  return ok();
}

std::string range_header(const byte_range& r) {
  std::string v = "bytes=" + std::to_string(r.offset) + "-";
  if (r.length > 0) v += std::to_string(r.offset + r.length - 1);
  return v;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

object_info info_from(const http_response& r) {
  object_info i;
  if (auto v = r.header("content-length")) i.size = parse_u64(*v).value_or(0);
  if (auto v = r.header("etag")) i.etag = *v;
  if (auto v = r.header("last-modified")) i.last_modified = *v;
  if (auto v = r.header("content-type")) i.content_type = *v;
  for (const auto& [k, v] : r.headers) {
    if (k.size() > 11 && boost::beast::iequals(std::string_view(k).substr(0, 11), "x-amz-meta-")) {
      i.metadata.emplace_back(k.substr(11), v);
    }
  }
  return i;
}

void add_put_headers(header_list& h, const put_options& o) {
  if (!o.content_type.empty()) h.emplace_back("Content-Type", o.content_type);
  for (const auto& [k, v] : o.metadata) h.emplace_back("x-amz-meta-" + k, v);
}

}  // namespace

struct client::impl {
  // One S3 request as the operations describe it; run() adds Host and the signature.
  struct call {
    std::string_view method;
    std::string bucket;  // empty: service level
    std::string key;     // empty: bucket level
    std::string query;   // encoded, without '?'
    header_list headers;
    std::string_view body;
    bool error_in_200 = false;  // a 200 answer may carry an <Error> document
  };

  client_config cfg;
  std::unique_ptr<internal::pool> pool;
  std::atomic<uint64_t> calls{0}, attempts{0}, retries{0};

  internal::endpoint endpoint_for(const std::string& bucket) const {
    internal::endpoint ep;
    ep.tls_name = cfg.path_style || bucket.empty() ? cfg.host : bucket + "." + cfg.host;
    ep.host = cfg.connect_address.empty() ? ep.tls_name : cfg.connect_address;
    ep.port = effective_port(cfg);
    return ep;
  }

  std::string path_for(const call& c) const {
    std::string path = "/";
    if (cfg.path_style && !c.bucket.empty()) {
      path += uri_encode(c.bucket);
      if (!c.key.empty()) path += "/";
    }
    if (!c.key.empty()) path += uri_encode(c.key, false);
    return path;
  }

  std::chrono::milliseconds backoff(int attempt) const {
    // Full jitter (aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
    int64_t cap = cfg.retry.base_delay.count() << std::min(attempt - 1, 20);
    cap = std::min<int64_t>(cap, cfg.retry.max_delay.count());
    if (cap <= 0) return std::chrono::milliseconds(0);
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, cap)(rng));
  }

  result<http_response> once(const call& c, const std::string& payload_sha256) {
    internal::endpoint ep = endpoint_for(c.bucket);
    std::string host = host_and_port(cfg, ep.tls_name);
    std::string path = path_for(c);
    header_list headers;
    headers.reserve(c.headers.size() + 4);
    headers.emplace_back("Host", host);
    for (const auto& h : c.headers) headers.push_back(h);

    s3::auth::sign_input in;
    in.method = std::string(c.method);
    in.raw_path = path;
    in.raw_query = c.query;
    in.headers = headers;
    in.payload_sha256 = payload_sha256;
    in.access_key = cfg.access_key;
    in.secret_key = cfg.secret_key;
    in.region = cfg.region;
    in.now = std::chrono::system_clock::now();
    for (auto& h : s3::auth::sign(in)) headers.push_back(std::move(h));
    headers.emplace_back("User-Agent", "sluice-s3client/0.1");

    SLUICE_TRY(auto conn, pool->acquire(ep, cfg.acquire_timeout));
    std::string target = c.query.empty() ? path : path + "?" + c.query;
    auto r = conn->exchange(c.method, target, headers, c.body, cfg.max_response_bytes);
    pool->release(std::move(conn), r.has_value());
    if (!r) return r;
    http_response& resp = r.value();
    if (resp.status >= 200 && resp.status < 300 &&
        !(c.error_in_200 && internal::is_error_document(resp.body))) {
      return r;
    }
    s3_error e = parse_error(resp.status, resp.body, resp.header("x-amz-request-id").value_or(""));
    if (auto region = resp.header("x-amz-bucket-region"); region && *region != cfg.region) {
      e.message += (e.message.empty() ? "" : " ") + std::string("[the bucket is in region ") +
                   std::string(*region) + ", not " + cfg.region + "]";
    }
    return fail(to_error(e));
  }

  result<http_response> run(const call& c) {
    calls.fetch_add(1, std::memory_order_relaxed);
    const std::string payload_sha256 = sha256_hex(c.body);
    for (int attempt = 1;; ++attempt) {
      attempts.fetch_add(1, std::memory_order_relaxed);
      auto r = once(c, payload_sha256);
      if (r) return r;
      if (!is_retryable(r.error())) return r;
      if (attempt >= cfg.retry.max_attempts) {
        if (attempt == 1) return r;
        return fail(r.error().code(),
                    r.error().message() + " [gave up after " + std::to_string(attempt) + " attempts]");
      }
      retries.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(backoff(attempt));
    }
  }
};

client::client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
client::~client() = default;

result<std::unique_ptr<client>> client::make(client_config cfg) {
  if (cfg.host.empty()) return fail(errc::invalid_argument, "no S3 endpoint host");
  if (cfg.host.find("://") != std::string::npos || cfg.host.find('/') != std::string::npos) {
    return fail(errc::invalid_argument,
                "S3 endpoint host '" + cfg.host + "' must be a bare host name (no scheme or path)");
  }
  if (cfg.access_key.empty() || cfg.secret_key.empty()) {
    return fail(errc::invalid_argument, "S3 access key and secret key are required");
  }
  if (cfg.region.empty()) return fail(errc::invalid_argument, "S3 region is required");
  if (!cfg.path_style && is_ip_literal(cfg.host)) {
    return fail(errc::invalid_argument,
                "virtual-host style addressing needs a DNS name, not the IP address " + cfg.host +
                    "; use path style");
  }
  if (cfg.retry.max_attempts < 1 || cfg.retry.max_attempts > kMaxAttempts) {
    return fail(errc::invalid_argument, "retry attempts must be 1.." + std::to_string(kMaxAttempts));
  }
  if (cfg.max_connections < 1) return fail(errc::invalid_argument, "max_connections must be at least 1");
  if (cfg.connect_timeout.count() <= 0 || cfg.io_timeout.count() <= 0) {
    return fail(errc::invalid_argument, "timeouts must be positive");
  }
  std::shared_ptr<net::tls_context> tls;
  if (cfg.https) {
    auto t = net::tls_context::client(cfg.verify_tls, cfg.ca_file);
    if (!t) return fail(errc::invalid_argument, t.error().message());
    tls = std::move(t).value();
  }
  auto p = std::make_unique<impl>();
  p->pool = std::make_unique<internal::pool>(cfg.max_connections, tls, cfg.connect_timeout, cfg.io_timeout,
                                             cfg.idle_timeout);
  p->cfg = std::move(cfg);
  return std::unique_ptr<client>(new client(std::move(p)));
}

const client_config& client::config() const {
  return impl_->cfg;
}

client_stats client::stats() const {
  return {impl_->calls.load(), impl_->attempts.load(), impl_->retries.load(), impl_->pool->connects()};
}

std::string client::endpoint() const {
  const auto& c = impl_->cfg;
  return std::string(c.https ? "https://" : "http://") + host_and_port(c, c.host);
}

result<void> client::create_bucket(const std::string& bucket) {
  SLUICE_TRY(check_bucket(bucket));
  std::string body = internal::create_bucket_body(impl_->cfg.region);
  impl::call c{"PUT", bucket, {}, {}, {}, body};
  SLUICE_TRY(impl_->run(c));
  return ok();
}

result<void> client::head_bucket(const std::string& bucket) {
  SLUICE_TRY(check_bucket(bucket));
  auto r = impl_->run({"HEAD", bucket, {}, {}, {}, {}});
  if (!r && r.error().is(errc::no_such_key)) {
    return fail(errc::no_such_bucket, "NoSuchBucket: bucket " + bucket + " does not exist (HTTP 404)");
  }
  if (!r) return fail(r.error());
  return ok();
}

result<std::string> client::put_object(const std::string& bucket, const std::string& key,
                                       std::string_view data, const put_options& opts) {
  SLUICE_TRY(check_key(bucket, key));
  impl::call c{"PUT", bucket, key, {}, {}, data};
  add_put_headers(c.headers, opts);
  SLUICE_TRY(auto r, impl_->run(c));
  return std::string(r.header("etag").value_or(""));
}

result<object_data> client::get_object(const std::string& bucket, const std::string& key,
                                       std::optional<byte_range> range) {
  SLUICE_TRY(check_key(bucket, key));
  impl::call c{"GET", bucket, key, {}, {}, {}};
  if (range) c.headers.emplace_back("Range", range_header(*range));
  SLUICE_TRY(auto r, impl_->run(c));
  object_data out;
  out.info = info_from(r);
  out.data = std::move(r.body);
  if (r.status == 206) {
    // Content-Range: bytes first-last/total
    auto cr = r.header("content-range").value_or("");
    auto slash = cr.rfind('/');
    auto total = slash == std::string_view::npos ? std::nullopt : parse_u64(cr.substr(slash + 1));
    if (!total) return fail(errc::bad_response, "206 answer with Content-Range '" + std::string(cr) + "'");
    out.info.size = *total;
  } else if (range && (range->offset > 0 || range->length > 0)) {
    // The server ignored the Range header: cut the range out here.
    out.info.size = out.data.size();
    if (range->offset >= out.data.size()) {
      return fail(errc::invalid_range, "InvalidRange: offset " + std::to_string(range->offset) +
                                           " is past the end of the " + std::to_string(out.data.size()) +
                                           "-byte object");
    }
    out.data = out.data.substr(range->offset, range->length ? range->length : std::string::npos);
  }
  return out;
}

result<object_info> client::head_object(const std::string& bucket, const std::string& key) {
  SLUICE_TRY(check_key(bucket, key));
  SLUICE_TRY(auto r, impl_->run({"HEAD", bucket, key, {}, {}, {}}));
  return info_from(r);
}

result<void> client::delete_object(const std::string& bucket, const std::string& key) {
  SLUICE_TRY(check_key(bucket, key));
  SLUICE_TRY(impl_->run({"DELETE", bucket, key, {}, {}, {}}));
  return ok();
}

result<delete_result> client::delete_objects(const std::string& bucket, const std::vector<std::string>& keys,
                                             bool quiet) {
  SLUICE_TRY(check_bucket(bucket));
  if (keys.empty()) return delete_result{};
  if (keys.size() > kMaxDeleteKeys) {
    return fail(errc::invalid_argument,
                "DeleteObjects takes at most " + std::to_string(kMaxDeleteKeys) + " keys");
  }
  for (const auto& k : keys) {
    SLUICE_TRY(check_key(bucket, k));
  }
  std::string body = internal::delete_objects_body(keys, quiet);
  impl::call c{"POST", bucket, {}, "delete", {}, body};
  c.headers.emplace_back("Content-Type", "application/xml");
  c.headers.emplace_back("Content-MD5", base64_encode(md5(body)));
  SLUICE_TRY(auto r, impl_->run(c));
  return internal::parse_delete_result(r.body);
}

result<list_page> client::list_objects_v2(const std::string& bucket, const list_request& req) {
  SLUICE_TRY(check_bucket(bucket));
  if (req.max_keys < 1 || req.max_keys > 1000)
    return fail(errc::invalid_argument, "max_keys must be 1..1000");
  std::string q = "list-type=2&encoding-type=url&max-keys=" + std::to_string(req.max_keys);
  if (!req.prefix.empty()) q += "&prefix=" + uri_encode(req.prefix);
  if (!req.delimiter.empty()) q += "&delimiter=" + uri_encode(req.delimiter);
  if (!req.continuation_token.empty()) q += "&continuation-token=" + uri_encode(req.continuation_token);
  if (!req.start_after.empty()) q += "&start-after=" + uri_encode(req.start_after);
  SLUICE_TRY(auto r, impl_->run({"GET", bucket, {}, q, {}, {}}));
  return internal::parse_list_v2(r.body, true);
}

result<std::vector<list_entry>> client::list_all(const std::string& bucket, const std::string& prefix,
                                                 size_t max_keys) {
  std::vector<list_entry> out;
  list_request req;
  req.prefix = prefix;
  for (;;) {
    SLUICE_TRY(auto page, list_objects_v2(bucket, req));
    if (out.size() + page.objects.size() > max_keys) {
      return fail(errc::response_too_large,
                  "more than " + std::to_string(max_keys) + " keys under '" + prefix + "' in " + bucket);
    }
    for (auto& e : page.objects) out.push_back(std::move(e));
    if (!page.truncated) return out;
    if (page.next_continuation_token == req.continuation_token) {
      return fail(errc::bad_response, "ListObjectsV2 returned the same continuation token twice");
    }
    req.continuation_token = std::move(page.next_continuation_token);
  }
}

result<std::string> client::create_multipart_upload(const std::string& bucket, const std::string& key,
                                                    const put_options& opts) {
  SLUICE_TRY(check_key(bucket, key));
  impl::call c{"POST", bucket, key, "uploads", {}, {}};
  add_put_headers(c.headers, opts);
  SLUICE_TRY(auto r, impl_->run(c));
  return internal::parse_upload_id(r.body);
}

result<std::string> client::upload_part(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id, int part_number,
                                        std::string_view data) {
  SLUICE_TRY(check_key(bucket, key));
  SLUICE_TRY(check_part(part_number));
  std::string q = "partNumber=" + std::to_string(part_number) + "&uploadId=" + uri_encode(upload_id);
  SLUICE_TRY(auto r, impl_->run({"PUT", bucket, key, q, {}, data}));
  auto etag = r.header("etag");
  if (!etag || etag->empty()) return fail(errc::bad_response, "UploadPart answer without an ETag");
  return std::string(*etag);
}

result<std::string> client::upload_part_copy(const std::string& bucket, const std::string& key,
                                             const std::string& upload_id, int part_number,
                                             const std::string& source_bucket, const std::string& source_key,
                                             std::optional<byte_range> range) {
  SLUICE_TRY(check_key(bucket, key));
  SLUICE_TRY(check_key(source_bucket, source_key));
  SLUICE_TRY(check_part(part_number));
  if (range && range->length == 0) return fail(errc::invalid_argument, "a copy range needs a length");
  std::string q = "partNumber=" + std::to_string(part_number) + "&uploadId=" + uri_encode(upload_id);
  impl::call c{"PUT", bucket, key, q, {}, {}, true};
  c.headers.emplace_back("x-amz-copy-source",
                         "/" + uri_encode(source_bucket) + "/" + uri_encode(source_key, false));
  if (range) c.headers.emplace_back("x-amz-copy-source-range", range_header(*range));
  SLUICE_TRY(auto r, impl_->run(c));
  return internal::parse_etag(r.body);
}

result<std::string> client::complete_multipart_upload(const std::string& bucket, const std::string& key,
                                                      const std::string& upload_id,
                                                      const std::vector<completed_part>& parts) {
  SLUICE_TRY(check_key(bucket, key));
  if (parts.empty()) return fail(errc::invalid_argument, "CompleteMultipartUpload needs at least one part");
  std::string body = internal::complete_multipart_body(parts);
  impl::call c{"POST", bucket, key, "uploadId=" + uri_encode(upload_id), {}, body, true};
  c.headers.emplace_back("Content-Type", "application/xml");
  SLUICE_TRY(auto r, impl_->run(c));
  return internal::parse_etag(r.body);
}

result<void> client::abort_multipart_upload(const std::string& bucket, const std::string& key,
                                            const std::string& upload_id) {
  SLUICE_TRY(check_key(bucket, key));
  SLUICE_TRY(impl_->run({"DELETE", bucket, key, "uploadId=" + uri_encode(upload_id), {}, {}}));
  return ok();
}

}  // namespace sluice::s3client
