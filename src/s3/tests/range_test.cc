#include "s3/range.h"

#include <gtest/gtest.h>

namespace sluice::s3 {

using k = range_result::kind;

TEST(Range, Forms) {
  auto r = parse_range("bytes=0-9", 100);
  EXPECT_EQ(r.k, k::satisfiable);
  EXPECT_EQ(r.offset, 0u);
  EXPECT_EQ(r.length, 10u);
  r = parse_range("bytes=90-", 100);
  EXPECT_EQ(r.offset, 90u);
  EXPECT_EQ(r.length, 10u);
  r = parse_range("bytes=-5", 100);
  EXPECT_EQ(r.offset, 95u);
  EXPECT_EQ(r.length, 5u);
  r = parse_range("bytes=-500", 100);
  EXPECT_EQ(r.offset, 0u);
  EXPECT_EQ(r.length, 100u);
  r = parse_range("bytes=50-5000", 100);
  EXPECT_EQ(r.length, 50u);
}

TEST(Range, Unsatisfiable) {
  EXPECT_EQ(parse_range("bytes=100-", 100).k, k::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=100-200", 100).k, k::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 100).k, k::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-", 0).k, k::unsatisfiable);
}

TEST(Range, IgnoredForms) {
  EXPECT_EQ(parse_range("items=0-9", 100).k, k::none);
  EXPECT_EQ(parse_range("bytes=9-0", 100).k, k::none);
  EXPECT_EQ(parse_range("bytes=0-1,5-6", 100).k, k::none);
  EXPECT_EQ(parse_range("bytes=a-b", 100).k, k::none);
  EXPECT_EQ(parse_range("bytes=-", 100).k, k::none);
  EXPECT_EQ(parse_range("bytes=99999999999999999999-", 100).k, k::none);
}

}  // namespace sluice::s3
