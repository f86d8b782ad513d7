#pragma once
// Test images made with libvips: a gradient (so that encoders have work and
// crops are visible), optionally with an EXIF orientation or an alpha band.
#include <vips/vips.h>

#include <string>

#include "worker/image.h"

namespace sluice::worker::testing {

// format: "jpeg", "png", "webp", "gif", "tiff".
inline std::string make_image(int width, int height, const std::string& format, int orientation = 1,
                              bool alpha = false) {
  (void)image::init();
  VipsImage* xyz = nullptr;
  VipsImage* rgb = nullptr;
  // x, y and x+y as three 8-bit bands.
  if (vips_xyz(&xyz, width, height, nullptr)) return {};
  VipsImage* bands[3] = {nullptr, nullptr, nullptr};
  vips_extract_band(xyz, &bands[0], 0, nullptr);
  vips_extract_band(xyz, &bands[1], 1, nullptr);
  vips_add(bands[0], bands[1], &bands[2], nullptr);
  VipsImage* joined = nullptr;
  vips_bandjoin(bands, &joined, 3, nullptr);
  vips_cast_uchar(joined, &rgb, nullptr);
  for (VipsImage* b : bands) g_object_unref(b);
  g_object_unref(joined);
  g_object_unref(xyz);
  VipsImage* copy = nullptr;
  vips_copy(rgb, &copy, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr);
  g_object_unref(rgb);
  rgb = copy;
  if (alpha) {
    VipsImage* withalpha = nullptr;
    vips_bandjoin_const1(rgb, &withalpha, 128.0, nullptr);
    g_object_unref(rgb);
    rgb = withalpha;
  }
  if (orientation != 1) vips_image_set_int(rgb, VIPS_META_ORIENTATION, orientation);
  void* buf = nullptr;
  size_t len = 0;
  int rc = -1;
  if (format == "jpeg") rc = vips_jpegsave_buffer(rgb, &buf, &len, "Q", 85, nullptr);
  if (format == "png") rc = vips_pngsave_buffer(rgb, &buf, &len, "compression", 1, nullptr);
  if (format == "webp") rc = vips_webpsave_buffer(rgb, &buf, &len, "Q", 80, nullptr);
  if (format == "gif") rc = vips_gifsave_buffer(rgb, &buf, &len, nullptr);
  if (format == "tiff") rc = vips_tiffsave_buffer(rgb, &buf, &len, nullptr);
  g_object_unref(rgb);
  if (rc) return {};
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

}  // namespace sluice::worker::testing
