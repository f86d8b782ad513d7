#include "events/rules.h"

#include <gtest/gtest.h>

namespace sluice::events {
namespace {

// Targets "configured" for these tests: ids 1 and 2 of type sluice, id 1 of type kafka.
bool known(const arn& a) {
  return (a.type == "sluice" && (a.id == "1" || a.id == "2")) || (a.type == "kafka" && a.id == "1");
}

result<rule_set> parse(std::string_view xml, std::string_view region = "us-east-1") {
  return rule_set::parse(xml, known, region);
}

// One QueueConfiguration from its inner XML.
std::string doc(const std::string& queues) {
  return "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + queues +
         "</NotificationConfiguration>";
}
std::string queue(const std::string& inner) {
  return "<QueueConfiguration>" + inner + "</QueueConfiguration>";
}
std::string rule_xml(const std::string& name, const std::string& value) {
  return "<FilterRule><Name>" + name + "</Name><Value>" + value + "</Value></FilterRule>";
}
std::string filter(const std::string& rules) {
  return "<Filter><S3Key>" + rules + "</S3Key></Filter>";
}
const std::string kQueue1 = "<Queue>arn:minio:sqs::1:sluice</Queue>";

void expect_error(std::string_view xml, errc want) {
  auto r = parse(xml);
  ASSERT_FALSE(r) << xml;
  EXPECT_TRUE(r.error().is(want)) << xml << ": " << r.error().message();
}

TEST(EventNames, SingleNamesAndWildcards) {
  auto put = parse_event_name("s3:ObjectCreated:Put");
  ASSERT_TRUE(put);
  EXPECT_EQ(event_names(put.value()), std::vector<std::string>{"s3:ObjectCreated:Put"});

  auto created = parse_event_name("s3:ObjectCreated:*");
  ASSERT_TRUE(created);
  EXPECT_EQ(event_names(created.value()),
            (std::vector<std::string>{"s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectCreated:Copy",
                                      "s3:ObjectCreated:Post", "s3:ObjectCreated:Put",
                                      "s3:ObjectCreated:PutRetention", "s3:ObjectCreated:PutLegalHold",
                                      "s3:ObjectCreated:PutTagging", "s3:ObjectCreated:DeleteTagging"}));
  EXPECT_EQ(event_names(parse_event_name("s3:ObjectAccessed:*").value()),
            (std::vector<std::string>{"s3:ObjectAccessed:Get", "s3:ObjectAccessed:GetRetention",
                                      "s3:ObjectAccessed:GetLegalHold", "s3:ObjectAccessed:Head",
                                      "s3:ObjectAccessed:Attributes"}));
  EXPECT_EQ(event_names(parse_event_name("s3:ObjectRemoved:*").value()),
            (std::vector<std::string>{"s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated",
                                      "s3:ObjectRemoved:DeleteAllVersions", "s3:ObjectRemoved:NoOP"}));
  EXPECT_EQ(event_names(parse_event_name("s3:Replication:*").value()).size(), 5u);
  EXPECT_EQ(event_names(parse_event_name("s3:ObjectRestore:*").value()),
            (std::vector<std::string>{"s3:ObjectRestore:Post", "s3:ObjectRestore:Completed"}));
  EXPECT_EQ(event_names(parse_event_name("s3:ObjectTransition:*").value()),
            (std::vector<std::string>{"s3:ObjectTransition:Failed", "s3:ObjectTransition:Complete"}));
  // Bucket events end in '*' but are single names.
  EXPECT_EQ(event_names(parse_event_name("s3:BucketCreated:*").value()),
            std::vector<std::string>{"s3:BucketCreated:*"});
  EXPECT_EQ(event_names(parse_event_name("s3:LifecycleDelMarkerExpiration:Delete").value()).size(), 1u);
  EXPECT_EQ(event_names(parse_event_name("s3:Scanner:BigPrefix").value()).size(), 1u);
}

TEST(EventNames, UnknownNamesAreRejected) {
  for (const char* bad : {"s3:ObjectCreated:Get", "s3:Scanner:*", "s3:*", "*", "", "s3:objectcreated:put",
                          "s3:ObjectCreated:Put ", "s3:ObjectCreated"}) {
    auto r = parse_event_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().is(errc::unsupported_event)) << bad;
  }
}

TEST(Arn, Parse) {
  auto a = parse_arn("arn:minio:sqs::1:kafka");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (arn{"", "1", "kafka"}));
  EXPECT_EQ(a->str(), "arn:minio:sqs::1:kafka");
  EXPECT_EQ(parse_arn("arn:minio:sqs:us-east-1:primary:webhook"), (arn{"us-east-1", "primary", "webhook"}));
  for (const char* bad : {"", "arn:minio:sqs::1", "arn:minio:sqs::1:kafka:x", "arn:minio:sqs:::kafka",
                          "arn:minio:sqs::1:", "arn:aws:sqs::1:kafka", "arn:minio:sns::1:kafka"}) {
    EXPECT_FALSE(parse_arn(bad)) << bad;
  }
}

