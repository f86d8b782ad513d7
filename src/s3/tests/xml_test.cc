#include "s3/xml.h"

#include <gtest/gtest.h>

#include "s3/errors.h"

namespace sluice::s3 {

TEST(Xml, WriterEscapes) {
  xml_writer w("R", false);
  w.element("K", "a<b>&\"c'\n");
  EXPECT_EQ(w.finish(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R><K>a&lt;b&gt;&amp;&quot;c&apos;&#10;</K></R>");
}

TEST(Xml, ParseDelete) {
  auto r = parse_delete(
      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
      "<Object><Key>a b</Key></Object><Object><Key>c</Key><VersionId>v1</VersionId></Object></Delete>");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r.value().quiet);
  ASSERT_EQ(r.value().objects.size(), 2u);
  EXPECT_EQ(r.value().objects[0].first, "a b");
  EXPECT_EQ(r.value().objects[1].second, "v1");
  EXPECT_TRUE(parse_delete("<Delete><Object></Object></Delete>").error().is(errc::malformed_xml));
  EXPECT_TRUE(parse_delete("<Delete>").error().is(errc::malformed_xml));
  EXPECT_TRUE(parse_delete("<Other/>").error().is(errc::malformed_xml));
  EXPECT_TRUE(parse_delete("<Delete></Delete>").error().is(errc::malformed_xml));
}

TEST(Xml, ParseComplete) {
  auto r = parse_complete(
      "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"x\"</ETag></Part>"
      "<Part><ETag>y</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>");
  ASSERT_TRUE(r);
  ASSERT_EQ(r.value().size(), 2u);
  EXPECT_EQ(r.value()[1].number, 2);
  EXPECT_EQ(r.value()[0].etag, "\"x\"");
  EXPECT_FALSE(parse_complete("<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>"));
  EXPECT_FALSE(parse_complete("<CompleteMultipartUpload></CompleteMultipartUpload>"));
  EXPECT_FALSE(parse_complete("not xml"));
}

TEST(Xml, Tagging) {
  auto t = parse_tagging("<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>", 10);
  ASSERT_TRUE(t);
  EXPECT_EQ(tags_to_query(t.value()), "a=1");
  auto dup = parse_tagging("<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>", 10);
  EXPECT_TRUE(dup.error().is(errc::invalid_tag));
  auto q = parse_tagging_query("k%201=v+1&k2=", 10);
  ASSERT_TRUE(q);
  EXPECT_EQ(q.value()[0].first, "k 1");
  EXPECT_EQ(q.value()[0].second, "v 1");
  EXPECT_EQ(q.value()[1].second, "");
  EXPECT_TRUE(parse_tagging_query("a=1&b=2&c=3", 2).error().is(errc::invalid_tag));
}

TEST(Xml, ErrorsMapToS3Codes) {
  auto e = to_api_error(error(errc::no_such_key));
  EXPECT_EQ(e.status, 404u);
  EXPECT_EQ(e.code, "NoSuchKey");
  EXPECT_EQ(to_api_error(error(errc::malformed_xml)).code, "MalformedXML");
  EXPECT_EQ(to_api_error(error(std::make_error_code(std::errc::io_error))).status, 500u);
}

}  // namespace sluice::s3
