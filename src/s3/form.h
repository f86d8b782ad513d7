#pragma once
// Streaming multipart/form-data reader (RFC 7578) for S3 POST uploads: text
// fields are read into memory (bounded), the "file" field is streamed.
// Fields after the file are ignored, as S3 does.
#include <map>
#include <memory>
#include <string>

#include "base/source.h"

namespace sluice::s3 {

class form_reader {
 public:
  form_reader(source& in, std::string boundary, size_t max_field_bytes = 64 * 1024);
  // Reads parts up to and including the headers of the file part.
  result<void> read_fields();
  // Field names lower-cased, values as sent.
  const std::map<std::string, std::string>& fields() const { return fields_; }
  const std::string& file_name() const { return file_name_; }
  const std::string& file_content_type() const { return file_type_; }
  // The file's bytes; ends at the part's closing boundary.
  source& file() { return *file_; }

 private:
  friend class form_file_source;
  result<bool> fill();  // false at end of input
  result<std::string> read_line(size_t limit);

  source& in_;
  std::string delimiter_;  // "\r\n--boundary"
  size_t max_field_bytes_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  std::map<std::string, std::string> fields_;
  std::string file_name_;
  std::string file_type_;
  std::unique_ptr<source> file_;
};

// The boundary parameter of a multipart/form-data Content-Type; "" when absent.
std::string form_boundary(const std::string& content_type);

}  // namespace sluice::s3
