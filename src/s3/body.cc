// Request bodies for uploads and XML documents, and metadata helpers shared by handlers.
#include <optional>

#include "base/encoding.h"
#include "base/time.h"
#include "s3/auth/payload.h"
#include "s3/internal/request.h"
#include "s3/xml.h"

namespace sluice::s3 {

namespace {

class http_source final : public source {
 public:
  explicit http_source(http::body_reader& b) : b_(b) {}
  result<size_t> read(char* buf, size_t n) override { return b_.read(buf, n); }

 private:
  http::body_reader& b_;
};

bool is_streaming(auth::payload_mode m) {
  return m == auth::payload_mode::streaming_signed || m == auth::payload_mode::streaming_signed_trailer ||
         m == auth::payload_mode::streaming_unsigned_trailer;
}

class upload_body_impl final : public upload_body {
 public:
  explicit upload_body_impl(http::body_reader& b) : raw_(b) {}

  result<void> init(request& r) {
    source* s = &raw_;
    auto mode = r.user ? r.auth.mode : auth::payload_mode::unsigned_payload;
    if (is_streaming(mode)) {
      chunked_.emplace(raw_, mode, r.auth.signing);
      std::string decoded = r.header("x-amz-decoded-content-length");
      if (!decoded.empty()) {
        char* end = nullptr;
        unsigned long long n = std::strtoull(decoded.c_str(), &end, 10);
        if (*end) return fail(errc::invalid_argument, "x-amz-decoded-content-length is not a number");
        declared_ = n;
        chunked_->expect_decoded_length(n);
      } else if (mode == auth::payload_mode::streaming_signed) {
        return fail(errc::missing_content_length, "x-amz-decoded-content-length is required for aws-chunked uploads");
      }
      s = &*chunked_;
    } else if (auto cl = r.ex.body.content_length()) {
      declared_ = *cl;
    }
    auth::verify_spec spec;
    if (r.user && mode == auth::payload_mode::signed_hash) spec.sha256_hex = r.auth.payload_sha256;
    if (r.has_header("content-md5")) spec.content_md5 = r.header("content-md5");
    // An explicit checksum header wins; else a trailer announces one; else the SDK names the algorithm.
    for (auto alg : {auth::checksum_algorithm::crc32, auth::checksum_algorithm::crc32c,
                     auth::checksum_algorithm::crc64nvme, auth::checksum_algorithm::sha1,
                     auth::checksum_algorithm::sha256}) {
      std::string name = auth::checksum_header(alg);
      if (r.has_header(name)) {
        if (spec.checksum) return fail(errc::invalid_request, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
        spec.checksum = alg;
        spec.checksum_value = r.header(name);
      }
    }
    std::string trailer = r.header("x-amz-trailer");
    if (!spec.checksum && !trailer.empty()) {
      std::string t = trailer;
      for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (!t.starts_with("x-amz-checksum-")) return fail(errc::invalid_argument, "unsupported x-amz-trailer " + trailer);
      auto alg = auth::parse_checksum_algorithm(t.substr(15));
      if (!alg) return fail(errc::invalid_argument, "unsupported x-amz-trailer " + trailer);
      if (!chunked_) return fail(errc::invalid_argument, "x-amz-trailer requires an aws-chunked body");
      spec.checksum = *alg;
      spec.trailer_source = &*chunked_;
    }
    if (!spec.checksum) {
      std::string sdk = r.header("x-amz-sdk-checksum-algorithm");
      if (!sdk.empty()) {
        auto alg = auth::parse_checksum_algorithm(sdk);
        if (!alg) return fail(errc::invalid_argument, "unsupported x-amz-sdk-checksum-algorithm " + sdk);
        spec.checksum = *alg;
      }
    }
    verifier_.emplace(*s, std::move(spec));
    return ok();
  }

  source& stream() override { return *verifier_; }
  std::optional<uint64_t> declared_size() const override { return declared_; }
  std::optional<std::pair<std::string, std::string>> checksum() const override {
    auto c = verifier_->checksum();
    if (!c) return std::nullopt;
    return std::make_pair(std::string(auth::checksum_name(c->first)), c->second);
  }

 private:
  http_source raw_;
  std::optional<auth::chunked_decoder> chunked_;
  std::optional<auth::payload_verifier> verifier_;
  std::optional<uint64_t> declared_;
};

}  // namespace

result<std::unique_ptr<upload_body>> upload_body::open(request& r, const context& c) {
  (void)c;
  auto b = std::make_unique<upload_body_impl>(r.ex.body);
  SLUICE_TRY(b->init(r));
  return std::unique_ptr<upload_body>(std::move(b));
}

result<std::string> read_small_body(request& r, const context& c) {
  if (auto cl = r.ex.body.content_length(); cl && *cl > c.opts.max_xml_bytes) {
    return fail(errc::entity_too_large, "request body larger than " + std::to_string(c.opts.max_xml_bytes) + " bytes");
  }
  SLUICE_TRY(auto body, upload_body::open(r, c));
  return read_all(body->stream(), c.opts.max_xml_bytes, error(errc::entity_too_large));
}

std::string quote_etag(const std::string& etag) { return "\"" + etag + "\""; }

result<objstore::metadata_map> metadata_from_headers(const request& r) {
  objstore::metadata_map m;
  size_t user_bytes = 0;
  for (const auto& f : r.h) {
    std::string name(f.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string value(f.value());
    if (name.starts_with("x-amz-meta-")) {
      user_bytes += name.size() - 11 + value.size();
      auto it = m.find(name);
      if (it != m.end()) it->second += "," + value;  // repeated headers combine, as HTTP does
      else m[name] = value;
    } else if (name == "content-type" || name == "cache-control" || name == "content-disposition" ||
               name == "content-language" || name == "expires" || name == "x-amz-website-redirect-location" ||
               name == "x-amz-storage-class") {
      m[name] = value;
    } else if (name == "content-encoding") {
      // aws-chunked is transport framing, not a property of the object.
      std::string kept;
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        std::string tok = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        auto b = tok.find_first_not_of(' ');
        auto e = tok.find_last_not_of(' ');
        tok = b == std::string::npos ? "" : tok.substr(b, e - b + 1);
        if (!tok.empty() && tok != "aws-chunked") kept += (kept.empty() ? "" : ",") + tok;
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      if (!kept.empty()) m[name] = kept;
    }
  }
  if (user_bytes > 2048) return fail(errc::metadata_too_large);
  if (auto sc = m.find("x-amz-storage-class"); sc != m.end()) {
    static const char* known[] = {"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
                                  "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS"};
    bool okc = false;
    for (auto* k : known) okc = okc || sc->second == k;
    if (!okc) return fail(errc::invalid_storage_class);
    if (sc->second == "STANDARD") m.erase(sc);
  }
  return m;
}

result<std::string> tags_from_header(const request& r) {
  if (!r.has_header("x-amz-tagging")) return std::string();
  SLUICE_TRY(auto tags, parse_tagging_query(r.header("x-amz-tagging"), 10));
  return tags_to_query(tags);
}

result<copy_source> parse_copy_source(const std::string& header) {
  std::string raw = header;
  std::string version;
  if (auto q = raw.find('?'); q != std::string::npos) {
    std::string query = raw.substr(q + 1);
    raw = raw.substr(0, q);
    if (query.starts_with("versionId=")) version = query.substr(10);
  }
  auto decoded = uri_decode(raw, false);
  if (!decoded) return fail(errc::invalid_copy_source);
  std::string s = *decoded;
  if (s.starts_with("/")) s = s.substr(1);
  auto slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) return fail(errc::invalid_copy_source);
  return copy_source{s.substr(0, slash), s.substr(slash + 1), version};
}

void checksum_headers(const std::map<std::string, std::string>& checksums, http::response& res) {
  for (const auto& [alg, v] : checksums) {
    std::string name = "x-amz-checksum-";
    for (char ch : alg) name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    res.headers.set(name, v);
  }
}

void object_headers(const objstore::object_info& info, http::response& res, bool with_checksums) {
  using f = http::bhttp::field;
  res.headers.set(f::etag, quote_etag(info.etag));
  res.headers.set(f::last_modified, format_http_date(info.mod_time));
  std::string ct = info.content_type();
  res.headers.set(f::content_type, ct.empty() ? "binary/octet-stream" : ct);
  for (const auto& [k, v] : info.metadata) {
    if (k == "content-type") continue;
    res.headers.set(k, v);
  }
  if (!info.tags.empty()) {
    size_t count = 1;
    for (char ch : info.tags) count += ch == '&';
    res.headers.set("x-amz-tagging-count", std::to_string(count));
  }
  if (!info.version_id.empty()) res.headers.set("x-amz-version-id", info.version_id);
  if (with_checksums && !info.checksums.empty()) {
    checksum_headers(info.checksums, res);
    bool composite = info.checksums.begin()->second.find('-') != std::string::npos;
    res.headers.set("x-amz-checksum-type", composite ? "COMPOSITE" : "FULL_OBJECT");
  }
}

}  // namespace sluice::s3
