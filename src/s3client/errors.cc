#include "s3client/errors.h"

#include <pugixml.hpp>

SLUICE_ERRC_CATEGORY(sluice::s3client, "s3client", case errc::no_such_key
                     : return "no such key";
                     case errc::no_such_bucket
                     : return "no such bucket";
                     case errc::no_such_upload
                     : return "no such multipart upload";
                     case errc::access_denied
                     : return "access denied";
                     case errc::invalid_credentials
                     : return "access key or secret key rejected";
                     case errc::invalid_range
                     : return "range not satisfiable";
                     case errc::precondition_failed
                     : return "precondition failed";
                     case errc::bucket_exists
                     : return "bucket already exists";
                     case errc::slow_down
                     : return "throttled (SlowDown)";
                     case errc::unavailable
                     : return "service unavailable";
                     case errc::request_rejected
                     : return "request rejected";
                     case errc::unknown_host
                     : return "unknown host";
                     case errc::connection_refused
                     : return "connection refused";
                     case errc::timeout
                     : return "timed out";
                     case errc::network
                     : return "network error";
                     case errc::tls
                     : return "TLS error";
                     case errc::bad_response
                     : return "bad response";
                     case errc::response_too_large
                     : return "response too large";
                     case errc::invalid_argument
                     : return "invalid argument";
                     case errc::pool_exhausted
                     : return "no free connection";)

namespace sluice::s3client {

namespace {

// What a body-less error answer (HEAD) means, as AWS SDKs name it.
std::string code_for_status(unsigned status) {
  switch (status) {
    case 301:
      return "PermanentRedirect";
    case 400:
      return "BadRequest";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 412:
      return "PreconditionFailed";
    case 416:
      return "InvalidRange";
    case 500:
      return "InternalError";
    case 501:
      return "NotImplemented";
    case 502:
      return "BadGateway";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "GatewayTimeout";
    default:
      return "HTTP" + std::to_string(status);
  }
}

}  // namespace

s3_error parse_error(unsigned status, std::string_view body, std::string_view request_id_header) {
  s3_error e;
  e.status = status;
  e.request_id = std::string(request_id_header);
  pugi::xml_document doc;
  if (!body.empty() && doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8)) {
    pugi::xml_node root = doc.child("Error");
    if (root) {
      e.code = root.child_value("Code");
      e.message = root.child_value("Message");
      if (const char* id = root.child_value("RequestId"); *id) e.request_id = id;
      e.resource = root.child_value("Resource");
      if (e.resource.empty()) e.resource = root.child_value("Key");
      if (e.resource.empty()) e.resource = root.child_value("BucketName");
    }
  }
  if (e.code.empty()) e.code = code_for_status(status);
  if (e.message.empty() && !body.empty() && !doc.child("Error")) {
    // Not S3 XML (a proxy's HTML page, plain text): keep a short excerpt.
    e.message = std::string(body.substr(0, 200));
    for (char& c : e.message) {
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
  }
  return e;
}

errc classify(const s3_error& e) {
  const std::string& c = e.code;
  if (c == "NoSuchKey") return errc::no_such_key;
  if (c == "NoSuchBucket") return errc::no_such_bucket;
  if (c == "NoSuchUpload") return errc::no_such_upload;
  if (c == "InvalidAccessKeyId" || c == "SignatureDoesNotMatch") return errc::invalid_credentials;
  if (c == "AccessDenied" || c == "AllAccessDisabled" || c == "Forbidden") return errc::access_denied;
  if (c == "InvalidRange") return errc::invalid_range;
  if (c == "PreconditionFailed") return errc::precondition_failed;
  if (c == "BucketAlreadyExists" || c == "BucketAlreadyOwnedByYou") return errc::bucket_exists;
  if (c == "SlowDown" || c == "Throttling" || c == "ThrottlingException" || c == "RequestLimitExceeded" ||
      c == "TooManyRequests") {
    return errc::slow_down;
  }
  if (c == "RequestTimeout") return errc::timeout;
  if (c == "InternalError" || c == "ServiceUnavailable" || c == "BadGateway" || c == "GatewayTimeout") {
    return errc::unavailable;
  }
  if (e.status == 404 && c == "NotFound") return errc::no_such_key;  // HEAD object; head_bucket remaps
  if (e.status == 403) return errc::access_denied;
  if (e.status == 429) return errc::slow_down;
  if (e.status == 500 || e.status == 502 || e.status == 503 || e.status == 504) return errc::unavailable;
  return errc::request_rejected;
}

error to_error(const s3_error& e) {
  std::string msg = e.code;
  if (!e.message.empty()) msg += ": " + e.message;
  msg += " (HTTP " + std::to_string(e.status);
  if (!e.request_id.empty()) msg += ", request id " + e.request_id;
  msg += ")";
  return error(classify(e), std::move(msg));
}

bool is_retryable(const error& e) {
  if (e.code().category() != category()) return false;
  switch (static_cast<errc>(e.code().value())) {
    case errc::slow_down:
    case errc::unavailable:
    case errc::timeout:
    case errc::network:
    case errc::connection_refused:
      return true;
    default:
      return false;
  }
}

}  // namespace sluice::s3client
