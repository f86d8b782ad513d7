#include "worker/image.h"

#include <spdlog/spdlog.h>
#include <vips/vips.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <mutex>

#include "worker/errc.h"

namespace sluice::worker::image {

namespace {

struct unref {
  void operator()(VipsImage* im) const { g_object_unref(im); }
};
using image_ptr = std::unique_ptr<VipsImage, unref>;

// libvips keeps one error buffer for the process; take (and clear) it.
std::string vips_message() {
  char* text = vips_error_buffer_copy();
  std::string s = text ? text : "";
  g_free(text);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ';';
  }
  return s.empty() ? "libvips failed without a message" : s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The loader classes inputs may use; every other loader is blocked.
constexpr const char* kAllowedLoaders[] = {
    "VipsForeignLoadJpeg",  "VipsForeignLoadPng",  "VipsForeignLoadWebp",
    "VipsForeignLoadNsgif", "VipsForeignLoadTiff", "VipsForeignLoadHeif",
};

std::once_flag init_once;
bool init_ok = false;
std::string init_error;

}  // namespace

result<box> parse_box(std::string_view text) {
  auto bad = [&] {
    return fail(errc::bad_argument, "size '" + std::string(text) + "': expected WxH with sides 1-" +
                                        std::to_string(kMaxBoxSide) + ", e.g. 320x320");
  };
  size_t x = text.find_first_of("xX");
  if (x == std::string_view::npos) return bad();
  box b;
  auto parse_side = [](std::string_view s, int& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && out >= 1 && out <= kMaxBoxSide;
  };
  if (!parse_side(text.substr(0, x), b.width) || !parse_side(text.substr(x + 1), b.height)) return bad();
  return b;
}

// Names of the enums, in enum order.
struct format_names {
  format f;
  std::string_view name, extension, content_type;
};
constexpr format_names kFormats[] = {
    {format::webp, "webp", "webp", "image/webp"},
    {format::jpeg, "jpeg", "jpg", "image/jpeg"},
    {format::avif, "avif", "avif", "image/avif"},
    {format::png, "png", "png", "image/png"},
};
constexpr std::pair<fit, std::string_view> kFits[] = {
    {fit::inside, "inside"}, {fit::cover, "cover"}, {fit::fill, "fill"}};

constexpr bool in_enum_order() {
  for (size_t i = 0; i < std::size(kFormats); ++i) {
    if (static_cast<size_t>(kFormats[i].f) != i) return false;
  }
  for (size_t i = 0; i < std::size(kFits); ++i) {
    if (static_cast<size_t>(kFits[i].first) != i) return false;
  }
  return true;
}
static_assert(in_enum_order());

result<format> parse_format(std::string_view text) {
  std::string t = lower(text);
  for (const auto& n : kFormats) {
    if (t == n.name || t == n.extension) return n.f;
  }
  return fail(errc::bad_argument, "format '" + std::string(text) + "': expected webp, jpeg, avif or png");
}

result<fit> parse_fit(std::string_view text) {
  std::string t = lower(text);
  for (const auto& [f, n] : kFits) {
    if (t == n) return f;
  }
  return fail(errc::bad_argument, "fit '" + std::string(text) + "': expected inside, cover or fill");
}

std::string_view name(format f) {
  return kFormats[static_cast<size_t>(f)].name;
}
std::string_view name(fit f) {
  return kFits[static_cast<size_t>(f)].second;
}
std::string_view extension(format f) {
  return kFormats[static_cast<size_t>(f)].extension;
}
std::string_view content_type(format f) {
  return kFormats[static_cast<size_t>(f)].content_type;
}

std::string output_key(std::string_view prefix, std::string_view source_bucket, std::string_view source_key,
                       box b, format f) {
  std::string out;
  static constexpr std::string_view kBucket = "{bucket}";
  for (size_t i = 0; i < prefix.size();) {
    if (prefix.substr(i).starts_with(kBucket)) {
      out += source_bucket;
      i += kBucket.size();
    } else {
      out += prefix[i++];
    }
  }
  size_t segment = source_key.rfind('/');
  segment = segment == std::string_view::npos ? 0 : segment + 1;
  size_t dot = source_key.rfind('.');
  std::string_view stem = source_key;
  if (dot != std::string_view::npos && dot > segment) stem = source_key.substr(0, dot);
  out += stem;
  out += '-' + std::to_string(b.width) + 'x' + std::to_string(b.height) + '.';
  out += extension(f);
  return out;
}

result<void> init(const engine_options& opts) {
  std::call_once(init_once, [&] {
    if (VIPS_INIT("sluice")) {
      init_error = "libvips failed to start: " + vips_message();
      return;
    }
    // No operation cache: thumbnails are never repeated, and cached
    // operations would keep their decoded inputs alive.
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_concurrency_set(std::max(1, opts.threads_per_image));
    // libvips warns on stderr about every odd input (e.g. "read gave 2
    // warnings"); the failures that matter come back as errors.
    g_log_set_handler(
        "VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO),
        [](const gchar*, GLogLevelFlags, const gchar* text, gpointer) { spdlog::debug("libvips: {}", text); },
        nullptr);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (const char* loader : kAllowedLoaders) vips_operation_block_set(loader, FALSE);
    init_ok = true;
  });
  if (!init_ok) return fail(errc::image_error, init_error);
  return ok();
}

void thread_shutdown() {
  vips_thread_shutdown();
}

result<header> probe(std::string_view data) {
  const char* loader = vips_foreign_find_load_buffer(data.data(), data.size());
  if (!loader) {
    (void)vips_message();
    return fail(errc::undecodable,
                "not an image in a supported format (JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF)");
  }
  image_ptr im(
      vips_image_new_from_buffer(data.data(), data.size(), "", "access", VIPS_ACCESS_SEQUENTIAL, nullptr));
  if (!im) return fail(errc::undecodable, vips_message());
  header h;
  h.width = im->Xsize;
  h.height = vips_image_get_page_height(im.get());
  const char* nick = vips_nickname_find(g_type_from_name(loader));
  h.loader = nick ? nick : loader;
  h.has_profile = vips_image_get_typeof(im.get(), VIPS_META_ICC_NAME) != 0;
  return h;
}

namespace {

result<std::string> save(VipsImage* im, format f, int quality) {
  void* buf = nullptr;
  size_t len = 0;
  int rc = -1;
  switch (f) {
    case format::webp:
      rc = vips_webpsave_buffer(im, &buf, &len, "Q", quality, "strip", TRUE, nullptr);
      break;
    case format::jpeg:
      rc = vips_jpegsave_buffer(im, &buf, &len, "Q", quality, "strip", TRUE, nullptr);
      break;
    case format::avif:
      rc = vips_heifsave_buffer(im, &buf, &len, "Q", quality, "compression",
                                VIPS_FOREIGN_HEIF_COMPRESSION_AV1, "strip", TRUE, nullptr);
      break;
    case format::png:
      rc = vips_pngsave_buffer(im, &buf, &len, "strip", TRUE, nullptr);
      break;
  }
  if (rc != 0) {
    g_free(buf);
    return fail(errc::undecodable, vips_message());
  }
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

}  // namespace

result<void> check_format(format f) {
  VipsImage* raw = nullptr;
  if (vips_black(&raw, 8, 8, "bands", 3, nullptr)) return fail(errc::image_error, vips_message());
  image_ptr black(raw);
  VipsImage* cast = nullptr;
  if (vips_cast_uchar(black.get(), &cast, nullptr)) return fail(errc::image_error, vips_message());
  image_ptr im(cast);
  if (auto r = save(im.get(), f, 50); !r) {
    return fail(errc::unsupported,
                "this libvips cannot write " + std::string(name(f)) + " images: " + r.error().message());
  }
  return ok();
}

result<encoded> resize(std::string_view data, box b, const resize_options& opts) {
  VipsSize size = opts.fit_mode == fit::fill ? VIPS_SIZE_FORCE
                  : opts.enlarge             ? VIPS_SIZE_BOTH
                                             : VIPS_SIZE_DOWN;
  VipsInteresting crop = opts.fit_mode == fit::cover ? VIPS_INTERESTING_CENTRE : VIPS_INTERESTING_NONE;
  VipsImage* raw = nullptr;
  // thumbnail_buffer does not write into the buffer; the C API just lacks the
  // const. Its own fail_on only reaches file loaders, so the loader gets it in
  // the option string: truncated and corrupt images fail instead of coming
  // out grey at the bottom.
  char* buf = const_cast<char*>(data.data());
  int rc =
      opts.convert_profile
          ? vips_thumbnail_buffer(buf, data.size(), &raw, b.width, "height", b.height, "size", size, "crop",
                                  crop, "export_profile", "srgb", "option_string", "fail_on=error", nullptr)
          : vips_thumbnail_buffer(buf, data.size(), &raw, b.width, "height", b.height, "size", size, "crop",
                                  crop, "option_string", "fail_on=error", nullptr);
  if (rc) return fail(errc::undecodable, vips_message());
  image_ptr im(raw);
  if (opts.output == format::jpeg && vips_image_hasalpha(im.get())) {
    // JPEG has no alpha: flatten onto white rather than libvips' black.
    VipsArrayDouble* white = vips_array_double_newv(3, 255.0, 255.0, 255.0);
    VipsImage* flat = nullptr;
    int rc = vips_flatten(im.get(), &flat, "background", white, nullptr);
    vips_area_unref(VIPS_AREA(white));
    if (rc) return fail(errc::undecodable, vips_message());
    im.reset(flat);
  }
  SLUICE_TRY(auto bytes, save(im.get(), opts.output, std::clamp(opts.quality, 1, 100)));
  encoded e;
  e.data = std::move(bytes);
  e.width = im->Xsize;
  e.height = im->Ysize;
  return e;
}

}  // namespace sluice::worker::image
