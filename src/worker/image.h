#pragma once
// Image resizing for `sluice worker image-resize`, on libvips.
//
// Every resize goes through vips_thumbnail_buffer: shrink-on-load (JPEG DCT
// scaling, WebP scaled decode, HEIF embedded thumbnails), sequential access,
// EXIF auto-rotation, conversion to sRGB (with the embedded ICC profile when
// there is one), aspect ratio kept (except fit::fill), metadata stripped. Memory per resize is the encoded
// input plus a few scanline strips of the pre-shrunk image, whatever the image's size; the pixel limit is
// checked from the header before any decoding.
//
// Inputs are restricted to JPEG, PNG, WebP, GIF, TIFF and HEIF/AVIF: every
// other libvips loader (ImageMagick, PDF, SVG, FITS, ...) is blocked, so an
// object cannot make the worker run a loader nobody meant to expose.
//
// Threading: init() once before anything else; then every function may be
// called from any number of threads at once. Threads that called resize()
// or probe() should call thread_shutdown() before they exit.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice::worker::image {

enum class format { webp, jpeg, avif, png };
enum class fit {
  inside,  // fit within the box, aspect ratio kept (default)
  cover,   // fill the box, aspect ratio kept, the overflow cropped around the centre
  fill,    // stretch to exactly the box
};

struct box {
  int width = 0;
  int height = 0;
  bool operator==(const box&) const = default;
};

// Largest box side accepted (a thumbnail worker does not make posters).
inline constexpr int kMaxBoxSide = 16384;

// "320x320" → {320, 320}; sides 1..kMaxBoxSide.
result<box> parse_box(std::string_view text);
// webp | jpeg (jpg) | avif | png, any case.
result<format> parse_format(std::string_view text);
// inside | cover | fill.
result<fit> parse_fit(std::string_view text);
std::string_view name(format f);
std::string_view name(fit f);
std::string_view extension(format f);  // without the dot: "webp", "jpg", "avif", "png"
std::string_view content_type(format f);

// The key of one output, predictable from the source key:
//   <prefix><source key without its extension>-<W>x<H>.<ext>
// e.g. prefix "", "deeper/path/rose.jpg", 320x320, webp → "deeper/path/rose-320x320.webp".
// Only the last path segment's extension is removed, and not a leading dot
// (".hidden" stays). W x H name the requested box, not the output's actual
// dimensions (which depend on the source's aspect ratio). "{bucket}" in the
// prefix is replaced by the source bucket.
std::string output_key(std::string_view prefix, std::string_view source_bucket, std::string_view source_key,
                       box b, format f);

struct engine_options {
  // libvips worker threads per image pipeline (vips_concurrency_set); the
  // worker's own threads already run images in parallel.
  int threads_per_image = 1;
};
// Starts libvips (once per process; later calls only check it started),
// blocks untrusted loaders, disables the operation cache (nothing is reused,
// and it would hold decoded images). Fails when libvips cannot start.
result<void> init(const engine_options& opts = {});
// Frees libvips' per-thread buffers of the calling thread.
void thread_shutdown();

// Encodes a tiny image in f: errc::unsupported (with the saver's message)
// when this libvips build cannot write it (e.g. AVIF without an AV1 encoder).
result<void> check_format(format f);

struct header {
  int width = 0;             // as stored, before EXIF rotation
  int height = 0;            // of the first page
  std::string loader;        // libvips loader, e.g. "jpegload_buffer"
  bool has_profile = false;  // carries an ICC profile
  uint64_t pixels() const { return static_cast<uint64_t>(width) * static_cast<uint64_t>(height); }
};
// Reads the header only. errc::undecodable for data no allowed loader accepts.
result<header> probe(std::string_view data);

struct resize_options {
  fit fit_mode = fit::inside;
  format output = format::webp;
  int quality = 80;      // 1..100; JPEG, WebP and AVIF (PNG is lossless)
  bool enlarge = false;  // inside/cover: also scale images smaller than the box up
  // Transform from the embedded ICC profile to sRGB. Without a profile the
  // pixels are taken as sRGB already (CMYK and others are converted), so
  // callers that probed an image without one skip the ICC round trip.
  bool convert_profile = true;
};

struct encoded {
  std::string data;
  int width = 0;
  int height = 0;
};
// One output for one box. errc::undecodable when the image is corrupt or
// truncated (libvips fail_on=error), errc::image_error for other failures.
result<encoded> resize(std::string_view data, box b, const resize_options& opts);

}  // namespace sluice::worker::image
