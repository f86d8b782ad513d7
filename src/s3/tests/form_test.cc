#include "s3/form.h"

#include <gtest/gtest.h>

namespace sluice::s3 {

namespace {
// Hands out at most `step` bytes per read to exercise boundary splits.
class trickle final : public source {
 public:
  trickle(std::string data, size_t step) : data_(std::move(data)), step_(step) {}
  result<size_t> read(char* buf, size_t n) override {
    size_t k = std::min({n, step_, data_.size() - pos_});
    std::copy_n(data_.data() + pos_, k, buf);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t step_;
  size_t pos_ = 0;
};
}  // namespace

TEST(Form, BoundaryFromContentType) {
  EXPECT_EQ(form_boundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(form_boundary("multipart/form-data; boundary=\"quoted b\""), "quoted b");
  EXPECT_EQ(form_boundary("multipart/form-data"), "");
}

TEST(Form, FieldsThenStreamedFile) {
  std::string file(200000, 'z');
  file[1000] = '\r';
  file[1001] = '\n';
  file[1002] = '-';
  std::string body = "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuploads/${filename}\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=\"Policy\"\r\n\r\neyJ9\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
                     "Content-Type: image/jpeg\r\n\r\n" + file + "\r\n--XyZ--\r\n";
  for (size_t step : {1ul, 7ul, 4096ul, 1ul << 20}) {
    trickle src(body, step);
    form_reader f(src, "XyZ");
    ASSERT_TRUE(f.read_fields());
    EXPECT_EQ(f.fields().at("key"), "uploads/${filename}");
    EXPECT_EQ(f.fields().at("policy"), "eyJ9");
    EXPECT_EQ(f.file_name(), "a.jpg");
    EXPECT_EQ(f.file_content_type(), "image/jpeg");
    auto got = read_all(f.file(), 1 << 20, error());
    ASSERT_TRUE(got);
    EXPECT_EQ(got.value(), file) << "step " << step;
  }
}

TEST(Form, MalformedBodies) {
  for (std::string body : {std::string("no boundary at all"),
                           std::string("--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--B--\r\n"),
                           std::string("--B\r\nBroken header\r\n\r\nx\r\n--B--"),
                           std::string("--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ntruncated")}) {
    memory_source src(body);
    form_reader f(src, "B");
    auto r = f.read_fields();
    if (r) {
      auto all = read_all(f.file(), 1 << 20, error());
      EXPECT_FALSE(all) << body;
    }
  }
}

}  // namespace sluice::s3