TEST(RuleSet, ParsesMcEventAddDocument) {
  // What `mc event add myminio/images arn:minio:sqs::1:kafka --suffix .jpg` sends.
  auto r = parse(
      "<NotificationConfiguration><QueueConfiguration><Event>s3:ObjectCreated:*</Event>"
      "<Event>s3:ObjectRemoved:*</Event><Event>s3:ObjectAccessed:*</Event><Filter><S3Key><FilterRule>"
      "<Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter><Queue>arn:minio:sqs::1:kafka</"
      "Queue>"
      "</QueueConfiguration></NotificationConfiguration>");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r.value().rules().size(), 1u);
  const rule& q = r.value().rules()[0];
  EXPECT_EQ(q.target, (arn{"", "1", "kafka"}));
  EXPECT_EQ(q.suffix, ".jpg");
  EXPECT_EQ(q.prefix, "");
  EXPECT_EQ(event_names(q.events).size(), 17u);
  EXPECT_EQ(
      r.value().to_xml(),
      "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><QueueConfiguration>"
      "<Id></Id><Filter><S3Key><FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key>"
      "</Filter><Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event>"
      "<Event>s3:ObjectAccessed:*</Event><Queue>arn:minio:sqs::1:kafka</Queue></QueueConfiguration>"
      "</NotificationConfiguration>");
}

TEST(RuleSet, ToXmlRoundTripsAndEscapes) {
  auto r = parse(doc(queue("<Id>a&amp;b</Id>" + filter(rule_xml("prefix", "x&lt;y/")) +
                           "<Event>s3:ObjectCreated:Put</Event>" + kQueue1) +
                     queue("<Event>s3:ObjectRemoved:Delete</Event><Queue>arn:minio:sqs::2:sluice</Queue>")));
  ASSERT_TRUE(r) << r.error().message();
  std::string xml = r.value().to_xml();
  EXPECT_NE(xml.find("<Id>a&amp;b</Id>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Value>x&lt;y/</Value>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Filter></Filter>"), std::string::npos) << xml;
  auto again = parse(xml);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again.value().to_xml(), xml);
  EXPECT_EQ(again.value().rules()[0].id, "a&b");
  EXPECT_EQ(again.value().rules()[0].prefix, "x<y/");
}

TEST(RuleSet, EmptyConfigurationHasNoRules) {
  for (const char* xml :
       {"<NotificationConfiguration/>",
        "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "</NotificationConfiguration>",
        "<?xml version=\"1.0\"?>\n<NotificationConfiguration> </NotificationConfiguration>"}) {
    auto r = parse(xml);
    ASSERT_TRUE(r) << xml;
    EXPECT_TRUE(r.value().empty());
    EXPECT_EQ(r.value().to_xml(),
              "<NotificationConfiguration "
              "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></NotificationConfiguration>");
  }
}

