// Fuzzes SigV4 verification. The input is '\n'-separated fields:
//   Authorization \n query \n path \n x-amz-date \n x-amz-content-sha256 \n x-amz-meta-f value
// Besides memory safety it checks one property: whatever path, query and
// header value a client signs with sign(), verify() accepts.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/encoding.h"
#include "s3/auth/sigv4.h"

namespace {

using namespace sluice;
using namespace sluice::s3::auth;
namespace http = boost::beast::http;

constexpr std::string_view kAccessKey = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

std::string_view next_field(std::string_view& in) {
  size_t nl = in.find('\n');
  std::string_view f = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return f;
}

bool printable(std::string_view s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

std::optional<std::string> lookup(std::string_view ak) {
  if (ak == kAccessKey) return std::string(kSecret);
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view auth = next_field(in), query = next_field(in), path = next_field(in),
                   date = next_field(in), sha = next_field(in), value = in;
  static const sys_time now = *parse_amz_date("20130524T000000Z");
  const secret_lookup secrets = lookup;

  http::fields h;
  h.set("host", "examplebucket.s3.amazonaws.com");
  if (!auth.empty()) h.set(http::field::authorization, auth);
  if (!date.empty()) h.set("x-amz-date", date);
  if (!sha.empty()) h.set("x-amz-content-sha256", sha);
  h.set("x-amz-meta-f", value);
  request_view r{"GET", path, query, h};
  (void)has_credentials(r);
  verify_options opts;
  if (size & 1) opts.region = "";
  (void)verify(r, secrets, now, opts);
  (void)canonical_request(r, auth, sha, (size & 2) != 0);

  // Round trip, unless the query itself carries presign parameters (then the
  // request has two auth mechanisms and is rightly refused).
  http::fields plain;
  plain.set("host", "h");
  if (printable(value) && !has_credentials({"PUT", path, query, plain})) {
    sign_input si;
    si.method = "PUT";
    si.raw_path = std::string(path);
    si.raw_query = std::string(query);
    si.headers = {{"Host", "h"}, {"X-Amz-Meta-F", std::string(value)}};
    si.payload_sha256 = "UNSIGNED-PAYLOAD";
    si.access_key = kAccessKey;
    si.secret_key = kSecret;
    si.now = now;
    http::fields got;
    got.set("host", "h");
    got.set("x-amz-meta-f", value);
    for (const auto& [k, v] : sign(si)) got.set(k, v);
    if (!verify({"PUT", path, query, got}, secrets, now, {})) std::abort();

    // And the same request presigned, unless the query already holds X-Amz-* names.
    auto decoded = uri_decode(query, true);
    if (decoded.value_or(std::string(query)).find("Amz") != std::string::npos) return 0;
    std::string pq = presign_query(si, std::chrono::seconds(3600));
    http::fields pgot;
    pgot.set("host", "h");
    pgot.set("x-amz-meta-f", value);
    if (!verify({"PUT", path, pq, pgot}, secrets, now, {})) std::abort();
  }
  return 0;
}
