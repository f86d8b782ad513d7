#pragma once
// Pieces shared by the object-layer backends (local_store, erasure_store):
// reserved names of the on-disk layout, small JSON helpers, upload ids, and
// the paging of ListMultipartUploads. Not part of the module's API.
#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "objstore/object_layer.h"

namespace sluice::objstore::detail {

namespace json = boost::json;

inline constexpr std::string_view kSys = ".sluice.sys";
inline constexpr std::string_view kMetaName = ".sluice.meta";
inline constexpr std::string_view kDirObject = ".sluice.dir";  // key "a/" lives in a/.sluice.dir/
inline constexpr std::string_view kDataPrefix = ".sluice.d-";

// Path segments Sluice keeps for itself (never part of a key).
inline bool reserved(std::string_view name) { return name.starts_with(".sluice"); }
// A file-system failure as the layer's io_error, keeping the message.
inline error io(const error& e) { return error(errc::io_error, e.message()); }
// Upload ids are uuids; anything else cannot name an upload (and never reaches a path).
bool valid_upload_id(const std::string& id);

std::string jstr(const json::object& o, std::string_view k);
int64_t jnum(const json::object& o, std::string_view k);
json::object map_to_json(const std::map<std::string, std::string>& m);
std::map<std::string, std::string> json_to_map(const json::value* v);
// errc::corrupt when not a JSON object; file errors as they come.
result<json::object> parse_json(std::string_view bytes, const std::string& what);
result<json::object> read_json(const std::string& path);

// Builds one page of ListObjects from keys offered in lexicographic order (a
// folder may be offered as one key inside it, standing for its common prefix).
class list_page {
 public:
  explicit list_page(const list_options& opts) : opts_(opts) {}

  // load() returns the object's info, or nullopt to skip the key (deleted
  // meanwhile). Returns false once the page is full (then truncated is set).
  template <class Load>
  bool offer(const std::string& key, bool is_object, Load&& load) {
    if (!key.starts_with(opts_.prefix)) return true;
    if (!opts_.marker.empty() && key <= opts_.marker) return true;
    if (!opts_.delimiter.empty()) {
      size_t d = key.find(opts_.delimiter, opts_.prefix.size());
      if (d != std::string::npos) {
        std::string cp = key.substr(0, d + opts_.delimiter.size());
        if (cp == last_prefix_ || (!opts_.marker.empty() && cp <= opts_.marker)) return true;
        if (!room()) return false;
        last_prefix_ = cp;
        out_.common_prefixes.push_back(cp);
        out_.next_marker = cp;
        return true;
      }
    }
    if (!is_object) return true;
    std::optional<object_info> info = load();
    if (!info) return true;
    if (!room()) return false;
    out_.objects.push_back(std::move(*info));
    out_.next_marker = key;
    return true;
  }
  const std::string& last_prefix() const { return last_prefix_; }
  list_result take() { return std::move(out_); }

 private:
  bool room() {
    if (out_.objects.size() + out_.common_prefixes.size() < static_cast<size_t>(opts_.max_keys)) return true;
    out_.truncated = true;
    return false;
  }

  const list_options& opts_;
  list_result out_;
  std::string last_prefix_;
};

// The sub-folders of a bucket folder `rel` ("" or ending in '/'), each mapped
// to whether it holds an object metadata file. Backends supply it (one drive,
// or the merge of a set's drives).
using folder_lister = std::function<std::map<std::string, bool>(const std::string& rel)>;
// Visits the keys under `rel` in lexicographic order, pruning folders that
// cannot match opts (prefix, marker) and, with delimiter '/', offering a whole
// folder once as a key inside it. emit(key, is_object) returns false to stop.
bool walk_keys(const folder_lister& list, const std::string& rel, const list_options& opts,
               const std::string& last_prefix, const std::function<bool(const std::string&, bool)>& emit);
// Whether any object lives below folder `rel`.
bool subtree_has_object(const folder_lister& list, const std::string& rel);

// One page of ListParts: parts numbered above part_marker, at most max_parts.
// `parts` maps part number -> (info, anything the backend keeps beside it).
template <class Extra>
void page_parts(const std::map<int, std::pair<part_info, Extra>>& parts, int part_marker, int max_parts,
                list_parts_result& out) {
  for (const auto& [n, p] : parts) {
    if (n <= part_marker) continue;
    if (static_cast<int>(out.parts.size()) == max_parts) {
      out.truncated = true;
      break;
    }
    out.parts.push_back(p.first);
    out.next_marker = n;
  }
}

// One page of ListMultipartUploads over every upload of a bucket (any order):
// sorted by key then initiation, filtered by prefix and markers, rolled up by delimiter.
list_uploads_result page_uploads(std::vector<upload_info> all, const list_uploads_options& opts);

}  // namespace sluice::objstore::detail
