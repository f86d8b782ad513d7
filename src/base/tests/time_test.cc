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
// clock (UB, and a wrapped time). Parsed dates are kept within 1970–2262, so
// comparisons keep their sense and differences with the clock fit.
TEST(Time, DatesOutsideTheClockRangeAreClampedNotWrapped) {
  const auto now = std::chrono::system_clock::now();
  const sys_time epoch{};
  for (auto t :
       {parse_iso8601("1013-11-25T06:00:00.000Z"), parse_amz_date("00010101T000000Z"),
        parse_http_date("Sat, 01 Jan 1000 00:00:00 GMT"), parse_iso8601("1969-12-31T23:59:59.500Z")}) {
    ASSERT_TRUE(t);
    EXPECT_EQ(*t, epoch);
    EXPECT_GT((now - *t).count(), 0);  // no overflow
  }
  auto zoned = parse_http_date("Sat, 01 Jan 1000 00:00:00 +0100");
  ASSERT_TRUE(zoned);
  EXPECT_LE(*zoned, epoch);
  for (auto t : {parse_iso8601("9999-12-31T23:59:59.999Z"), parse_amz_date("99991231T235959Z"),
                 parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT")}) {
    ASSERT_TRUE(t);
    EXPECT_GT(*t, now);
    EXPECT_GT(*t, *parse_iso8601("2200-01-01T00:00:00Z"));
    EXPECT_LT((now - *t).count(), 0);  // no overflow
  }
  // Inside the range nothing changes.
  EXPECT_EQ(format_iso8601(*parse_iso8601("1970-01-01T00:00:00.500Z")), "1970-01-01T00:00:00.500Z");
  EXPECT_EQ(format_iso8601(*parse_iso8601("2261-06-01T12:00:00Z")), "2261-06-01T12:00:00.000Z");
  // Times before 1970 (from the clock, not parsed) format in the right second.
  EXPECT_EQ(format_iso8601(epoch - std::chrono::milliseconds(500)), "1969-12-31T23:59:59.500Z");
}

}  // namespace sluice
