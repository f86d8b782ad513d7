// ListObjects (v1 and v2) and ListObjectVersions.
#include <charconv>

#include "base/encoding.h"
#include "base/time.h"
#include "s3/internal/request.h"
#include "s3/xml.h"

namespace sluice::s3 {

namespace {

result<int> max_keys(const request& r, const char* name) {
  if (!r.has(name)) return 1000;
  std::string v = r.param(name);
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0) return fail(errc::invalid_max_keys);
  return std::min(n, 1000);
}

struct list_params {
  bool url;
  std::string enc(const std::string& s) const { return url ? uri_encode(s, false) : s; }
};

void write_contents(xml_writer& w, const list_params& p, const objstore::object_info& o, bool owner) {
  w.open("Contents")
      .element("Key", p.enc(o.key))
      .element("LastModified", format_iso8601(o.mod_time))
      .element("ETag", quote_etag(o.etag))
      .element("Size", o.size);
  auto sc = o.metadata.find("x-amz-storage-class");
  w.element("StorageClass", sc == o.metadata.end() ? "STANDARD" : sc->second);
  if (owner) w.open("Owner").element("ID", "sluice").element("DisplayName", "sluice").close("Owner");
  for (const auto& [alg, v] : o.checksums) w.element("ChecksumAlgorithm", alg);
  w.close("Contents");
}

}  // namespace

result<void> list_objects(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:ListBucket"));
  bool v2 = r.param("list-type") == "2";
  SLUICE_TRY(int max, max_keys(r, "max-keys"));
  std::string enc_type = r.param("encoding-type");
  if (!enc_type.empty() && enc_type != "url") return fail(errc::invalid_argument, "Invalid Encoding Method specified in Request");
  list_params p{enc_type == "url"};
  objstore::list_options lo;
  lo.prefix = r.param("prefix");
  lo.delimiter = r.param("delimiter");
  lo.max_keys = max;
  std::string token;
  if (v2) {
    if (r.has("continuation-token")) {
      token = r.param("continuation-token");
      auto decoded = base64_decode(token);
      if (!decoded || token.empty()) return fail(errc::invalid_argument, "The continuation token provided is incorrect");
      lo.marker = *decoded;
    } else {
      lo.marker = r.param("start-after");
    }
  } else {
    lo.marker = r.param("marker");
  }
  SLUICE_TRY(auto res, c.store.list_objects(r.bucket, lo));

  xml_writer w("ListBucketResult");
  w.element("Name", r.bucket).element("Prefix", p.enc(lo.prefix));
  if (v2) {
    if (r.has("continuation-token")) w.element("ContinuationToken", token);
    if (r.has("start-after")) w.element("StartAfter", p.enc(r.param("start-after")));
    w.element("KeyCount", static_cast<uint64_t>(res.objects.size() + res.common_prefixes.size()));
  } else {
    w.element("Marker", p.enc(lo.marker));
  }
  w.element("MaxKeys", static_cast<uint64_t>(max));
  if (!lo.delimiter.empty()) w.element("Delimiter", p.enc(lo.delimiter));
  if (p.url) w.element("EncodingType", "url");
  w.element("IsTruncated", res.truncated);
  if (res.truncated) {
    if (v2) w.element("NextContinuationToken", base64_encode(res.next_marker));
    else w.element("NextMarker", p.enc(res.next_marker));
  }
  bool owner = !v2 || r.param("fetch-owner") == "true";
  for (const auto& o : res.objects) write_contents(w, p, o, owner);
  for (const auto& cp : res.common_prefixes) w.open("CommonPrefixes").element("Prefix", p.enc(cp)).close("CommonPrefixes");
  return send_xml(r, w.finish());
}

result<void> list_object_versions(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:ListBucketVersions"));
  SLUICE_TRY(int max, max_keys(r, "max-keys"));
  std::string enc_type = r.param("encoding-type");
  list_params p{enc_type == "url"};
  objstore::list_options lo;
  lo.prefix = r.param("prefix");
  lo.delimiter = r.param("delimiter");
  lo.marker = r.param("key-marker");
  lo.max_keys = max;
  if (c.store.supports_versioning()) {
    objstore::list_versions_options vo;
    vo.prefix = lo.prefix;
    vo.delimiter = lo.delimiter;
    vo.key_marker = lo.marker;
    vo.version_id_marker = r.param("version-id-marker");
    vo.max_keys = max;
    SLUICE_TRY(auto vr, c.store.list_object_versions(r.bucket, vo));
    xml_writer w("ListVersionsResult");
    w.element("Name", r.bucket).element("Prefix", p.enc(lo.prefix)).element("KeyMarker", p.enc(lo.marker));
    w.element("VersionIdMarker", vo.version_id_marker);
    w.element("MaxKeys", static_cast<uint64_t>(max));
    if (!lo.delimiter.empty()) w.element("Delimiter", p.enc(lo.delimiter));
    if (p.url) w.element("EncodingType", "url");
    w.element("IsTruncated", vr.truncated);
    if (vr.truncated) {
      w.element("NextKeyMarker", p.enc(vr.next_key_marker))
          .element("NextVersionIdMarker", vr.next_version_id_marker.empty() ? "null" : vr.next_version_id_marker);
    }
    for (const auto& o : vr.versions) {
      w.open(o.delete_marker ? "DeleteMarker" : "Version")
          .element("Key", p.enc(o.key))
          .element("VersionId", o.version_id.empty() ? "null" : o.version_id)
          .element("IsLatest", o.is_latest)
          .element("LastModified", format_iso8601(o.mod_time));
      if (!o.delete_marker) {
        w.element("ETag", quote_etag(o.etag)).element("Size", o.size).element("StorageClass", "STANDARD");
      }
      w.open("Owner").element("ID", "sluice").element("DisplayName", "sluice").close("Owner");
      w.close(o.delete_marker ? "DeleteMarker" : "Version");
    }
    for (const auto& cp : vr.common_prefixes) w.open("CommonPrefixes").element("Prefix", p.enc(cp)).close("CommonPrefixes");
    return send_xml(r, w.finish());
  }
  SLUICE_TRY(auto res, c.store.list_objects(r.bucket, lo));
  // Unversioned buckets: every object is its single "null" version.
  xml_writer w("ListVersionsResult");
  w.element("Name", r.bucket).element("Prefix", p.enc(lo.prefix)).element("KeyMarker", p.enc(lo.marker));
  w.element("VersionIdMarker", r.param("version-id-marker"));
  w.element("MaxKeys", static_cast<uint64_t>(max));
  if (!lo.delimiter.empty()) w.element("Delimiter", p.enc(lo.delimiter));
  if (p.url) w.element("EncodingType", "url");
  w.element("IsTruncated", res.truncated);
  if (res.truncated) w.element("NextKeyMarker", p.enc(res.next_marker)).element("NextVersionIdMarker", "null");
  for (const auto& o : res.objects) {
    w.open("Version")
        .element("Key", p.enc(o.key))
        .element("VersionId", o.version_id.empty() ? "null" : o.version_id)
        .element("IsLatest", true)
        .element("LastModified", format_iso8601(o.mod_time))
        .element("ETag", quote_etag(o.etag))
        .element("Size", o.size)
        .element("StorageClass", "STANDARD")
        .open("Owner").element("ID", "sluice").element("DisplayName", "sluice").close("Owner")
        .close("Version");
  }
  for (const auto& cp : res.common_prefixes) w.open("CommonPrefixes").element("Prefix", p.enc(cp)).close("CommonPrefixes");
  return send_xml(r, w.finish());
}

}  // namespace sluice::s3
