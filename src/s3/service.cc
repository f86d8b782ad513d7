#include "s3/service.h"

#include <spdlog/spdlog.h>

#include <atomic>

#include "base/encoding.h"
#include "base/time.h"
#include "s3/internal/request.h"
#include "s3/auth/sigv2.h"
#include "s3/xml.h"

namespace sluice::s3 {

namespace {

std::string next_request_id() {
  // MinIO's form: upper-case hex of the time in nanoseconds; a counter keeps ids unique under load.
  static std::atomic<uint64_t> counter{0};
  uint64_t v = static_cast<uint64_t>(unix_nanos(std::chrono::system_clock::now())) + (counter++ & 0xfff);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(v));
  return buf;
}

class service final : public http::handler {
 public:
  service(service_options opts, objstore::object_layer& store, iam::store& users, events::sink* events)
      : opts_(std::move(opts)), ctx_{opts_, store, users, events} {}

  void handle(http::exchange& ex) override {
    request r{ex, ex.request, next_request_id(), std::string(ex.request.method_string()), {}, {}, {}, {}, {}, {}, {}};
    auto res = serve(r);
    if (!res) write_error(r, res.error());
    if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("{} {} {} -> {} ({})", ex.conn.remote_address, r.method, std::string(ex.request.target()),
                    res ? "ok" : to_api_error(res.error()).code, r.request_id);
    }
  }

 private:
  result<void> serve(request& r) {
    std::string_view target(r.h.target().data(), r.h.target().size());
    auto qpos = target.find('?');
    r.raw_path = std::string(target.substr(0, qpos));
    r.raw_query = qpos == std::string_view::npos ? std::string() : std::string(target.substr(qpos + 1));
    if (r.raw_path.empty() || r.raw_path[0] != '/') return fail(errc::invalid_request, "request target must be an absolute path");

    if (r.raw_path == "/minio/health/live" || r.raw_path == "/minio/health/ready" ||
        r.raw_path == "/sluice/health/live" || r.raw_path == "/sluice/health/ready") {
      return send_empty(r, 200);
    }

    bool query_ok = true;
    for (auto& q : parse_query_string(r.raw_query, &query_ok)) r.query.emplace(std::move(q.name), std::move(q.value));
    if (!query_ok) return fail(errc::invalid_argument, "malformed query string");

    SLUICE_TRY(resolve_names(r));
    SLUICE_TRY(authenticate(r));

    if (r.raw_path.starts_with("/sluice/admin/")) return admin_api(r, ctx_);
    return route(r);
  }

