#pragma once
// AutoMQ-style s3url: one string that names an S3 endpoint, its credentials
// and the buckets of a cluster, as printed by `sluice s3url generate`:
//
//   s3://ENDPOINT?s3-access-key=AK&s3-secret-key=SK&s3-region=R&s3-endpoint-protocol=http|https
//        &s3-data-bucket=B&s3-ops-bucket=O&s3-path-style=true|false&cluster-id=UUID
//
// ENDPOINT is host[:port] ("[v6]:port" for IPv6) without a scheme. Values are
// taken verbatim, as AutoMQ's S3Url does (no percent-decoding), so a value
// may not contain '&' or '='. Unknown and repeated keys are rejected.
// Required: ENDPOINT, s3-access-key, s3-secret-key, s3-region, s3-data-bucket.
// Defaults: s3-endpoint-protocol=https, s3-path-style=false, s3-ops-bucket
// and cluster-id empty.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "s3client/client.h"

namespace sluice::s3client {

struct s3url {
  std::string endpoint;  // host[:port]
  std::string access_key;
  std::string secret_key;
  std::string region;
  bool https = true;  // s3-endpoint-protocol
  std::string data_bucket;
  std::string ops_bucket;
  bool path_style = false;
  std::string cluster_id;
};

// Errors are errc::invalid_argument with a message naming the offending part.
result<s3url> parse_s3url(std::string_view text);
// The URL in the key order AutoMQ's generate-s3-url printed; empty optional
// values (ops bucket, cluster id) are left out. Fails on values parse_s3url
// would reject.
result<std::string> format_s3url(const s3url& u);

// Splits "host", "host:port", "[v6]" or "[v6]:port"; port 0 when absent.
result<std::pair<std::string, uint16_t>> split_endpoint(std::string_view endpoint);
// A client configuration for the URL's endpoint and credentials (other fields default).
result<client_config> to_client_config(const s3url& u);

}  // namespace sluice::s3client
