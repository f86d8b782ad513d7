#include "base/time.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace sluice {

namespace {
std::tm to_tm(sys_time t) {
  // Floor, not to_time_t's truncation toward zero: 0.5 s before 1970 is in
  // the second that starts 1 s before it.
  std::time_t tt = std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}
// Parsed dates are kept within [1970-01-01, 2262-04-10]: sys_time counts
// nanoseconds in an int64 (years 1678–2261), and callers subtract a parsed
// date from the clock (skew, expiry, conditionals); a difference of two times
// in that window always fits, one reaching back to 1678 would not. So a
// well-formed date before 1970 becomes 1970-01-01 and one after the window
// its end (a day short of sys_time's, leaving room for the callers' sub-day
// adjustments). Comparisons with the clock and with objects' times come out
// as they would with the exact date (an If-Modified-Since of year 1013 is
// before every object).
std::optional<sys_time> from_tm(std::tm tm, int millis = 0) {
  const std::time_t tt = timegm(&tm);  // 64-bit time_t: no overflow for any int year
  using std::chrono::seconds;
  constexpr int64_t kDay = 86'400;
  const int64_t lo = 0;
  const int64_t hi = std::chrono::duration_cast<seconds>(sys_time::max().time_since_epoch()).count() - kDay;
  const int64_t secs = std::clamp<int64_t>(tt, lo, hi);
  if (secs != tt) millis = 0;
  return sys_time(
      std::chrono::duration_cast<sys_time::duration>(seconds(secs) + std::chrono::milliseconds(millis)));
}
bool all_digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}
int num(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}
}  // namespace

std::string format_amz_date(sys_time t) {
  std::tm tm = to_tm(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::optional<sys_time> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  if (!all_digits(s.substr(0, 8)) || !all_digits(s.substr(9, 6))) return std::nullopt;
  std::tm tm{};
  tm.tm_year = num(s.substr(0, 4)) - 1900;
  tm.tm_mon = num(s.substr(4, 2)) - 1;
  tm.tm_mday = num(s.substr(6, 2));
  tm.tm_hour = num(s.substr(9, 2));
  tm.tm_min = num(s.substr(11, 2));
  tm.tm_sec = num(s.substr(13, 2));
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  return from_tm(tm);
}

std::string format_iso8601(sys_time t) {
  std::tm tm = to_tm(t);
  auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  if (ms < 0) ms += 1000;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::optional<sys_time> parse_iso8601(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff...]Z
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s.back() != 'Z') {
    return std::nullopt;
  }
  if (!all_digits(s.substr(0, 4)) || !all_digits(s.substr(5, 2)) || !all_digits(s.substr(8, 2)) ||
      !all_digits(s.substr(11, 2)) || !all_digits(s.substr(14, 2)) || !all_digits(s.substr(17, 2))) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = num(s.substr(0, 4)) - 1900;
  tm.tm_mon = num(s.substr(5, 2)) - 1;
  tm.tm_mday = num(s.substr(8, 2));
  tm.tm_hour = num(s.substr(11, 2));
  tm.tm_min = num(s.substr(14, 2));
  tm.tm_sec = num(s.substr(17, 2));
  int millis = 0;
  std::string_view rest = s.substr(19, s.size() - 20);
  if (!rest.empty()) {
    if (rest[0] != '.' || rest.size() < 2 || !all_digits(rest.substr(1))) return std::nullopt;
    std::string frac(rest.substr(1, 3));
    while (frac.size() < 3) frac.push_back('0');
    millis = num(frac);
  }
  return from_tm(tm, millis);
}

std::string format_http_date(sys_time t) {
  std::tm tm = to_tm(t);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::optional<sys_time> parse_http_date(std::string_view s) {
  std::string str(s);
  std::tm tm{};
  // RFC 1123, then RFC 850, then asctime, as HTTP/1.1 asks.
  for (const char* fmt : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"}) {
    tm = {};
    const char* end = strptime(str.c_str(), fmt, &tm);
    if (end && *end == '\0') return from_tm(tm);
  }
  // Numeric zone ("+0000"), which some V2 signers send.
  tm = {};
  const char* end = strptime(str.c_str(), "%a, %d %b %Y %H:%M:%S %z", &tm);
  if (end && *end == '\0') {
    long offset = tm.tm_gmtoff;
    auto t = from_tm(tm);
    if (t) return *t - std::chrono::seconds(offset);
  }
  return std::nullopt;
}

}  // namespace sluice
