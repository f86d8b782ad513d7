// Object operations: PUT, GET/HEAD, DELETE, copy, tagging, ACL, multi-delete.
#include "base/encoding.h"
#include "base/time.h"
#include "events/sink.h"
#include "s3/internal/request.h"
#include "s3/range.h"
#include "s3/xml.h"

namespace sluice::s3 {

namespace {

using field = http::bhttp::field;
constexpr size_t kStreamChunk = 1 << 20;
// Ranges at least this long are sent with sendfile(2) when the bytes lie in a
// plain file and the connection is plain TCP (get_object).
constexpr uint64_t kZeroCopyMin = 64 << 10;

std::string strip_quotes(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

// "a", "b" or * in If-Match / If-None-Match.
bool etag_matches(const std::string& header, const std::string& etag) {
  size_t start = 0;
  while (start <= header.size()) {
    size_t comma = header.find(',', start);
    std::string tok = header.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto b = tok.find_first_not_of(' '), e = tok.find_last_not_of(' ');
    tok = b == std::string::npos ? "" : tok.substr(b, e - b + 1);
    if (tok.starts_with("W/")) tok = tok.substr(2);
    if (tok == "*" || strip_quotes(tok) == etag) return true;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

sys_time whole_seconds(sys_time t) { return std::chrono::floor<std::chrono::seconds>(t); }

// RFC 9110 §13.2.2 evaluation order with S3's answers: 412 PreconditionFailed or 304 NotModified.
result<void> check_preconditions(const request& r, const objstore::object_info& info, const std::string& prefix,
                                 bool copy) {
  std::string if_match = r.header(prefix + "if-match");
  std::string if_none = r.header(prefix + "if-none-match");
  std::string if_unmod = r.header(prefix + "if-unmodified-since");
  std::string if_mod = r.header(prefix + "if-modified-since");
  auto mtime = whole_seconds(info.mod_time);
  if (!if_match.empty()) {
    if (!etag_matches(if_match, info.etag)) return fail(errc::precondition_failed);
  } else if (!if_unmod.empty()) {
    if (auto t = parse_http_date(if_unmod); t && mtime > *t) return fail(errc::precondition_failed);
  }
  if (!if_none.empty()) {
    if (etag_matches(if_none, info.etag)) return fail(copy ? errc::precondition_failed : errc::not_modified);
  } else if (!if_mod.empty()) {
    if (auto t = parse_http_date(if_mod); t && mtime <= *t) return fail(copy ? errc::precondition_failed : errc::not_modified);
  }
  return ok();
}

result<void> check_key(const request& r) {
  if (r.key.size() > 1024) return fail(errc::key_too_long);
  return ok();
}

// What a delete of `key` (asked for `version`, "" = latest) that answered
// success raises, as MinIO decides it: a delete marker made (or a marker
// version removed) is DeleteMarkerCreated with the marker's version; a key
// that was not there (or could not be: an invalid name, `removed` failed) is
// `if_missing`; else Delete of the removed version.
events::event_args removal_event(const request& r, const context& c, const std::string& key,
                                 const std::string& version, const result<objstore::object_info>& removed,
                                 std::string_view if_missing) {
  if (removed && removed.value().delete_marker) {
    auto e = key_event(r, c, "s3:ObjectRemoved:DeleteMarkerCreated", key, removed.value().version_id);
    e.mod_time = removed.value().mod_time;
    return e;
  }
  // Stores report a key that did not exist with an unset modification time.
  if (!removed || removed.value().mod_time == sys_time{}) return key_event(r, c, if_missing, key, version);
  return key_event(r, c, "s3:ObjectRemoved:Delete", key, removed.value().version_id);
}

}  // namespace

result<void> put_object(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:PutObject", r.key));
  SLUICE_TRY(check_key(r));
  if (!r.ex.body.content_length() && !r.has_header("transfer-encoding")) return fail(errc::missing_content_length);
  SLUICE_TRY(auto metadata, metadata_from_headers(r));
  SLUICE_TRY(auto tags, tags_from_header(r));
  SLUICE_TRY(auto body, upload_body::open(r, c));
  if (body->declared_size() && *body->declared_size() > c.opts.max_object_size) return fail(errc::entity_too_large);
  SLUICE_TRY(admit_events(c, r.bucket));
  objstore::put_options po;
  po.metadata = std::move(metadata);
  po.tags = std::move(tags);
  po.size = body->declared_size();
  po.owner = r.user ? r.user->access_key : std::string();
  auto* b = body.get();
  // The event is written to the outbox while the store commits the object.
  std::unique_ptr<events::prepared_events> event;
  po.finalize = [b, &r, &c, &event](objstore::object_info& info) -> result<void> {
    if (auto cs = b->checksum()) info.checksums[cs->first] = cs->second;
    SLUICE_TRY(event, prepare_object_event(r, c, "s3:ObjectCreated:Put", info));
    return ok();
  };
  SLUICE_TRY(auto info, c.store.put_object(r.bucket, r.key, body->stream(), std::move(po)));
  SLUICE_TRY(commit_events(event));
  http::response res;
  res.headers.set(field::etag, quote_etag(info.etag));
  if (!info.version_id.empty()) res.headers.set("x-amz-version-id", info.version_id);
  checksum_headers(info.checksums, res);
  return send_empty(r, 200, std::move(res));
}

namespace {

// Whether versioning was ever set on the bucket (Enabled or Suspended; cached by the store).
bool has_versioning_status(const context& c, const std::string& bucket) {
  auto doc = c.store.bucket_config(bucket, "versioning");
  return !doc || doc.value().has_value();  // unreadable: look rather than miss a marker
}

}  // namespace

// GET and HEAD. GET opens the object once and takes headers, preconditions
// and range from that reader, so headers and bytes describe one version.
result<void> get_object(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:GetObject", r.key));
  SLUICE_TRY(check_key(r));
  std::string version = r.param("versionId");
  std::unique_ptr<objstore::object_reader> reader;
  result<objstore::object_info> found = fail(objstore::errc::object_not_found);
  if (r.method == "HEAD") {
    found = c.store.stat_object(r.bucket, r.key, version);
  } else {
    auto opened = c.store.get_object(r.bucket, r.key, {.version_id = version});
    if (opened) {
      reader = std::move(opened).value();
      found = reader->info();
    } else {
      found = fail(opened.error());
    }
  }
  if (!found) {
    // Reading a delete marker by its version id is 405 (S3); either way the client learns it was a marker.
    if (found.error().is(objstore::errc::method_not_allowed)) {
      r.error_headers.set("x-amz-delete-marker", "true");
      r.error_headers.set("x-amz-version-id", version);
    }
    // A key whose latest version is a delete marker: 404 NoSuchKey that says so, with the marker's version (S3).
    // Only buckets that ever had versioning (a stored status) can hold a marker: others skip the listing.
    if (version.empty() && found.error().is(objstore::errc::object_not_found) && c.store.supports_versioning() &&
        has_versioning_status(c, r.bucket)) {
      auto v = c.store.list_object_versions(r.bucket, {.prefix = r.key, .max_keys = 1});
      if (v && !v.value().versions.empty()) {
        const auto& latest = v.value().versions.front();
        if (latest.key == r.key && latest.delete_marker && latest.is_latest) {
          r.error_headers.set("x-amz-delete-marker", "true");
          r.error_headers.set("x-amz-version-id", latest.version_id.empty() ? "null" : latest.version_id);
        }
      }
    }
    return fail(found.error());
  }
  const objstore::object_info& info = found.value();
  if (auto pre = check_preconditions(r, info, "", false); !pre) {
    if (!pre.error().is(errc::not_modified)) return pre;
    // 304 carries the validators so caches can refresh (RFC 9110 §15.4.5).
    http::response res;
    res.status = 304;
    add_common_headers(r, res);
    res.headers.set(field::etag, quote_etag(info.etag));
    res.headers.set(field::last_modified, format_http_date(info.mod_time));
    return r.ex.out.send(res, "");
  }

  uint64_t offset = 0, length = info.size;
  bool partial = false;
  if (r.has("partNumber")) {
    int n = std::atoi(r.param("partNumber").c_str());
    if (n < 1 || n > objstore::kMaxPartNumber) return fail(errc::invalid_argument, "Part number must be an integer between 1 and 10000, inclusive");
    if (info.parts.empty()) {
      if (n != 1) return fail(errc::invalid_range);
    } else {
      if (static_cast<size_t>(n) > info.parts.size()) return fail(errc::invalid_range);
      for (int i = 0; i < n - 1; ++i) offset += info.parts[static_cast<size_t>(i)].size;
      length = info.parts[static_cast<size_t>(n - 1)].size;
      partial = true;
    }
  } else if (r.has_header("range")) {
    auto rr = parse_range(r.header("range"), info.size);
    if (rr.k == range_result::kind::unsatisfiable) {
      r.error_headers.set(field::content_range, "bytes */" + std::to_string(info.size));
      return fail(objstore::errc::invalid_range);
    }
    if (rr.k == range_result::kind::satisfiable) {
      offset = rr.offset;
      length = rr.length;
      partial = true;
    }
  }

  http::response res;
  res.status = partial ? 206 : 200;
  add_common_headers(r, res);
  object_headers(info, res, r.header("x-amz-checksum-mode") == "ENABLED" && !partial);
  if (!info.parts.empty()) res.headers.set("x-amz-mp-parts-count", std::to_string(info.parts.size()));
  if (partial) {
    res.headers.set(field::content_range, "bytes " + std::to_string(offset) + "-" +
                                              std::to_string(offset + length - 1) + "/" + std::to_string(info.size));
  }
  static const std::pair<const char*, field> overrides[] = {
      {"response-content-type", field::content_type},         {"response-content-language", field::content_language},
      {"response-expires", field::expires},                   {"response-cache-control", field::cache_control},
      {"response-content-disposition", field::content_disposition},
      {"response-content-encoding", field::content_encoding}};
  for (const auto& [param, f] : overrides) {
    if (!r.has(param)) continue;
    const std::string v = r.param(param);
    if (!http::valid_header_value(v)) {
      return fail(errc::invalid_argument, std::string("Invalid value for ") + param + ": control characters");
    }
    res.headers.set(f, v);
  }
  const char* accessed = r.method == "HEAD" ? "s3:ObjectAccessed:Head" : "s3:ObjectAccessed:Get";
  SLUICE_TRY(publish_object_event(r, c, accessed, info, length));
  if (r.method == "HEAD") {
    res.headers.set(field::content_length, std::to_string(length));
    return r.ex.out.send(res, "");
  }
  if (partial) {
    SLUICE_TRY(reader->set_range(offset, length));
  }
  // Bytes that lie in plain files (single-drive objects past the inline
  // size) go from the page cache to a plain socket with sendfile(2): no
  // copy through this process. A 64 MiB GET copied every byte twice
  // (pread, send) and reached ~0.5x nginx's sendfile on the same machine.
  if (length >= kZeroCopyMin && r.ex.out.can_write_file()) {
    SLUICE_TRY(auto span, reader->next_file_span(length));
    if (span) {
      SLUICE_TRY(r.ex.out.begin(res, length));
      uint64_t sent = 0;
      for (;;) {
        SLUICE_TRY(r.ex.out.write_file(span->fd, span->offset, span->length));
        sent += span->length;
        if (sent >= length) return ok();
        SLUICE_TRY(span, reader->next_file_span(length - sent));
        if (!span) return fail(objstore::errc::corrupt, "object ended early");
      }
    }
  }
  std::string buf(static_cast<size_t>(std::min<uint64_t>(kStreamChunk, std::max<uint64_t>(length, 1))), '\0');
  // The first chunk is read before the status line goes out, so an object
  // that cannot be read at all (e.g. too few good shards) gets a clean error
  // answer; a failure later can only cut the connection short.
  size_t n = 0;
  if (length > 0) {
    SLUICE_TRY(n, reader->read(buf.data(), buf.size()));
    if (n == 0) return fail(objstore::errc::corrupt, "object ended early");
  }
  SLUICE_TRY(r.ex.out.begin(res, length));
  uint64_t sent = 0;
  while (sent < length) {
    if (sent > 0) {
      SLUICE_TRY(n, reader->read(buf.data(), buf.size()));
      if (n == 0) return fail(objstore::errc::corrupt, "object ended early");
    }
    SLUICE_TRY(r.ex.out.write(std::string_view(buf.data(), n)));
    sent += n;
  }
  return ok();
}

result<void> delete_object(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:DeleteObject", r.key));
  SLUICE_TRY(check_key(r));
  SLUICE_TRY(admit_events(c, r.bucket));
  std::string version = r.param("versionId");
  auto removed = c.store.delete_object(r.bucket, r.key, version);
  if (!removed && !removed.error().is(objstore::errc::invalid_object_name)) return fail(removed.error());
  http::response res;
  if (removed) {
    if (removed.value().delete_marker) res.headers.set("x-amz-delete-marker", "true");
    if (!removed.value().version_id.empty()) res.headers.set("x-amz-version-id", removed.value().version_id);
  }
  auto event = removal_event(r, c, r.key, version, removed, "s3:ObjectRemoved:NoOP");
  SLUICE_TRY(publish_events(c, {&event, 1}));
  return send_empty(r, 204, std::move(res));
}

result<void> delete_objects(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, ""));
  SLUICE_TRY(auto body, read_small_body(r, c));
  SLUICE_TRY(auto req, parse_delete(body));
  SLUICE_TRY(admit_events(c, r.bucket));
  xml_writer w("DeleteResult");
  std::vector<events::event_args> deleted;
  for (const auto& [key, version] : req.objects) {
    auto removed = c.store.delete_object(r.bucket, key, version);
    if (removed || removed.error().is(objstore::errc::invalid_object_name)) {
      // MinIO raises Delete (or DeleteMarkerCreated) for every key it reports deleted, existing or not.
      deleted.push_back(removal_event(r, c, key, version, removed, "s3:ObjectRemoved:Delete"));
      if (req.quiet) continue;
      w.open("Deleted").element("Key", key);
      if (!version.empty()) w.element("VersionId", version);
      if (removed && removed.value().delete_marker) {
        w.element("DeleteMarker", true);
        if (version.empty()) w.element("DeleteMarkerVersionId", removed.value().version_id);
      }
      w.close("Deleted");
    } else {
      auto api = to_api_error(removed.error());
      w.open("Error").element("Key", key);
      if (!version.empty()) w.element("VersionId", version);
      w.element("Code", api.code).element("Message", api.message).close("Error");
    }
  }
  SLUICE_TRY(publish_events(c, deleted));
  return send_xml(r, w.finish());
}

result<void> copy_object(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, "s3:PutObject", r.key));
  SLUICE_TRY(check_key(r));
  SLUICE_TRY(auto src, parse_copy_source(r.header("x-amz-copy-source")));
  SLUICE_TRY(authorize_bucket(r, c, src.bucket, "s3:GetObject", src.key));
  SLUICE_TRY(auto info, c.store.stat_object(src.bucket, src.key, src.version_id));
  SLUICE_TRY(check_preconditions(r, info, "x-amz-copy-source-", true));
  std::string directive = r.header("x-amz-metadata-directive");
  std::string tag_directive = r.header("x-amz-tagging-directive");
  if (!directive.empty() && directive != "COPY" && directive != "REPLACE") {
    return fail(errc::invalid_argument, "Unknown metadata directive.");
  }
  if (!tag_directive.empty() && tag_directive != "COPY" && tag_directive != "REPLACE") {
    return fail(errc::invalid_argument, "Unknown tagging directive.");
  }
  bool replace_meta = directive == "REPLACE";
  bool replace_tags = tag_directive == "REPLACE";
  bool same = src.bucket == r.bucket && src.key == r.key;
  if (same && !replace_meta && !replace_tags && !r.has_header("x-amz-storage-class")) {
    return fail(errc::invalid_request,
                "This copy request is illegal because it is trying to copy an object to itself without changing "
                "the object's metadata, storage class, website redirect location or encryption attributes.");
  }
  std::optional<objstore::metadata_map> meta;
  if (replace_meta) {
    SLUICE_TRY(auto m, metadata_from_headers(r));
    meta = std::move(m);
  }
  std::optional<std::string> tags;
  if (replace_tags) {
    SLUICE_TRY(auto t, tags_from_header(r));
    tags = std::move(t);
  }
  SLUICE_TRY(admit_events(c, r.bucket));
  objstore::object_info result_info;
  if (same && src.version_id.empty()) {
    SLUICE_TRY(result_info, c.store.update_object_metadata(r.bucket, r.key, "", meta, tags));
  } else {
    if (info.size > (5ull << 30)) {
      return fail(errc::invalid_request, "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120");
    }
    SLUICE_TRY(auto reader, c.store.get_object(src.bucket, src.key, {.version_id = src.version_id}));
    objstore::put_options po;
    po.metadata = meta ? std::move(*meta) : reader->info().metadata;
    po.tags = tags ? std::move(*tags) : reader->info().tags;
    po.size = reader->info().size;
    po.owner = r.user->access_key;
    auto src_checksums = reader->info().parts.empty() ? reader->info().checksums : std::map<std::string, std::string>{};
    // The event is written to the outbox while the store commits the copy.
    std::unique_ptr<events::prepared_events> event;
    po.finalize = [src_checksums, &r, &c, &event](objstore::object_info& i) -> result<void> {
      i.checksums = src_checksums;
      SLUICE_TRY(event, prepare_object_event(r, c, "s3:ObjectCreated:Copy", i));
      return ok();
    };
    SLUICE_TRY(result_info, c.store.put_object(r.bucket, r.key, *reader, std::move(po)));
    SLUICE_TRY(commit_events(event));
  }
  if (same && src.version_id.empty()) {
    SLUICE_TRY(publish_object_event(r, c, "s3:ObjectCreated:Copy", result_info));
  }
  http::response res;
  if (!src.version_id.empty()) res.headers.set("x-amz-copy-source-version-id", src.version_id);
  if (!result_info.version_id.empty()) res.headers.set("x-amz-version-id", result_info.version_id);
  xml_writer w("CopyObjectResult");
  w.element("LastModified", format_iso8601(result_info.mod_time)).element("ETag", quote_etag(result_info.etag));
  res.status = 200;
  add_common_headers(r, res);
  res.headers.set(field::content_type, "application/xml");
  return r.ex.out.send(res, w.finish());
}

