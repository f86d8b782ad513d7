#pragma once
// Wall-clock time formats used by S3 (all UTC).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

using sys_time = std::chrono::system_clock::time_point;

// "20130524T000000Z" (SigV4 x-amz-date).
std::string format_amz_date(sys_time t);
std::optional<sys_time> parse_amz_date(std::string_view s);
// "2013-05-24T00:00:00.000Z" (S3 XML, event records).
std::string format_iso8601(sys_time t);
std::optional<sys_time> parse_iso8601(std::string_view s);
// "Fri, 24 May 2013 00:00:00 GMT" (HTTP Last-Modified, If-Modified-Since).
std::string format_http_date(sys_time t);
std::optional<sys_time> parse_http_date(std::string_view s);

inline int64_t unix_nanos(sys_time t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline sys_time from_unix_nanos(int64_t ns) { return sys_time(std::chrono::duration_cast<sys_time::duration>(std::chrono::nanoseconds(ns))); }

}  // namespace sluice
