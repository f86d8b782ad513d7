#include "worker/image.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <vips/vips.h>

#include "worker/errc.h"
#include "worker/tests/images.h"

namespace sluice::worker::image {
namespace {

using testing::make_image;

class Image : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(init()); }
};

TEST(ImageNames, ParseBox) {
  auto b = parse_box("320x240");
  ASSERT_TRUE(b);
  EXPECT_EQ(b.value(), (box{320, 240}));
  EXPECT_EQ(parse_box("1X1").value(), (box{1, 1}));
  for (const char* bad : {"", "320", "x320", "320x", "0x10", "10x0", "-1x5", "320x320x3", "16385x10", "a x b",
                          "320 x 320", "3.5x2"}) {
    EXPECT_FALSE(parse_box(bad)) << bad;
  }
}

TEST(ImageNames, ParseFormatAndFit) {
  EXPECT_EQ(parse_format("WebP").value(), format::webp);
  EXPECT_EQ(parse_format("jpg").value(), format::jpeg);
  EXPECT_EQ(parse_format("jpeg").value(), format::jpeg);
  EXPECT_EQ(parse_format("avif").value(), format::avif);
  EXPECT_EQ(parse_format("png").value(), format::png);
  EXPECT_FALSE(parse_format("gif"));
  EXPECT_EQ(parse_fit("inside").value(), fit::inside);
  EXPECT_EQ(parse_fit("COVER").value(), fit::cover);
  EXPECT_EQ(parse_fit("fill").value(), fit::fill);
  auto bad = parse_fit("contain");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(errc::bad_argument));
  EXPECT_EQ(extension(format::jpeg), "jpg");
  EXPECT_EQ(content_type(format::webp), "image/webp");
}

TEST(ImageNames, OutputKeyIsPredictable) {
  box b{320, 320};
  EXPECT_EQ(output_key("", "images", "deeper/path/rose.jpg", b, format::webp),
            "deeper/path/rose-320x320.webp");
  EXPECT_EQ(output_key("", "images", "rose.jpg", {1024, 768}, format::jpeg), "rose-1024x768.jpg");
  EXPECT_EQ(output_key("thumbs/", "images", "rose.JPEG", b, format::avif), "thumbs/rose-320x320.avif");
  EXPECT_EQ(output_key("", "images", "rose", b, format::png), "rose-320x320.png");
  EXPECT_EQ(output_key("", "images", "a.b/c", b, format::webp), "a.b/c-320x320.webp");
  EXPECT_EQ(output_key("", "images", "dir/.hidden", b, format::webp), "dir/.hidden-320x320.webp");
  EXPECT_EQ(output_key("", "images", "x.tar.gz", b, format::webp), "x.tar-320x320.webp");
  EXPECT_EQ(output_key("{bucket}/small/", "images", "my photo.jpg", b, format::webp),
            "images/small/my photo-320x320.webp");
}

TEST_F(Image, EveryOutputFormatOfThisBuildWorks) {
  for (format f : {format::webp, format::jpeg, format::png}) EXPECT_TRUE(check_format(f)) << name(f);
  // AVIF needs libheif with an AV1 encoder; when missing, the error says so.
  auto avif = check_format(format::avif);
  if (!avif) {
    EXPECT_TRUE(avif.error().is(errc::unsupported));
    EXPECT_NE(avif.error().message().find("avif"), std::string::npos);
  }
}

struct fit_case {
  fit mode;
  bool enlarge;
  int src_w, src_h;
  box b;
  int want_w, want_h;
};

TEST_F(Image, FitModesKeepOrIgnoreTheAspectRatio) {
  const fit_case cases[] = {
      {fit::inside, false, 640, 480, {320, 320}, 320, 240},    // landscape into a square
      {fit::inside, false, 480, 640, {320, 320}, 240, 320},    // portrait
      {fit::inside, false, 640, 480, {1024, 1024}, 640, 480},  // no enlargement
      {fit::inside, true, 100, 80, {320, 320}, 320, 256},      // enlarge on request
      {fit::cover, false, 640, 480, {320, 320}, 320, 320},     // fill the box and crop
      {fit::cover, false, 640, 480, {200, 100}, 200, 100},
      {fit::fill, false, 640, 480, {320, 100}, 320, 100},  // stretch
  };
  std::string src;
  for (const auto& c : cases) {
    src = make_image(c.src_w, c.src_h, "jpeg");
    auto out = resize(src, c.b, {c.mode, format::webp, 80, c.enlarge});
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(out.value().width, c.want_w) << name(c.mode) << " " << c.src_w << "x" << c.src_h;
    EXPECT_EQ(out.value().height, c.want_h) << name(c.mode) << " " << c.src_w << "x" << c.src_h;
    auto h = probe(out.value().data);
    ASSERT_TRUE(h) << h.error().message();
    EXPECT_EQ(h.value().loader, "webpload_buffer");
    EXPECT_EQ(h.value().width, c.want_w);
    EXPECT_EQ(h.value().height, c.want_h);
  }
}