result<void> object_tagging(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket,
                              r.method == "GET"   ? "s3:GetObjectTagging"
                              : r.method == "PUT" ? "s3:PutObjectTagging"
                                                   : "s3:DeleteObjectTagging",
                              r.key));
  SLUICE_TRY(check_key(r));
  std::string version = r.param("versionId");
  if (r.method == "GET") {
    SLUICE_TRY(auto info, c.store.stat_object(r.bucket, r.key, version));
    SLUICE_TRY(auto tags, parse_tagging_query(info.tags, 1000));
    return send_xml(r, tagging_xml(tags));
  }
  if (r.method == "PUT") {
    SLUICE_TRY(auto body, read_small_body(r, c));
    SLUICE_TRY(auto tags, parse_tagging(body, 10));
    SLUICE_TRY(admit_events(c, r.bucket));
    SLUICE_TRY(auto info,
               c.store.update_object_metadata(r.bucket, r.key, version, std::nullopt, tags_to_query(tags)));
    SLUICE_TRY(publish_object_event(r, c, "s3:ObjectCreated:PutTagging", info));
    return send_empty(r, 200);
  }
  SLUICE_TRY(admit_events(c, r.bucket));
  SLUICE_TRY(auto info,
             c.store.update_object_metadata(r.bucket, r.key, version, std::nullopt, std::string()));
  SLUICE_TRY(publish_object_event(r, c, "s3:ObjectCreated:DeleteTagging", info));
  return send_empty(r, 204);
}

result<void> object_acl(request& r, const context& c) {
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, ""));
  SLUICE_TRY(c.store.stat_object(r.bucket, r.key, r.param("versionId")));
  if (r.method == "PUT") {
    std::string acl = r.header("x-amz-acl");
    if (!acl.empty() && acl != "private") return fail(errc::not_implemented, "Only the private canned ACL is supported.");
    return send_empty(r, 200);
  }
  return send_xml(r, private_acl_xml(r.user->access_key));
}

}  // namespace sluice::s3
