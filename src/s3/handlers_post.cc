// PostObject: browser form uploads authorised by a signed POST policy
// (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html).
#include "base/crypto.h"
#include "base/encoding.h"
#include "base/time.h"
#include "events/sink.h"
#include "s3/form.h"
#include "s3/internal/request.h"
#include "s3/post_policy.h"
#include "s3/xml.h"

namespace sluice::s3 {

namespace {

class counting_source final : public source {
 public:
  counting_source(source& in, uint64_t max) : in_(in), max_(max) {}
  result<size_t> read(char* buf, size_t n) override {
    SLUICE_TRY(size_t k, in_.read(buf, n));
    total_ += k;
    if (total_ > max_) return fail(errc::entity_too_large, "Your proposed upload exceeds the maximum allowed size");
    return k;
  }

 private:
  source& in_;
  uint64_t max_;
  uint64_t total_ = 0;
};

}  // namespace

result<void> post_object(request& r, const context& c) {
  std::string boundary = form_boundary(r.header("content-type"));
  if (boundary.empty()) return fail(errc::malformed_post_request, "multipart/form-data without a boundary");
  struct http_source final : source {
    explicit http_source(http::body_reader& b) : b(b) {}
    result<size_t> read(char* buf, size_t n) override { return b.read(buf, n); }
    http::body_reader& b;
  } raw(r.ex.body);
  form_reader form(raw, boundary);
  SLUICE_TRY(form.read_fields());
  const auto& f = form.fields();
  auto field = [&](const char* name) {
    auto it = f.find(name);
    return it == f.end() ? std::string() : it->second;
  };

  // Authenticate from the form's own signature.
  if (field("x-amz-algorithm") != "AWS4-HMAC-SHA256") return fail(errc::access_denied, "POST requires AWS4-HMAC-SHA256 form fields");
  std::string credential = field("x-amz-credential"), policy = field("policy"), signature = field("x-amz-signature");
  if (credential.empty() || policy.empty() || signature.empty()) return fail(errc::access_denied);
  std::vector<std::string> parts;
  for (size_t s = 0;;) {
    size_t e = credential.find('/', s);
    parts.push_back(credential.substr(s, e == std::string::npos ? std::string::npos : e - s));
    if (e == std::string::npos) break;
    s = e + 1;
  }
  if (parts.size() != 5 || parts[3] != "s3" || parts[4] != "aws4_request") {
    return fail(auth::errc::authorization_query_malformed, "bad x-amz-credential in the form");
  }
  auto user = c.users.find(parts[0]);
  if (!user) return fail(auth::errc::invalid_access_key);
  std::string key = auth::derive_signing_key(user->secret_key, parts[1], parts[2], "s3");
  if (!constant_time_equal(to_hex(hmac_sha256(key, policy)), signature)) return fail(auth::errc::signature_mismatch);
  r.user = user;
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:PutObject"));

  std::string object_key = field("key");
  if (object_key.empty()) return fail(errc::invalid_argument, "Bucket POST must contain a field named 'key'.");
  if (auto pos = object_key.find("${filename}"); pos != std::string::npos) object_key.replace(pos, 11, form.file_name());
  std::map<std::string, std::string> checked = f;
  checked["key"] = object_key;
  SLUICE_TRY(auto limits, check_post_policy(policy, checked, r.bucket, std::chrono::system_clock::now()));

  if (!http::valid_header_value(field("success_action_redirect"))) {
    return fail(errc::invalid_argument, "success_action_redirect cannot be an HTTP header value");
  }
  objstore::metadata_map meta;
  for (const auto& [k, v] : f) {
    if (k.starts_with("x-amz-meta-") || k == "content-type" || k == "cache-control" ||
        k == "content-disposition" || k == "content-encoding" || k == "expires") {
      meta[k] = v;
    }
  }
  if (!meta.count("content-type") && !form.file_content_type().empty())
    meta["content-type"] = form.file_content_type();
  // A form is the one way a header of a later GET can come from anything but
  // a parsed header: hold what it stores to what a header may be.
  for (const auto& [k, v] : meta) {
    if (!http::valid_header_name(k) || !http::valid_header_value(v)) {
      return fail(errc::invalid_argument, "form field " + k + " cannot be an HTTP header (name or value)");
    }
  }
  objstore::put_options po;
  po.metadata = std::move(meta);
  if (f.count("tagging")) {
    SLUICE_TRY(auto tags, parse_tagging(field("tagging"), 10));
    po.tags = tags_to_query(tags);
  }
  po.owner = user->access_key;
  uint64_t min_size = limits.min_size;
  // The event is written to the outbox while the store commits the object.
  std::unique_ptr<events::prepared_events> event;
  po.finalize = [min_size, &r, &c, &event](objstore::object_info& i) -> result<void> {
    if (i.size < min_size) return fail(errc::entity_too_small, "Your proposed upload is smaller than the minimum allowed size");
    SLUICE_TRY(event, prepare_object_event(r, c, "s3:ObjectCreated:Post", i));
    return ok();
  };
  counting_source body(form.file(), std::min(limits.max_size, c.opts.max_object_size));
  SLUICE_TRY(admit_events(c, r.bucket));
  SLUICE_TRY(auto info, c.store.put_object(r.bucket, object_key, body, std::move(po)));
  SLUICE_TRY(commit_events(event));

  http::response res;
  res.headers.set(http::bhttp::field::etag, quote_etag(info.etag));
  res.headers.set(http::bhttp::field::location, "/" + r.bucket + "/" + uri_encode(object_key, false));
  std::string redirect = field("success_action_redirect");
  if (!redirect.empty()) {
    redirect += (redirect.find('?') == std::string::npos ? "?" : "&");
    redirect += "bucket=" + uri_encode(r.bucket) + "&key=" + uri_encode(object_key) + "&etag=" + uri_encode(quote_etag(info.etag));
    res.headers.set(http::bhttp::field::location, redirect);
    return send_empty(r, 303, std::move(res));
  }
  std::string status = field("success_action_status");
  if (status == "201") {
    xml_writer w("PostResponse", false);
    w.element("Location", "/" + r.bucket + "/" + object_key).element("Bucket", r.bucket).element("Key", object_key)
        .element("ETag", quote_etag(info.etag));
    res.status = 201;
    add_common_headers(r, res);
    res.headers.set(http::bhttp::field::content_type, "application/xml");
    return r.ex.out.send(res, w.finish());
  }
  return send_empty(r, status == "200" ? 200 : 204, std::move(res));
}

}  // namespace sluice::s3