TEST(RuleSet, ValidationErrors) {
  const std::string put = "<Event>s3:ObjectCreated:Put</Event>";
  expect_error("", errc::malformed_xml);
  expect_error("<NotificationConfiguration>", errc::malformed_xml);
  expect_error("<Other/>", errc::malformed_xml);
  expect_error(doc(queue(kQueue1)), errc::malformed_xml);  // no Event
  expect_error(doc(queue(put + "<Queue>arn:minio:sqs::9:sluice</Queue>")), errc::arn_not_found);
  expect_error(doc(queue(put + "<Queue>arn:minio:sqs::1:webhook</Queue>")), errc::arn_not_found);
  expect_error(doc(queue(put + "<Queue>not-an-arn</Queue>")), errc::arn_not_found);
  expect_error(doc(queue(put)), errc::arn_not_found);  // no Queue
  expect_error(doc(queue(put + "<Queue>arn:minio:sqs:eu-west-1:1:sluice</Queue>")), errc::arn_wrong_region);
  expect_error(doc(queue("<Event>s3:ObjectCreated:Get</Event>" + kQueue1)), errc::unsupported_event);
  expect_error(doc(queue(put + filter(rule_xml("Prefix", "a")) + kQueue1)), errc::filter_name_invalid);
  expect_error(doc(queue(put + filter("<FilterRule><Value>a</Value></FilterRule>") + kQueue1)),
               errc::filter_name_invalid);
  expect_error(doc(queue(put + filter(rule_xml("prefix", "a") + rule_xml("prefix", "b")) + kQueue1)),
               errc::filter_duplicate_prefix);
  expect_error(doc(queue(put + filter(rule_xml("suffix", "a") + rule_xml("suffix", "b")) + kQueue1)),
               errc::filter_duplicate_suffix);
  for (const std::string& v : {std::string("a/../b"), std::string("./x"), std::string("a\\b"),
                               std::string(1025, 'v'), std::string("\xff")}) {
    expect_error(doc(queue(put + filter(rule_xml("prefix", v)) + kQueue1)), errc::filter_value_invalid);
  }
  expect_error(doc(queue(put + put + kQueue1)), errc::overlap_events);
  expect_error(doc(queue(put + kQueue1) + queue(put + kQueue1)), errc::overlap_filters);
  expect_error(
      doc("<TopicConfiguration><Topic>arn:aws:sns:us-east-1:1:t</Topic><Event>s3:ObjectCreated:Put</Event>"
          "</TopicConfiguration>"),
      errc::unsupported_notification);
  expect_error(doc("<CloudFunctionConfiguration/>"), errc::unsupported_notification);
}

TEST(RuleSet, ChecksRunInMinIOsOrder) {
  const std::string put = "<Event>s3:ObjectCreated:Put</Event>";
  const std::string unknown = "<Queue>arn:minio:sqs::9:sluice</Queue>";
  // Element checks come in document order: a bad event before a malformed ARN wins, and vice versa.
  expect_error(doc(queue("<Event>bad</Event><Queue>x</Queue>")), errc::unsupported_event);
  expect_error(doc(queue("<Queue>x</Queue><Event>bad</Event>")), errc::arn_not_found);
  // Identical configurations are found before ARNs are looked up, Topic configurations after.
  expect_error(doc(queue(put + unknown) + queue(put + unknown)), errc::overlap_filters);
  expect_error(doc(queue(put + unknown) + "<TopicConfiguration/>"), errc::unsupported_notification);
  // An ARN without region equals the same ARN with one.
  expect_error(doc(queue(put + kQueue1) + queue(put + "<Queue>arn:minio:sqs:us-east-1:1:sluice</Queue>")),
               errc::overlap_filters);
}

TEST(RuleSet, AcceptedVariants) {
  const std::string put = "<Event>s3:ObjectCreated:Put</Event>";
  // Same events with a different filter, Id or target: MinIO accepts these.
  EXPECT_TRUE(parse(doc(queue(put + kQueue1) + queue(put + filter(rule_xml("prefix", "a")) + kQueue1))));
  EXPECT_TRUE(parse(doc(queue("<Id>x</Id>" + put + kQueue1) + queue("<Id>y</Id>" + put + kQueue1))));
  EXPECT_TRUE(parse(doc(queue(put + kQueue1) + queue(put + "<Queue>arn:minio:sqs::1:kafka</Queue>"))));
  // A wildcard and one of its names are different strings.
  EXPECT_TRUE(parse(doc(queue(put + "<Event>s3:ObjectCreated:*</Event>" + kQueue1))));
  // The region of the server, or any when the server has none.
  EXPECT_TRUE(parse(doc(queue(put + "<Queue>arn:minio:sqs:us-east-1:1:sluice</Queue>"))));
  EXPECT_TRUE(parse(doc(queue(put + "<Queue>arn:minio:sqs:eu-west-1:1:sluice</Queue>")), ""));
  // Prefixed element names (another namespace prefix) and unknown elements are ignored as Go's decoder does.
  EXPECT_TRUE(
      parse("<s3:NotificationConfiguration xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<s3:QueueConfiguration><s3:Event>s3:ObjectCreated:Put</s3:Event><Other/>"
            "<s3:Queue>arn:minio:sqs::1:sluice</s3:Queue></s3:QueueConfiguration>"
            "</s3:NotificationConfiguration>"));
}

