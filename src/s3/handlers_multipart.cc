// Multipart uploads.
#include <charconv>

#include "base/encoding.h"
#include "base/time.h"
#include "events/sink.h"
#include "s3/internal/request.h"
#include "s3/auth/checksum.h"
#include "s3/xml.h"

namespace sluice::s3 {

namespace {

using field = http::bhttp::field;

result<int> int_param(const request& r, const char* name, int lo, int hi, int def, const char* what) {
  if (!r.has(name)) return def;
  std::string v = r.param(name);
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi) return fail(errc::invalid_argument, what);
  return n;
}

// S3's COMPOSITE checksum of a multipart object: the checksum of the parts'
// concatenated raw checksums, suffixed "-<part count>". Only when every part
// carries the same algorithm; CRC64NVME has no composite form in S3.
result<void> composite_checksum(objstore::object_info& info) {
  if (info.parts.empty() || info.parts.front().checksums.size() != 1) return ok();
  std::string alg = info.parts.front().checksums.begin()->first;
  auto a = auth::parse_checksum_algorithm(alg);
  if (!a || *a == auth::checksum_algorithm::crc64nvme) return ok();
  std::string raw;
  for (const auto& p : info.parts) {
    auto it = p.checksums.find(alg);
    if (p.checksums.size() != 1 || it == p.checksums.end()) return ok();
    auto bytes = base64_decode(it->second);
    if (!bytes) return ok();
    raw += *bytes;
  }
  info.checksums[alg] = auth::checksum_base64(*a, raw) + "-" + std::to_string(info.parts.size());
  return ok();
}

// UploadPartCopy ranges must be "bytes=first-last" inside the source (no open or suffix forms).
result<objstore::byte_range> copy_range(const std::string& header, uint64_t size) {
  std::string_view h = header;
  uint64_t a = 0, b = 0;
  auto dash = h.find('-');
  bool okr = h.starts_with("bytes=") && dash != std::string_view::npos && dash > 6;
  if (okr) {
    auto [p1, e1] = std::from_chars(h.data() + 6, h.data() + dash, a);
    auto [p2, e2] = std::from_chars(h.data() + dash + 1, h.data() + h.size(), b);
    okr = e1 == std::errc() && e2 == std::errc() && p1 == h.data() + dash && p2 == h.data() + h.size();
  }
  if (!okr) {
    return fail(errc::invalid_argument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy");
  }
  if (a > b || b >= size) {
    return fail(errc::invalid_range, "Range specified is not valid for source object of size: " + std::to_string(size));
  }
  return objstore::byte_range{a, b - a + 1};
}

}  // namespace

result<void> create_multipart_upload(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:PutObject", r.key));
  if (r.key.size() > 1024) return fail(errc::key_too_long);
  SLUICE_TRY(auto metadata, metadata_from_headers(r));
  SLUICE_TRY(auto tags, tags_from_header(r));
  objstore::put_options po;
  po.metadata = std::move(metadata);
  po.tags = std::move(tags);
  po.owner = r.user->access_key;
  SLUICE_TRY(auto id, c.store.new_multipart_upload(r.bucket, r.key, std::move(po)));
  xml_writer w("InitiateMultipartUploadResult");
  w.element("Bucket", r.bucket).element("Key", r.key).element("UploadId", id);
  return send_xml(r, w.finish());
}

result<void> upload_part(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:PutObject", r.key));
  SLUICE_TRY(int part, int_param(r, "partNumber", 1, objstore::kMaxPartNumber, 0,
                                 "Part number must be an integer between 1 and 10000, inclusive"));
  if (part == 0 || !r.has("uploadId")) return fail(errc::invalid_argument, "uploadId and partNumber are both required");
  std::string upload_id = r.param("uploadId");

  if (r.has_header("x-amz-copy-source")) {
    // UploadPartCopy: the part's bytes come from (a range of) another object.
    SLUICE_TRY(auto src, parse_copy_source(r.header("x-amz-copy-source")));
    const std::string &sb = src.bucket, &sk = src.key, &version = src.version_id;
    SLUICE_TRY(authorize_bucket(r, c, sb, "s3:GetObject", sk));
    SLUICE_TRY(auto info, c.store.stat_object(sb, sk, version));
    objstore::get_options go{.version_id = version};
    if (r.has_header("x-amz-copy-source-range")) {
      SLUICE_TRY(go.range, copy_range(r.header("x-amz-copy-source-range"), info.size));
    }
    SLUICE_TRY(auto reader, c.store.get_object(sb, sk, go));
    uint64_t size = go.range ? go.range->length : info.size;
    SLUICE_TRY(auto p, c.store.put_object_part(r.bucket, r.key, upload_id, part, *reader, size, {}));
    xml_writer w("CopyPartResult");
    w.element("LastModified", format_iso8601(p.mod_time)).element("ETag", quote_etag(p.etag));
    return send_xml(r, w.finish());
  }

  if (!r.ex.body.content_length() && !r.has_header("transfer-encoding")) return fail(errc::missing_content_length);
  SLUICE_TRY(auto body, upload_body::open(r, c));
  if (body->declared_size() && *body->declared_size() > (5ull << 30)) return fail(errc::entity_too_large);
  auto* b = body.get();
  auto finalize = [b](objstore::object_info& info) -> result<void> {
    if (auto cs = b->checksum()) info.checksums[cs->first] = cs->second;
    return ok();
  };
  SLUICE_TRY(auto p, c.store.put_object_part(r.bucket, r.key, upload_id, part, body->stream(), body->declared_size(),
                                             finalize));
  http::response res;
  res.headers.set(field::etag, quote_etag(p.etag));
  checksum_headers(p.checksums, res);
  return send_empty(r, 200, std::move(res));
}

result<void> complete_multipart_upload(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:PutObject", r.key));
  SLUICE_TRY(auto body, read_small_body(r, c));
  SLUICE_TRY(auto parts, parse_complete(body));
  std::vector<objstore::completed_part> cps;
  for (const auto& p : parts) cps.push_back({p.number, p.etag});
  SLUICE_TRY(admit_events(c, r.bucket));
  // The event is written to the outbox while the store commits the object.
  std::unique_ptr<events::prepared_events> event;
  auto finalize = [&r, &c, &event](objstore::object_info& info) -> result<void> {
    SLUICE_TRY(composite_checksum(info));
    SLUICE_TRY(event, prepare_object_event(r, c, "s3:ObjectCreated:CompleteMultipartUpload", info));
    return ok();
  };
  SLUICE_TRY(auto info, c.store.complete_multipart_upload(r.bucket, r.key, r.param("uploadId"), cps, finalize));
  SLUICE_TRY(commit_events(event));
  xml_writer w("CompleteMultipartUploadResult");
  w.element("Location", "/" + r.bucket + "/" + r.key)
      .element("Bucket", r.bucket)
      .element("Key", r.key)
      .element("ETag", quote_etag(info.etag));
  for (const auto& [alg, v] : info.checksums) w.element("Checksum" + alg, v);
  http::response res;
  res.status = 200;
  add_common_headers(r, res);
  if (!info.version_id.empty()) res.headers.set("x-amz-version-id", info.version_id);
  res.headers.set(field::content_type, "application/xml");
  return r.ex.out.send(res, w.finish());
}

result<void> abort_multipart_upload(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:AbortMultipartUpload", r.key));
  SLUICE_TRY(c.store.abort_multipart_upload(r.bucket, r.key, r.param("uploadId")));
  return send_empty(r, 204);
}

result<void> list_parts(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:ListMultipartUploadParts", r.key));
  SLUICE_TRY(int marker, int_param(r, "part-number-marker", 0, objstore::kMaxPartNumber, 0, "Argument part-number-marker must be an integer"));
  SLUICE_TRY(int max, int_param(r, "max-parts", 0, INT32_MAX, 1000, "Argument max-parts must be an integer"));
  max = std::min(max, 1000);
  std::string id = r.param("uploadId");
  SLUICE_TRY(auto res, c.store.list_parts(r.bucket, r.key, id, marker, max));
  xml_writer w("ListPartsResult");
  w.element("Bucket", r.bucket).element("Key", r.key).element("UploadId", id);
  w.open("Initiator").element("ID", res.upload.owner).element("DisplayName", res.upload.owner).close("Initiator");
  w.open("Owner").element("ID", res.upload.owner).element("DisplayName", res.upload.owner).close("Owner");
  w.element("StorageClass", "STANDARD");
  w.element("PartNumberMarker", static_cast<uint64_t>(marker));
  w.element("NextPartNumberMarker", static_cast<uint64_t>(res.next_marker));
  w.element("MaxParts", static_cast<uint64_t>(max)).element("IsTruncated", res.truncated);
  for (const auto& p : res.parts) {
    w.open("Part")
        .element("PartNumber", static_cast<uint64_t>(p.number))
        .element("LastModified", format_iso8601(p.mod_time))
        .element("ETag", quote_etag(p.etag))
        .element("Size", p.size);
    for (const auto& [alg, v] : p.checksums) w.element("Checksum" + alg, v);
    w.close("Part");
  }
  return send_xml(r, w.finish());
}

result<void> list_multipart_uploads(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:ListBucketMultipartUploads"));
  SLUICE_TRY(int max, int_param(r, "max-uploads", 0, INT32_MAX, 1000, "Argument max-uploads must be an integer"));
  objstore::list_uploads_options lo;
  lo.prefix = r.param("prefix");
  lo.delimiter = r.param("delimiter");
  lo.key_marker = r.param("key-marker");
  lo.upload_id_marker = r.param("upload-id-marker");
  lo.max_uploads = std::min(max, 1000);
  bool url = r.param("encoding-type") == "url";
  auto enc = [url](const std::string& s) { return url ? uri_encode(s, false) : s; };
  SLUICE_TRY(auto res, c.store.list_multipart_uploads(r.bucket, lo));
  xml_writer w("ListMultipartUploadsResult");
  w.element("Bucket", r.bucket).element("KeyMarker", enc(lo.key_marker)).element("UploadIdMarker", lo.upload_id_marker);
  if (res.truncated && !res.uploads.empty()) {
    w.element("NextKeyMarker", enc(res.uploads.back().key)).element("NextUploadIdMarker", res.uploads.back().upload_id);
  }
  if (!lo.prefix.empty()) w.element("Prefix", enc(lo.prefix));
  if (!lo.delimiter.empty()) w.element("Delimiter", enc(lo.delimiter));
  if (url) w.element("EncodingType", "url");
  w.element("MaxUploads", static_cast<uint64_t>(lo.max_uploads)).element("IsTruncated", res.truncated);
  for (const auto& u : res.uploads) {
    w.open("Upload").element("Key", enc(u.key)).element("UploadId", u.upload_id);
    w.open("Initiator").element("ID", u.owner).element("DisplayName", u.owner).close("Initiator");
    w.open("Owner").element("ID", u.owner).element("DisplayName", u.owner).close("Owner");
    w.element("StorageClass", "STANDARD").element("Initiated", format_iso8601(u.initiated)).close("Upload");
  }
  for (const auto& cp : res.common_prefixes) w.open("CommonPrefixes").element("Prefix", enc(cp)).close("CommonPrefixes");
  return send_xml(r, w.finish());
}

}  // namespace sluice::s3
