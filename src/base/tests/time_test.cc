#include "base/time.h"

#include <gtest/gtest.h>

namespace sluice {

TEST(Time, AmzDateRoundTrip) {
  auto t = parse_amz_date("20130524T000000Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_amz_date(*t), "20130524T000000Z");
  EXPECT_EQ(format_http_date(*t), "Fri, 24 May 2013 00:00:00 GMT");
  EXPECT_EQ(format_iso8601(*t), "2013-05-24T00:00:00.000Z");
  EXPECT_FALSE(parse_amz_date("2013-05-24T000000Z"));
  EXPECT_FALSE(parse_amz_date("20131324T000000Z"));
}

TEST(Time, HttpDateForms) {
  auto a = parse_http_date("Fri, 24 May 2013 00:00:00 GMT");
  auto b = parse_http_date("Friday, 24-May-13 00:00:00 GMT");
  auto c = parse_http_date("Fri May 24 00:00:00 2013");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
  EXPECT_FALSE(parse_http_date("yesterday"));
}

TEST(Time, Iso8601WithFraction) {
  auto t = parse_iso8601("2013-05-24T00:00:01.250Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_iso8601(*t), "2013-05-24T00:00:01.250Z");
  EXPECT_TRUE(parse_iso8601("2013-05-24T00:00:01Z"));
  EXPECT_FALSE(parse_iso8601("2013-05-24 00:00:01Z"));
}

// Found by bucket_event_fuzz: a date in year 1013 overflowed the nanosecond
// clock (UB, and a wrapped time). Dates beyond sys_time's years are clamped
// to its ends, so comparisons keep their sense.
TEST(Time, DatesOutsideTheClockRangeAreClampedNotWrapped) {
  const auto now = std::chrono::system_clock::now();
  for (auto t : {parse_iso8601("1013-11-25T06:00:00.000Z"), parse_amz_date("00010101T000000Z"),
                 parse_http_date("Sat, 01 Jan 1000 00:00:00 GMT"),
                 parse_http_date("Sat, 01 Jan 1000 00:00:00 +0100")}) {
    ASSERT_TRUE(t);
    EXPECT_LT(*t, now);
    EXPECT_LT(*t, *parse_iso8601("1700-01-01T00:00:00Z"));
  }
  for (auto t : {parse_iso8601("9999-12-31T23:59:59.999Z"), parse_amz_date("99991231T235959Z"),
                 parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT")}) {
    ASSERT_TRUE(t);
    EXPECT_GT(*t, now);
    EXPECT_GT(*t, *parse_iso8601("2200-01-01T00:00:00Z"));
  }
  // Inside the range nothing changes.
  EXPECT_EQ(format_iso8601(*parse_iso8601("1700-01-01T00:00:00.500Z")), "1700-01-01T00:00:00.500Z");
  EXPECT_EQ(format_iso8601(*parse_iso8601("1969-12-31T23:59:59Z")), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(format_iso8601(*parse_iso8601("2261-06-01T12:00:00Z")), "2261-06-01T12:00:00.000Z");
}

}  // namespace sluice
