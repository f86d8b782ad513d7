// Fuzzes the multipart/form-data reader used by S3 POST uploads (boundary "B").
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "s3/form.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::memory_source src(std::string_view(reinterpret_cast<const char*>(data), size));
  sluice::s3::form_reader form(src, "B", 4096);
  if (!form.read_fields()) return 0;
  char buf[512];
  for (;;) {
    auto n = form.file().read(buf, sizeof buf);
    if (!n || n.value() == 0) break;
  }
  return 0;
}
