#include "base/wildcard.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(Wildcard, StarAndQuestionMark) {
  // As bucket policies use them.
  EXPECT_TRUE(wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y.jpg"));
  EXPECT_FALSE(wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::bb/x"));
  EXPECT_TRUE(wildcard_match("s3:Get*", "s3:GetObject"));
  EXPECT_FALSE(wildcard_match("s3:Get*", "s3:PutObject"));
  EXPECT_TRUE(wildcard_match("a?c*", "abcdef"));
  EXPECT_TRUE(wildcard_match("*", ""));
  EXPECT_TRUE(wildcard_match("*a*b", "xaxxb"));
  EXPECT_FALSE(wildcard_match("a?c", "ac"));
  EXPECT_FALSE(wildcard_match("", "a"));
  // A '*' in the text is matched by the pattern's '*' as a wildcard too.
  EXPECT_TRUE(wildcard_match("*a", "*ba"));
}

TEST(Wildcard, StarOnlyTakesQuestionMarkLiterally) {
  EXPECT_TRUE(wildcard_match("photos/*.jpg", "photos/a/b.jpg", wildcards::star));
  EXPECT_TRUE(wildcard_match("a?c", "a?c", wildcards::star));
  EXPECT_FALSE(wildcard_match("a?c", "abc", wildcards::star));
  EXPECT_FALSE(wildcard_match("*.jpg", "x.jpg.bak", wildcards::star));
}

}  // namespace
}  // namespace sluice
