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

}  // namespace sluice
