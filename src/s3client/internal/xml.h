#pragma once
// The S3 XML documents the client sends and reads. Parsers fail with
// s3client::errc::bad_response when a required element is missing.
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "s3client/client.h"

namespace sluice::s3client::internal {

std::string xml_escape(std::string_view s);

// True when the document's root element is <Error> (S3 may answer 200 with an
// error body to CompleteMultipartUpload and copies).
bool is_error_document(std::string_view body);

std::string delete_objects_body(const std::vector<std::string>& keys, bool quiet);
std::string complete_multipart_body(const std::vector<completed_part>& parts);
std::string create_bucket_body(std::string_view region);  // empty for us-east-1

result<std::string> parse_upload_id(std::string_view body);  // InitiateMultipartUploadResult
result<std::string> parse_etag(std::string_view body);       // CompleteMultipartUploadResult, CopyPartResult
result<delete_result> parse_delete_result(std::string_view body);
// url_encoded: the request had encoding-type=url, so keys and prefixes are percent-decoded.
result<list_page> parse_list_v2(std::string_view body, bool url_encoded);

}  // namespace sluice::s3client::internal
