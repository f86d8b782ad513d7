#include "s3client/internal/xml.h"

#include <charconv>
#include <pugixml.hpp>

#include "base/encoding.h"

namespace sluice::s3client::internal {

namespace {

constexpr std::string_view kNs = "http://s3.amazonaws.com/doc/2006-03-01/";

result<pugi::xml_node> load(pugi::xml_document& doc, std::string_view body, const char* root,
                            const char* what) {
  auto r = doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) return fail(errc::bad_response, std::string(what) + ": malformed XML (" + r.description() + ")");
  pugi::xml_node n = doc.child(root);
  if (!n) return fail(errc::bad_response, std::string(what) + ": no <" + root + "> element");
  return n;
}

std::string decoded(const char* v, bool url_encoded) {
  if (!url_encoded) return v;
  // AWS and MinIO escape like a form (space as '+', a literal '+' as %2B).
  auto d = uri_decode(v, true);
  return d ? std::move(*d) : std::string(v);
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\t':
        out += "&#9;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

bool is_error_document(std::string_view body) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8)) return false;
  return static_cast<bool>(doc.child("Error"));
}

std::string delete_objects_body(const std::vector<std::string>& keys, bool quiet) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete xmlns=\"";
  out += kNs;
  out += "\">";
  if (quiet) out += "<Quiet>true</Quiet>";
  for (const auto& k : keys) out += "<Object><Key>" + xml_escape(k) + "</Key></Object>";
  out += "</Delete>";
  return out;
}

std::string complete_multipart_body(const std::vector<completed_part>& parts) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload xmlns=\"";
  out += kNs;
  out += "\">";
  for (const auto& p : parts) {
    out += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" + xml_escape(p.etag) +
           "</ETag></Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

std::string create_bucket_body(std::string_view region) {
  if (region.empty() || region == "us-east-1") return {};
  std::string out = "<CreateBucketConfiguration xmlns=\"";
  out += kNs;
  out += "\"><LocationConstraint>" + xml_escape(region) + "</LocationConstraint></CreateBucketConfiguration>";
  return out;
}

result<std::string> parse_upload_id(std::string_view body) {
  pugi::xml_document doc;
  SLUICE_TRY(auto root, load(doc, body, "InitiateMultipartUploadResult", "CreateMultipartUpload"));
  std::string id = root.child_value("UploadId");
  if (id.empty()) return fail(errc::bad_response, "CreateMultipartUpload: no UploadId in the answer");
  return id;
}

result<std::string> parse_etag(std::string_view body) {
  pugi::xml_document doc;
  auto r = doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) return fail(errc::bad_response, std::string("malformed XML (") + r.description() + ")");
  std::string etag = doc.document_element().child_value("ETag");
  if (etag.empty()) {
    return fail(errc::bad_response, std::string("no ETag in <") + doc.document_element().name() + ">");
  }
  return etag;
}

result<delete_result> parse_delete_result(std::string_view body) {
  pugi::xml_document doc;
  SLUICE_TRY(auto root, load(doc, body, "DeleteResult", "DeleteObjects"));
  delete_result out;
  for (auto d : root.children("Deleted")) out.deleted.emplace_back(d.child_value("Key"));
  for (auto e : root.children("Error")) {
    out.errors.push_back({e.child_value("Key"), e.child_value("Code"), e.child_value("Message")});
  }
  return out;
}

result<list_page> parse_list_v2(std::string_view body, bool url_encoded) {
  pugi::xml_document doc;
  SLUICE_TRY(auto root, load(doc, body, "ListBucketResult", "ListObjectsV2"));
  bool encoded = url_encoded && std::string_view(root.child_value("EncodingType")) == "url";
  list_page out;
  for (auto c : root.children("Contents")) {
    list_entry e;
    e.key = decoded(c.child_value("Key"), encoded);
    std::string_view size = c.child_value("Size");
    if (std::from_chars(size.data(), size.data() + size.size(), e.size).ec != std::errc()) {
      return fail(errc::bad_response, "ListObjectsV2: bad <Size> '" + std::string(size) + "'");
    }
    e.etag = c.child_value("ETag");
    e.last_modified = c.child_value("LastModified");
    out.objects.push_back(std::move(e));
  }
  for (auto p : root.children("CommonPrefixes"))
    out.common_prefixes.push_back(decoded(p.child_value("Prefix"), encoded));
  out.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
  out.next_continuation_token = root.child_value("NextContinuationToken");
  if (out.truncated && out.next_continuation_token.empty()) {
    return fail(errc::bad_response, "ListObjectsV2: truncated page without NextContinuationToken");
  }
  return out;
}

}  // namespace sluice::s3client::internal
