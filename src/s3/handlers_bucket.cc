// Bucket operations.
#include <algorithm>

#include "base/time.h"
#include "events/sink.h"
#include "iam/policy.h"
#include "s3/internal/request.h"
#include "s3/xml.h"

namespace sluice::s3 {

result<objstore::bucket_info> authorize_bucket(request& r, const context& c, const std::string& bucket,
                                               std::string_view action, const std::string& key) {
  if (bucket == r.bucket && r.method != "GET" && r.method != "HEAD" &&
      std::find(c.opts.reserved_buckets.begin(), c.opts.reserved_buckets.end(), bucket) !=
          c.opts.reserved_buckets.end()) {
    return fail(errc::access_denied,
                "Bucket " + bucket + " holds Sluice's stream data: it can be read, only the server changes it.");
  }
  if (!r.user) {
    if (action.empty() || !objstore::valid_bucket_name(bucket)) return fail(errc::access_denied);
    auto doc = c.store.bucket_config(bucket, "policy");
    if (!doc || !doc.value()) return fail(errc::access_denied);
    auto policy = iam::parse_bucket_policy(*doc.value(), bucket);
    std::string resource = "arn:aws:s3:::" + bucket + (key.empty() ? "" : "/" + key);
    if (!policy || !iam::allows_anonymous(policy.value(), action, resource)) return fail(errc::access_denied);
    return c.store.bucket(bucket);
  }
  SLUICE_TRY(auto info, c.store.bucket(bucket));
  if (!r.user->root && info.owner != r.user->access_key) return fail(errc::access_denied);
  return info;
}

result<void> list_buckets(request& r, const context& c) {
  if (!r.user) return fail(errc::access_denied);
  SLUICE_TRY(auto buckets, c.store.list_buckets());
  xml_writer w("ListAllMyBucketsResult");
  w.open("Owner").element("ID", r.user->access_key).element("DisplayName", r.user->access_key).close("Owner");
  w.open("Buckets");
  for (const auto& b : buckets) {
    if (!r.user->root && b.owner != r.user->access_key) continue;
    w.open("Bucket").element("Name", b.name).element("CreationDate", format_iso8601(b.created)).close("Bucket");
  }
  w.close("Buckets");
  return send_xml(r, w.finish());
}

result<void> create_bucket(request& r, const context& c) {
  if (!r.user) return fail(errc::access_denied);
  if (!objstore::valid_bucket_name(r.bucket)) return fail(errc::invalid_bucket_name);
  SLUICE_TRY(auto body, read_small_body(r, c));
  SLUICE_TRY(auto location, parse_location_constraint(body));
  if (!location.empty() && !c.opts.region.empty() && location != c.opts.region) {
    return fail(errc::invalid_argument /* AWS: IllegalLocationConstraintException */,
                "The " + location + " location constraint is incompatible for the region specific endpoint this request was sent to.");
  }
  if (r.has_header("x-amz-bucket-object-lock-enabled") && r.header("x-amz-bucket-object-lock-enabled") == "true") {
    return fail(errc::not_implemented, "Object lock is not supported yet.");
  }
  auto made = c.store.make_bucket(r.bucket, r.user->access_key);
  if (!made) {
    if (made.error().is(objstore::errc::bucket_exists)) {
      auto existing = c.store.bucket(r.bucket);
      if (existing && existing.value().owner != r.user->access_key && !r.user->root) {
        return fail(errc::bucket_already_exists);
      }
      return fail(errc::bucket_already_owned_by_you);
    }
    return made;
  }
  auto created = key_event(r, c, "s3:BucketCreated:*", "");
  SLUICE_TRY(publish_events(c, {&created, 1}));
  http::response res;
  res.headers.set(http::bhttp::field::location, "/" + r.bucket);
  return send_empty(r, 200, std::move(res));
}

result<void> head_bucket(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:ListBucket"));
  http::response res;
  res.headers.set("x-amz-bucket-region", c.opts.region);
  return send_empty(r, 200, std::move(res));
}

result<void> delete_bucket(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, ""));
  SLUICE_TRY(c.store.delete_bucket(r.bucket));
  if (c.events) c.events->rules_changed(r.bucket);
  auto removed = key_event(r, c, "s3:BucketRemoved:*", "");
  SLUICE_TRY(publish_events(c, {&removed, 1}));
  return send_empty(r, 204);
}

