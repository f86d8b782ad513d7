#pragma once
// S3 XML bodies: a small writer for responses and pugixml-based parsers for
// the request documents S3 accepts. Parsers reject anything malformed with
// s3::errc::malformed_xml (or a more specific S3 error).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sluice::s3 {

std::string xml_escape(std::string_view s);

class xml_writer {
 public:
  // Starts the document with <root xmlns="http://s3.amazonaws.com/doc/2006-03-01/"> (ns=true).
  explicit xml_writer(std::string_view root, bool ns = true);
  xml_writer& open(std::string_view name);
  xml_writer& close(std::string_view name);
  xml_writer& element(std::string_view name, std::string_view value);
  xml_writer& element(std::string_view name, uint64_t value) { return element(name, std::to_string(value)); }
  xml_writer& element(std::string_view name, bool value) { return element(name, value ? "true" : "false"); }
  xml_writer& element(std::string_view name, const char* value) { return element(name, std::string_view(value)); }
  // Appends markup as is (for elements with attributes).
  xml_writer& raw(std::string_view markup) {
    out_ += markup;
    return *this;
  }
  std::string finish();

 private:
  std::string out_;
  std::string root_;
};

struct delete_request {
  bool quiet = false;
  std::vector<std::pair<std::string, std::string>> objects;  // key, version id
};
result<delete_request> parse_delete(std::string_view body);

struct complete_part {
  int number = 0;
  std::string etag;
};
result<std::vector<complete_part>> parse_complete(std::string_view body);

using tag_set = std::vector<std::pair<std::string, std::string>>;
// <Tagging><TagSet><Tag><Key/><Value/></Tag>...</TagSet></Tagging>, validated (InvalidTag).
result<tag_set> parse_tagging(std::string_view body, size_t max_tags);
// x-amz-tagging header form "k1=v1&k2=v2", validated the same way.
result<tag_set> parse_tagging_query(std::string_view query, size_t max_tags);
std::string tags_to_query(const tag_set& tags);
std::string tagging_xml(const tag_set& tags);

// <CreateBucketConfiguration><LocationConstraint>..</LocationConstraint></CreateBucketConfiguration>
result<std::string> parse_location_constraint(std::string_view body);

// The canned "private" ACL document: the owner has FULL_CONTROL.
std::string private_acl_xml(const std::string& owner);

// <VersioningConfiguration><Status>Enabled|Suspended</Status></VersioningConfiguration>
result<std::string> parse_versioning(std::string_view body);

}  // namespace sluice::s3