  result<void> resolve_names(request& r) {
    auto path = uri_decode(r.raw_path, false);
    if (!path) return fail(errc::invalid_argument, "malformed percent-encoding in the request path");
    std::string host = r.header("host");
    if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(']') == std::string::npos) {
      host = host.substr(0, colon);
    }
    if (!opts_.domain.empty() && host.size() > opts_.domain.size() + 1 && host.ends_with("." + opts_.domain)) {
      r.bucket = host.substr(0, host.size() - opts_.domain.size() - 1);
      r.key = path->substr(1);
      r.virtual_host = true;
      return ok();
    }
    std::string_view p = std::string_view(*path).substr(1);
    auto slash = p.find('/');
    r.bucket = std::string(p.substr(0, slash));
    if (slash != std::string_view::npos) r.key = std::string(p.substr(slash + 1));
    return ok();
  }

  result<void> authenticate(request& r) {
    auth::request_view view{r.method, r.raw_path, r.raw_query, r.h};
    if (!auth::has_credentials(view)) return ok();  // anonymous; handlers decide
    auth::verify_options vo{opts_.region, opts_.max_skew};
    auto secrets = [this](std::string_view ak) -> std::optional<std::string> {
      auto u = ctx_.users.find(ak);
      if (!u) return std::nullopt;
      return u->secret_key;
    };
    auth::verified_request verified;
    if (auth::has_v2_credentials(view)) {
      // V2 signs the resource as "/bucket/key" whatever the addressing style.
      std::string resource = r.virtual_host ? "/" + r.bucket + r.raw_path : r.raw_path;
      auth::request_view v2{r.method, resource, r.raw_query, r.h};
      SLUICE_TRY(verified, auth::verify_v2(v2, secrets, std::chrono::system_clock::now(), vo));
    } else {
      SLUICE_TRY(verified, auth::verify(view, secrets, std::chrono::system_clock::now(), vo));
    }
    r.user = ctx_.users.find(verified.access_key);
    if (!r.user) return fail(auth::errc::invalid_access_key);
    r.auth = std::move(verified);
    return ok();
  }

  result<void> route(request& r) {
    const std::string& m = r.method;
    if (r.bucket.empty()) {
      if (m == "GET" && r.has("events")) return listen_notification(r, ctx_);
      if (m == "GET") return list_buckets(r, ctx_);
      return fail(errc::method_not_allowed);
    }
    if (r.key.empty()) {
      if (m == "PUT") {
        if (r.query.empty()) return create_bucket(r, ctx_);
        return bucket_subresource(r, ctx_);
      }
      if (m == "HEAD") return head_bucket(r, ctx_);
      if (m == "GET") {
        if (r.has("location")) return get_bucket_location(r, ctx_);
        if (r.has("uploads")) return list_multipart_uploads(r, ctx_);
        if (r.has("versions")) return list_object_versions(r, ctx_);
        if (r.has("events")) return listen_notification(r, ctx_);
        for (const char* sub : {"versioning", "tagging", "policy", "acl", "lifecycle", "cors", "encryption",
                                "object-lock", "website", "logging", "replication", "notification",
                                "accelerate", "requestPayment", "ownershipControls", "policyStatus"}) {
          if (r.has(sub)) return bucket_subresource(r, ctx_);
        }
        return list_objects(r, ctx_);
      }
      if (m == "DELETE") {
        if (r.query.empty()) return delete_bucket(r, ctx_);
        return bucket_subresource(r, ctx_);
      }
      if (m == "POST") {
        if (r.has("delete")) return delete_objects(r, ctx_);
        std::string ct = r.header("content-type");
        if (ct.starts_with("multipart/form-data")) return post_object(r, ctx_);
        return fail(errc::method_not_allowed);
      }
      return fail(errc::method_not_allowed);
    }
    if (m == "PUT") {
      if (r.has("uploadId") || r.has("partNumber")) return upload_part(r, ctx_);
      if (r.has("tagging")) return object_tagging(r, ctx_);
      if (r.has("acl")) return object_acl(r, ctx_);
      if (r.has_header("x-amz-copy-source")) return copy_object(r, ctx_);
      return put_object(r, ctx_);
    }
    if (m == "GET" || m == "HEAD") {
      if (m == "GET" && r.has("uploadId")) return list_parts(r, ctx_);
      if (m == "GET" && r.has("tagging")) return object_tagging(r, ctx_);
      if (m == "GET" && r.has("acl")) return object_acl(r, ctx_);
      return get_object(r, ctx_);
    }
    if (m == "DELETE") {
      if (r.has("uploadId")) return abort_multipart_upload(r, ctx_);
      if (r.has("tagging")) return object_tagging(r, ctx_);
      return delete_object(r, ctx_);
    }
    if (m == "POST") {
      if (r.has("uploads")) return create_multipart_upload(r, ctx_);
      if (r.has("uploadId")) return complete_multipart_upload(r, ctx_);
      return fail(errc::method_not_allowed);
    }
    return fail(errc::method_not_allowed);
  }

  void write_error(request& r, const error& e) {
    api_error api = to_api_error(e);
    if (api.status >= 500) {
      spdlog::error("{} {} {}: {} ({})", r.method, r.raw_path, api.code, e.message(), r.request_id);
    }
    if (r.ex.out.started()) return;  // mid-stream failure: the connection is closed by the server
    http::response res;
    res.status = api.status;
    add_common_headers(r, res);
    for (const auto& f : r.error_headers) res.headers.set(f.name_string(), f.value());
    if (api.status == 304) {
      (void)r.ex.out.send(res, "");
      return;
    }
    res.headers.set(http::bhttp::field::content_type, "application/xml");
    xml_writer w("Error", false);
    w.element("Code", api.code).element("Message", api.message);
    if (!r.key.empty()) w.element("Key", r.key);
    if (!r.bucket.empty()) w.element("BucketName", r.bucket);
    w.element("Resource", r.raw_path).element("RequestId", r.request_id).element("HostId", opts_.deployment_id);
    (void)r.ex.out.send(res, w.finish());
  }

  service_options opts_;
  context ctx_;
};

}  // namespace

void add_common_headers(request& r, http::response& res) {
  res.headers.set("x-amz-request-id", r.request_id);
  res.headers.set("x-amz-id-2", r.request_id);
  res.headers.set(http::bhttp::field::server, "Sluice");
  res.headers.set(http::bhttp::field::accept_ranges, "bytes");
}

result<void> send_xml(request& r, std::string body, unsigned status) {
  http::response res;
  res.status = status;
  add_common_headers(r, res);
  res.headers.set(http::bhttp::field::content_type, "application/xml");
  return r.ex.out.send(res, body);
}

result<void> send_empty(request& r, unsigned status, http::response res) {
  res.status = status;
  add_common_headers(r, res);
  return r.ex.out.send(res, "");
}

std::shared_ptr<http::handler> make_service(service_options opts, objstore::object_layer& store,
                                            iam::store& users, events::sink* events) {
  return std::make_shared<service>(std::move(opts), store, users, events);
}

}  // namespace sluice::s3
