#include <cctype>
#include <string>

#include "base/encoding.h"
#include "objstore/object_layer.h"

SLUICE_ERRC_CATEGORY(sluice::objstore, "objstore",
                     case errc::bucket_not_found : return "bucket not found";
                     case errc::bucket_exists : return "bucket already exists";
                     case errc::bucket_not_empty : return "bucket not empty";
                     case errc::invalid_bucket_name : return "invalid bucket name";
                     case errc::object_not_found : return "object not found";
                     case errc::version_not_found : return "version not found";
                     case errc::invalid_object_name : return "invalid object name";
                     case errc::object_too_large : return "object too large";
                     case errc::upload_not_found : return "upload not found";
                     case errc::invalid_part : return "invalid part";
                     case errc::invalid_part_order : return "invalid part order";
                     case errc::entity_too_small : return "part too small";
                     case errc::invalid_range : return "invalid range";
                     case errc::method_not_allowed : return "method not allowed";
                     case errc::io_error : return "I/O error";
                     case errc::corrupt : return "corrupt data";
                     case errc::bad_argument : return "bad argument";
                     case errc::too_many_uploads : return "too many uploads";
                     case errc::read_quorum : return "too few drives online or consistent to read the object";
                     case errc::write_quorum : return "too few drives online to write the object";
                     case errc::not_implemented : return "not implemented";
                     case errc::heal_in_progress : return "a heal is already running";)

namespace sluice::objstore {

bool valid_bucket_name(const std::string& name) {
  if (name.size() < 3 || name.size() > 63) return false;
  bool all_digits_or_dots = true;
  int dots = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    if (!ok) return false;
    if (c == '.') {
      ++dots;
      if (i > 0 && (name[i - 1] == '.' || name[i - 1] == '-')) return false;
    }
    if (c == '-' && i > 0 && name[i - 1] == '.') return false;
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.')) all_digits_or_dots = false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  if (all_digits_or_dots && dots == 3) return false;  // looks like an IPv4 address
  return true;
}

std::optional<std::string> invalid_object_key(const std::string& key) {
  if (key.empty()) return "object name is empty";
  if (key.size() > 1024) return "object name longer than 1024 bytes";
  if (!is_valid_utf8(key)) return "object name is not valid UTF-8";
  if (key.find('\0') != std::string::npos) return "object name contains NUL";
  if (key.front() == '/') return "object name starts with '/'";
  size_t start = 0;
  while (start < key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    std::string_view comp(key.data() + start, end - start);
    if (comp.empty()) return "object name has an empty path segment ('//')";
    if (comp == "." || comp == "..") return "object name has a '.' or '..' path segment";
    if (comp.starts_with(".sluice")) return "object name segments may not start with '.sluice' (reserved)";
    if (comp.size() > 255) return "object name segment longer than 255 bytes";
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace sluice::objstore
