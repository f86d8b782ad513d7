#include "s3/form.h"

#include <cstring>

#include "s3/errors.h"

namespace sluice::s3 {

namespace {
constexpr size_t kReadChunk = 64 * 1024;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Value of a parameter like name="x" in a Content-Disposition header.
std::string disposition_param(const std::string& header, const std::string& name) {
  std::string lh = lower(header);
  size_t pos = 0;
  while ((pos = lh.find(name + "=", pos)) != std::string::npos) {
    bool boundary_ok = pos == 0 || lh[pos - 1] == ';' || lh[pos - 1] == ' ';
    size_t v = pos + name.size() + 1;
    if (!boundary_ok) {
      pos = v;
      continue;
    }
    if (v < header.size() && header[v] == '"') {
      size_t end = header.find('"', v + 1);
      if (end == std::string::npos) return {};
      return header.substr(v + 1, end - v - 1);
    }
    size_t end = header.find(';', v);
    return header.substr(v, end == std::string::npos ? std::string::npos : end - v);
  }
  return {};
}
}  // namespace

std::string form_boundary(const std::string& content_type) {
  std::string b = disposition_param(content_type, "boundary");
  if (b.size() > 70) return {};
  return b;
}

class form_file_source final : public source {
 public:
  explicit form_file_source(form_reader& f) : f_(f) {}
  result<size_t> read(char* out, size_t n) override {
    if (done_ || n == 0) return size_t{0};
    for (;;) {
      std::string_view avail(f_.buf_.data() + f_.pos_, f_.buf_.size() - f_.pos_);
      size_t hit = avail.find(f_.delimiter_);
      if (hit != std::string_view::npos) {
        size_t k = std::min(n, hit);
        std::memcpy(out, avail.data(), k);
        f_.pos_ += k;
        if (k == hit) done_ = true;
        if (k > 0) return k;
        return size_t{0};
      }
      // Keep back enough bytes that a delimiter split across reads is still found.
      size_t safe = avail.size() >= f_.delimiter_.size() ? avail.size() - f_.delimiter_.size() + 1 : 0;
      if (safe > 0) {
        size_t k = std::min(n, safe);
        std::memcpy(out, avail.data(), k);
        f_.pos_ += k;
        return k;
      }
      SLUICE_TRY(bool more, f_.fill());
      if (!more) return fail(errc::malformed_post_request, "form body ended inside the file field");
    }
  }

 private:
  form_reader& f_;
  bool done_ = false;
};

form_reader::form_reader(source& in, std::string boundary, size_t max_field_bytes)
    : in_(in), delimiter_("\r\n--" + boundary), max_field_bytes_(max_field_bytes) {}

result<bool> form_reader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  size_t old = buf_.size();
  buf_.resize(old + kReadChunk);
  SLUICE_TRY(size_t n, in_.read(buf_.data() + old, kReadChunk));
  buf_.resize(old + n);
  if (n == 0) eof_ = true;
  return n > 0;
}

result<std::string> form_reader::read_line(size_t limit) {
  for (;;) {
    auto nl = buf_.find("\r\n", pos_);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(pos_, nl - pos_);
      pos_ = nl + 2;
      return line;
    }
    if (buf_.size() - pos_ > limit) return fail(errc::malformed_post_request, "form header line too long");
    SLUICE_TRY(bool more, fill());
    if (!more) return fail(errc::malformed_post_request, "form body ended early");
  }
}

result<void> form_reader::read_fields() {
  // The body starts with "--boundary\r\n" (a preamble before it is allowed and skipped).
  std::string first = delimiter_.substr(2);
  for (;;) {
    auto hit = buf_.find(first, pos_);
    if (hit != std::string::npos) {
      pos_ = hit + first.size();
      break;
    }
    if (buf_.size() > max_field_bytes_) return fail(errc::malformed_post_request);
    SLUICE_TRY(bool more, fill());
    if (!more) return fail(errc::malformed_post_request, "no form boundary found");
  }
  size_t total = 0;
  for (;;) {
    SLUICE_TRY(auto rest, read_line(1024));  // "" after a boundary, "--" after the last one
    if (rest.starts_with("--")) return fail(errc::malformed_post_request, "form has no file field");
    std::string name, filename, type;
    for (;;) {
      SLUICE_TRY(auto line, read_line(8 * 1024));
      if (line.empty()) break;
      auto colon = line.find(':');
      if (colon == std::string::npos) return fail(errc::malformed_post_request, "bad form part header");
      std::string h = lower(line.substr(0, colon));
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      if (h == "content-disposition") {
        name = disposition_param(v, "name");
        filename = disposition_param(v, "filename");
      } else if (h == "content-type") {
        type = v;
      }
    }
    if (name.empty()) return fail(errc::malformed_post_request, "form part without a name");
    if (lower(name) == "file") {
      file_name_ = filename;
      file_type_ = type;
      file_ = std::make_unique<form_file_source>(*this);
      return ok();
    }
    // A text field: everything up to the next delimiter.
    std::string value;
    for (;;) {
      auto hit = buf_.find(delimiter_, pos_);
      if (hit != std::string::npos) {
        value.append(buf_, pos_, hit - pos_);
        pos_ = hit + delimiter_.size();
        break;
      }
      if (buf_.size() - pos_ > max_field_bytes_) return fail(errc::malformed_post_request, "form field too large");
      SLUICE_TRY(bool more, fill());
      if (!more) return fail(errc::malformed_post_request, "form body ended inside a field");
    }
    total += value.size();
    if (total > max_field_bytes_) return fail(errc::malformed_post_request, "form fields too large");
    fields_[lower(name)] = std::move(value);
  }
}

}  // namespace sluice::s3
