#pragma once
// Byte encodings used on the wire: hex, base64, URI escaping (AWS rules).
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

std::string to_hex(std::span<const unsigned char> bytes);
inline std::string to_hex(std::string_view bytes) {
  return to_hex({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()});
}
std::optional<std::string> from_hex(std::string_view hex);

std::string base64_encode(std::string_view bytes);
// Standard alphabet with padding; nullopt on invalid input.
std::optional<std::string> base64_decode(std::string_view text);

// AWS SigV4 URI encoding: unreserved characters (A-Za-z0-9-._~) kept, everything
// else %XX upper-case; '/' kept when encode_slash is false.
std::string uri_encode(std::string_view s, bool encode_slash = true);
// Percent-decoding; '+' stays '+' unless plus_is_space. nullopt on a bad escape.
std::optional<std::string> uri_decode(std::string_view s, bool plus_is_space = false);
// Go's url.QueryEscape (space -> '+'), as MinIO uses for event keys.
std::string query_escape(std::string_view s);

// One name=value pair of a URL query string, percent-decoded ('+' = space).
struct query_param {
  std::string name;
  std::string value;
  bool has_value = false;  // "a=" and "a=x" have one, "a" has none
};
// Splits and decodes a query string (without '?'); ok is false when some escape was malformed.
std::vector<query_param> parse_query_string(std::string_view query, bool* ok = nullptr);

// True when every byte is printable ASCII/UTF-8 and valid UTF-8.
bool is_valid_utf8(std::string_view s);

}  // namespace sluice