TEST(RuleSet, MatchByNameAndKeyPattern) {
  auto r =
      parse(doc(queue("<Event>s3:ObjectCreated:*</Event>" + filter(rule_xml("suffix", ".jpg")) + kQueue1) +
                queue("<Event>s3:ObjectRemoved:Delete</Event>" +
                      filter(rule_xml("prefix", "photos/") + rule_xml("suffix", ".png")) +
                      "<Queue>arn:minio:sqs:us-east-1:2:sluice</Queue>")));
  ASSERT_TRUE(r) << r.error().message();
  const auto& set = r.value();
  using targets = std::set<arn>;
  const arn t1{"", "1", "sluice"}, t2{"", "2", "sluice"};
  EXPECT_EQ(set.match("s3:ObjectCreated:Put", "rose.jpg"), targets{t1});
  EXPECT_EQ(set.match("s3:ObjectCreated:Put", "deeper/path/rose.jpg"), targets{t1});
  EXPECT_EQ(set.match("s3:ObjectCreated:Put", "rose.png"), targets{});
  EXPECT_EQ(set.match("s3:ObjectCreated:Put", "rose.jpg.bak"), targets{});
  EXPECT_EQ(set.match("s3:ObjectAccessed:Get", "rose.jpg"), targets{});
  // The raw key is matched (not the escaped one), and the region is not part of the target.
  EXPECT_EQ(set.match("s3:ObjectRemoved:Delete", "photos/my photo.png"), targets{t2});
  EXPECT_EQ(set.match("s3:ObjectRemoved:Delete", "photos.png"), targets{});
  EXPECT_EQ(set.match("s3:ObjectRemoved:DeleteMarkerCreated", "photos/a.png"), targets{});
  EXPECT_EQ(set.match("s3:NoSuch:Event", "rose.jpg"), targets{});

  EXPECT_TRUE(set.wants("s3:ObjectCreated:Copy"));
  EXPECT_TRUE(set.wants("s3:ObjectRemoved:Delete"));
  EXPECT_FALSE(set.wants("s3:ObjectRemoved:NoOP"));
  EXPECT_FALSE(set.wants("s3:ObjectAccessed:Head"));
}

TEST(RuleSet, TargetMatchedOnceWhenSeveralRulesMatch) {
  auto r =
      parse(doc(queue("<Event>s3:ObjectCreated:Put</Event>" + kQueue1) +
                queue("<Event>s3:ObjectCreated:*</Event>" + filter(rule_xml("prefix", "a")) + kQueue1) +
                queue("<Event>s3:ObjectCreated:Put</Event><Queue>arn:minio:sqs:us-east-1:1:sluice</Queue>"
                      "<Id>other</Id>") +
                queue("<Event>s3:ObjectCreated:Put</Event><Queue>arn:minio:sqs::1:kafka</Queue>")));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value().match("s3:ObjectCreated:Put", "abc"),
            (std::set<arn>{{"", "1", "sluice"}, {"", "1", "kafka"}}));
}

TEST(RuleSet, FilterValuesAreWildcardPatterns) {
  // MinIO builds prefix + "*" / "*" + suffix and matches with '*' as the only wildcard.
  auto r = parse(doc(queue("<Event>s3:ObjectCreated:Put</Event>" +
                           filter(rule_xml("prefix", "a*c") + rule_xml("suffix", "*.txt")) + kQueue1)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().match("s3:ObjectCreated:Put", "abbbc/x.txt").size(), 1u);
  EXPECT_EQ(r.value().match("s3:ObjectCreated:Put", "ac.txt").size(), 1u);
  EXPECT_EQ(r.value().match("s3:ObjectCreated:Put", "a?c.txt").size(), 1u);
  EXPECT_EQ(r.value().match("s3:ObjectCreated:Put", "b/ac.txt").size(), 0u);
  EXPECT_EQ(r.value().match("s3:ObjectCreated:Put", "ac.txt2").size(), 0u);
}

}  // namespace
}  // namespace sluice::events