result<void> get_bucket_location(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:GetBucketLocation"));
  // us-east-1 is reported as an empty constraint, as S3 does.
  std::string location = c.opts.region == "us-east-1" ? std::string() : c.opts.region;
  return send_xml(r, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint "
                     "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + xml_escape(location) + "</LocationConstraint>");
}

namespace {

// Stored bucket documents are kept as sent (XML/JSON), keyed by subresource.
result<void> stored_document(request& r, const context& c, const std::string& name, errc missing,
                             bool json = false) {
  if (r.method == "GET") {
    SLUICE_TRY(auto doc, c.store.bucket_config(r.bucket, name));
    if (!doc) return fail(missing);
    if (json) {
      http::response res;
      res.headers.set(http::bhttp::field::content_type, "application/json");
      add_common_headers(r, res);
      return r.ex.out.send(res, *doc);
    }
    return send_xml(r, *doc);
  }
  if (r.method == "DELETE") {
    SLUICE_TRY(c.store.set_bucket_config(r.bucket, name, std::nullopt));
    return send_empty(r, 204);
  }
  return fail(errc::not_implemented);
}

}  // namespace

result<void> bucket_subresource(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, ""));
  const std::string& m = r.method;
  if (r.has("versioning")) {
    if (m == "GET") {
      SLUICE_TRY(auto doc, c.store.bucket_config(r.bucket, "versioning"));
      xml_writer w("VersioningConfiguration");
      if (doc && !doc->empty()) w.element("Status", *doc);
      return send_xml(r, w.finish());
    }
    if (m == "PUT") {
      SLUICE_TRY(auto body, read_small_body(r, c));
      SLUICE_TRY(auto status, parse_versioning(body));
      if (status == "Enabled" && !c.store.supports_versioning()) {
        return fail(errc::not_implemented, "Bucket versioning needs an erasure-coded drive set (start the server with 2 or more drives).");
      }
      SLUICE_TRY(c.store.set_bucket_config(r.bucket, "versioning", status));
      return send_empty(r, 200);
    }
  }
  if (r.has("tagging")) {
    if (m == "PUT") {
      SLUICE_TRY(auto body, read_small_body(r, c));
      SLUICE_TRY(auto tags, parse_tagging(body, 50));
      SLUICE_TRY(c.store.set_bucket_config(r.bucket, "tagging", tagging_xml(tags)));
      return send_empty(r, 204);
    }
    return stored_document(r, c, "tagging", errc::no_such_tag_set);
  }
  if (r.has("policy")) {
    if (m == "PUT") {
      SLUICE_TRY(auto body, read_small_body(r, c));
      if (auto p = iam::parse_bucket_policy(body, r.bucket); !p) return fail(errc::malformed_policy, p.error().message());
      SLUICE_TRY(c.store.set_bucket_config(r.bucket, "policy", body));
      return send_empty(r, 204);
    }
    return stored_document(r, c, "policy", errc::no_such_bucket_policy, true);
  }
  if (r.has("acl")) {
    if (m == "GET") return send_xml(r, private_acl_xml(r.user->access_key));
    if (m == "PUT") {
      std::string acl = r.header("x-amz-acl");
      if (!acl.empty() && acl != "private") return fail(errc::not_implemented, "Only the private canned ACL is supported.");
      return send_empty(r, 200);
    }
  }
  if (r.has("notification")) return bucket_notification(r, c);
  if (m == "GET") {
    if (r.has("lifecycle")) return fail(errc::no_such_lifecycle_configuration);
    if (r.has("cors")) return fail(errc::no_such_cors_configuration);
    if (r.has("encryption")) return fail(errc::server_side_encryption_configuration_not_found);
    if (r.has("object-lock")) return fail(errc::object_lock_configuration_not_found);
    if (r.has("website")) return fail(errc::no_such_website_configuration);
    if (r.has("replication")) return fail(errc::replication_configuration_not_found);
    if (r.has("logging")) return send_xml(r, xml_writer("BucketLoggingStatus").finish());
    if (r.has("accelerate")) return send_xml(r, xml_writer("AccelerateConfiguration").finish());
    if (r.has("requestPayment")) {
      return send_xml(r, xml_writer("RequestPaymentConfiguration").element("Payer", "BucketOwner").finish());
    }
  }
  return fail(errc::not_implemented, "This bucket operation is not supported yet.");
}

}  // namespace sluice::s3
