#include "s3/xml.h"

#include <pugixml.hpp>

#include <set>

#include "base/encoding.h"
#include "s3/errors.h"

namespace sluice::s3 {

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\r': out += "&#13;"; break;
      case '\n': out += "&#10;"; break;
      case '\t': out += "&#9;"; break;
      default:
        // Other control characters cannot appear in XML 1.0; S3 escapes them the same way.
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "&#" + std::to_string(static_cast<int>(c)) + ";";
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

xml_writer::xml_writer(std::string_view root, bool ns) : root_(root) {
  out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<";
  out_ += root;
  if (ns) out_ += " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
  out_ += ">";
}

xml_writer& xml_writer::open(std::string_view name) {
  out_ += "<";
  out_ += name;
  out_ += ">";
  return *this;
}

xml_writer& xml_writer::close(std::string_view name) {
  out_ += "</";
  out_ += name;
  out_ += ">";
  return *this;
}

xml_writer& xml_writer::element(std::string_view name, std::string_view value) {
  open(name);
  out_ += xml_escape(value);
  return close(name);
}

std::string xml_writer::finish() {
  close(root_);
  return std::move(out_);
}

namespace {

result<pugi::xml_document> load(std::string_view body) {
  pugi::xml_document doc;
  auto r = doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) return fail(errc::malformed_xml);
  return doc;
}

// Element names compared without any namespace prefix.
std::string_view local_name(const pugi::xml_node& n) {
  std::string_view name = n.name();
  auto colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node child(const pugi::xml_node& n, std::string_view name) {
  for (auto c : n.children()) {
    if (c.type() == pugi::node_element && local_name(c) == name) return c;
  }
  return {};
}

result<tag_set> validate_tags(tag_set tags, size_t max_tags) {
  if (tags.size() > max_tags) return fail(errc::invalid_tag, "Object tags cannot be greater than " + std::to_string(max_tags));
  std::set<std::string> seen;
  for (const auto& [k, v] : tags) {
    if (k.empty() || k.size() > 128 || !is_valid_utf8(k)) return fail(errc::invalid_tag, "The TagKey you have provided is invalid");
    if (v.size() > 256 || !is_valid_utf8(v)) return fail(errc::invalid_tag, "The TagValue you have provided is invalid");
    if (!seen.insert(k).second) return fail(errc::invalid_tag, "Cannot provide multiple Tags with the same key");
  }
  return tags;
}

}  // namespace

result<delete_request> parse_delete(std::string_view body) {
  SLUICE_TRY(auto doc, load(body));
  auto root = doc.document_element();
  if (local_name(root) != "Delete") return fail(errc::malformed_xml);
  delete_request out;
  for (auto c : root.children()) {
    if (c.type() != pugi::node_element) continue;
    if (local_name(c) == "Quiet") {
      std::string_view v = c.text().get();
      out.quiet = v == "true" || v == "True" || v == "TRUE";
    } else if (local_name(c) == "Object") {
      auto key = child(c, "Key");
      if (!key) return fail(errc::malformed_xml);
      out.objects.emplace_back(key.text().get(), child(c, "VersionId").text().get());
    }
  }
  if (out.objects.empty() || out.objects.size() > 1000) return fail(errc::malformed_xml);
  return out;
}

result<std::vector<complete_part>> parse_complete(std::string_view body) {
  SLUICE_TRY(auto doc, load(body));
  auto root = doc.document_element();
  if (local_name(root) != "CompleteMultipartUpload") return fail(errc::malformed_xml);
  std::vector<complete_part> out;
  for (auto c : root.children()) {
    if (c.type() != pugi::node_element || local_name(c) != "Part") continue;
    auto num = child(c, "PartNumber");
    auto etag = child(c, "ETag");
    if (!num || !etag) return fail(errc::malformed_xml);
    std::string n = num.text().get();
    char* end = nullptr;
    long v = std::strtol(n.c_str(), &end, 10);
    if (n.empty() || *end) return fail(errc::malformed_xml);
    if (v < 1 || v > 10000) return fail(errc::invalid_argument, "Part number must be an integer between 1 and 10000, inclusive");
    out.push_back({static_cast<int>(v), etag.text().get()});
  }
  if (out.empty()) return fail(errc::malformed_xml, "You must specify at least one part");
  return out;
}

result<tag_set> parse_tagging(std::string_view body, size_t max_tags) {
  SLUICE_TRY(auto doc, load(body));
  auto root = doc.document_element();
  if (local_name(root) != "Tagging") return fail(errc::malformed_xml);
  auto set = child(root, "TagSet");
  if (!set) return fail(errc::malformed_xml);
  tag_set tags;
  for (auto t : set.children()) {
    if (t.type() != pugi::node_element) continue;
    if (local_name(t) != "Tag") return fail(errc::malformed_xml);
    auto k = child(t, "Key");
    if (!k) return fail(errc::malformed_xml);
    tags.emplace_back(k.text().get(), child(t, "Value").text().get());
  }
  return validate_tags(std::move(tags), max_tags);
}

result<tag_set> parse_tagging_query(std::string_view query, size_t max_tags) {
  tag_set tags;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto k = uri_decode(pair.substr(0, eq), true);
    auto v = uri_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!k || !v) return fail(errc::invalid_tag, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.");
    tags.emplace_back(*k, *v);
  }
  return validate_tags(std::move(tags), max_tags);
}

std::string tags_to_query(const tag_set& tags) {
  std::string out;
  for (const auto& [k, v] : tags) {
    if (!out.empty()) out += "&";
    out += uri_encode(k) + "=" + uri_encode(v);
  }
  return out;
}

std::string tagging_xml(const tag_set& tags) {
  xml_writer w("Tagging");
  w.open("TagSet");
  for (const auto& [k, v] : tags) w.open("Tag").element("Key", k).element("Value", v).close("Tag");
  w.close("TagSet");
  return w.finish();
}

result<std::string> parse_location_constraint(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::string();
  SLUICE_TRY(auto doc, load(body));
  auto root = doc.document_element();
  if (local_name(root) != "CreateBucketConfiguration") return fail(errc::malformed_xml);
  return std::string(child(root, "LocationConstraint").text().get());
}

std::string private_acl_xml(const std::string& owner) {
  xml_writer w("AccessControlPolicy");
  w.open("Owner").element("ID", owner).element("DisplayName", owner).close("Owner");
  w.open("AccessControlList").open("Grant");
  w.raw("<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">");
  w.element("ID", owner).element("DisplayName", owner).close("Grantee");
  w.element("Permission", "FULL_CONTROL").close("Grant").close("AccessControlList");
  return w.finish();
}

result<std::string> parse_versioning(std::string_view body) {
  SLUICE_TRY(auto doc, load(body));
  auto root = doc.document_element();
  if (local_name(root) != "VersioningConfiguration") return fail(errc::malformed_xml);
  std::string status = child(root, "Status").text().get();
  if (status != "Enabled" && status != "Suspended") return fail(errc::malformed_xml);
  return status;
}

}  // namespace sluice::s3
