#include "s3/post_policy.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "base/time.h"
#include "s3/auth/sigv4.h"

namespace sluice::s3 {

namespace {

const auto kNow = *parse_iso8601("2026-11-25T12:00:00Z");

result<post_policy_limits> check(const std::string& conditions,
                                 const std::map<std::string, std::string>& fields = {
                                     {"key", "uploads/a.jpg"}, {"content-type", "image/jpeg"}}) {
  const std::string doc = R"({"expiration":"2026-11-25T13:00:00.000Z","conditions":[)" + conditions + "]}";
  return check_post_policy(base64_encode(doc), fields, "photos", kNow);
}

auth::errc code(const result<post_policy_limits>& r) {
  return static_cast<auth::errc>(r.error().code().value());
}

}  // namespace

TEST(PostPolicy, FieldConditionsAndSizeRange) {
  auto r =
      check(R"({"bucket":"photos"},["starts-with","$key","uploads/"],["eq","$Content-Type","image/jpeg"],)"
            R"(["content-length-range",1,1048576])");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value().min_size, 1u);
  EXPECT_EQ(r.value().max_size, 1048576u);
  // Bounds as strings, as some SDKs send them.
  r = check(R"(["content-length-range","0","10"])");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().max_size, 10u);
  // No range: anything.
  r = check(R"({"bucket":"photos"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().max_size, UINT64_MAX);
}

TEST(PostPolicy, UnmetConditionsAndExpiryAreViolations) {
  EXPECT_EQ(code(check(R"({"bucket":"other"})")), auth::errc::policy_violation);
  EXPECT_EQ(code(check(R"(["starts-with","$key","private/"])")), auth::errc::policy_violation);
  EXPECT_EQ(code(check(R"(["eq","$x-amz-meta-missing","v"])")), auth::errc::policy_violation);
  const std::string expired = R"({"expiration":"2026-11-25T11:59:59.000Z","conditions":[]})";
  EXPECT_EQ(code(check_post_policy(base64_encode(expired), {}, "photos", kNow)),
            auth::errc::policy_violation);
}

// A malformed size range used to reach std::stoull, whose exception turned a
// client's mistake into a 500.
TEST(PostPolicy, MalformedDocumentsAndRangesAreMalformedNotExceptions) {
  for (const char* c :
       {R"(["content-length-range","abc","10"])", R"(["content-length-range","",10])",
        R"(["content-length-range",-1,10])", R"(["content-length-range","-1","10"])",
        R"(["content-length-range",10,1])", R"(["content-length-range","99999999999999999999999",1])",
        R"(["content-length-range",1.5,10])", R"(["content-length-range",1,{}])", R"(["gt","$key","a"])",
        R"([1,2])", R"("key")"}) {
    auto r = check(c);
    ASSERT_FALSE(r) << c;
    EXPECT_EQ(code(r), auth::errc::policy_malformed) << c;
  }
  for (const std::string& doc :
       {std::string("not base64!"), base64_encode("[]"), base64_encode("{\"conditions\":[]}"),
        base64_encode(R"({"expiration":"tomorrow","conditions":[]})"),
        base64_encode(R"({"expiration":"2026-11-25T13:00:00Z"})")}) {
    auto r = check_post_policy(doc, {}, "photos", kNow);
    ASSERT_FALSE(r) << doc;
    EXPECT_EQ(code(r), auth::errc::policy_malformed) << doc;
  }
}

}  // namespace sluice::s3