TEST_F(Image, EveryInputToEveryOutput) {
  for (const char* in : {"jpeg", "png", "webp", "gif", "tiff"}) {
    std::string src = make_image(400, 300, in);
    auto h = probe(src);
    ASSERT_TRUE(h) << in << ": " << h.error().message();
    EXPECT_EQ(h.value().width, 400);
    EXPECT_EQ(h.value().height, 300);
    for (format f : {format::webp, format::jpeg, format::png, format::avif}) {
      if (!check_format(f)) continue;
      auto out = resize(src, {200, 200}, {fit::inside, f, 75, false});
      ASSERT_TRUE(out) << in << " -> " << name(f) << ": " << out.error().message();
      auto oh = probe(out.value().data);
      ASSERT_TRUE(oh) << oh.error().message();
      EXPECT_EQ(oh.value().loader, std::string(name(f) == "avif" ? "heif" : name(f)) + "load_buffer");
      EXPECT_EQ(oh.value().width, 200);
      EXPECT_EQ(oh.value().height, 150);
    }
  }
}

TEST_F(Image, ExifOrientationIsApplied) {
  // Stored 640x480 with orientation 6 ("rotate 90° clockwise to view"): upright it is 480x640.
  std::string src = make_image(640, 480, "jpeg", 6);
  auto out = resize(src, {320, 320}, {fit::inside, format::jpeg, 80, false});
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out.value().width, 240);
  EXPECT_EQ(out.value().height, 320);
}

TEST_F(Image, AlphaIsFlattenedForJpeg) {
  std::string src = make_image(300, 300, "png", 1, true);
  auto out = resize(src, {100, 100}, {fit::inside, format::jpeg, 80, false});
  ASSERT_TRUE(out) << out.error().message();
  VipsImage* im = vips_image_new_from_buffer(out.value().data.data(), out.value().data.size(), "", nullptr);
  ASSERT_NE(im, nullptr);
  EXPECT_EQ(im->Bands, 3);
  g_object_unref(im);
  auto webp = resize(src, {100, 100}, {fit::inside, format::webp, 80, false});
  ASSERT_TRUE(webp);
  im = vips_image_new_from_buffer(webp.value().data.data(), webp.value().data.size(), "", nullptr);
  ASSERT_NE(im, nullptr);
  EXPECT_EQ(im->Bands, 4);  // WebP keeps the alpha
  g_object_unref(im);
}

TEST_F(Image, ColourProfilesEndInSrgb) {
  // A CMYK JPEG with its profile embedded: out comes 3-band sRGB.
  std::string rgb_jpeg = make_image(400, 300, "jpeg");
  VipsImage* rgb = vips_image_new_from_buffer(rgb_jpeg.data(), rgb_jpeg.size(), "", nullptr);
  ASSERT_NE(rgb, nullptr);
  VipsImage* cmyk = nullptr;
  ASSERT_EQ(vips_icc_transform(rgb, &cmyk, "cmyk", "input_profile", "srgb", "embedded", FALSE, nullptr), 0);
  void* buf = nullptr;
  size_t len = 0;
  ASSERT_EQ(vips_jpegsave_buffer(cmyk, &buf, &len, nullptr), 0);
  std::string src(static_cast<const char*>(buf), len);
  g_free(buf);
  g_object_unref(cmyk);
  g_object_unref(rgb);
  auto h = probe(src);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h.value().has_profile);
  EXPECT_FALSE(probe(rgb_jpeg).value().has_profile);
  for (bool convert : {true, false}) {
    auto out = resize(src, {200, 200}, {fit::inside, format::png, 80, false, convert});
    ASSERT_TRUE(out) << out.error().message();
    VipsImage* im = vips_image_new_from_buffer(out.value().data.data(), out.value().data.size(), "", nullptr);
    ASSERT_NE(im, nullptr);
    EXPECT_EQ(im->Bands, 3) << convert;
    EXPECT_EQ(im->Type, VIPS_INTERPRETATION_sRGB) << convert;
    g_object_unref(im);
  }
}

TEST_F(Image, CorruptAndForeignDataIsUndecodable) {
  std::string jpeg = make_image(640, 480, "jpeg");
  std::string garbage = "\xff\xd8\xff\xe0 this is not really a JPEG at all";
  std::string truncated = jpeg.substr(0, jpeg.size() / 2);
  std::string svg =
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>)";
  std::string ppm = "P3\n2 1\n255\n255 0 0 0 255 0\n";
  for (const std::string* bad : {&garbage, &svg, &ppm}) {
    auto h = probe(*bad);
    ASSERT_FALSE(h) << bad->substr(0, 10);
    EXPECT_TRUE(h.error().is(errc::undecodable));
  }
  // A truncated JPEG has a valid header: it fails while decoding.
  ASSERT_TRUE(probe(truncated));
  auto r = resize(truncated, {100, 100}, {});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::undecodable)) << r.error().message();
  EXPECT_FALSE(resize(garbage, {100, 100}, {}));
  EXPECT_FALSE(resize(svg, {100, 100}, {}));
}

long max_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

TEST_F(Image, HundredMegapixelJpegInBoundedMemory) {
  // 10000 x 10000 = 100 MP: 300 MB decoded. Shrink-on-load decodes it at 1/8
  // and the pipeline streams, so memory grows by far less than that.
  std::string src = make_image(10000, 10000, "jpeg");
  auto h = probe(src);
  ASSERT_TRUE(h);
  EXPECT_EQ(h.value().pixels(), 100'000'000u);
  long before = max_rss_kib();
  for (box b : {box{320, 320}, box{1024, 1024}}) {
    auto out = resize(src, b, {fit::inside, format::webp, 80, false});
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(out.value().width, b.width);
  }
  long grown_mib = (max_rss_kib() - before) / 1024;
  EXPECT_LT(grown_mib, 100) << "peak RSS grew by " << grown_mib << " MiB";
}

}  // namespace
}  // namespace sluice::worker::image
