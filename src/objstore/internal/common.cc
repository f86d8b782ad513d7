#include "objstore/internal/common.h"

#include <boost/json.hpp>

#include <algorithm>

#include "base/fs.h"

namespace sluice::objstore::detail {

bool valid_upload_id(const std::string& id) {
  if (id.size() != 36) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '-'; });
}

std::string jstr(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

int64_t jnum(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return 0;
}

json::object map_to_json(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

std::map<std::string, std::string> json_to_map(const json::value* v) {
  std::map<std::string, std::string> out;
  if (v && v->is_object()) {
    for (const auto& [k, val] : v->as_object()) {
      if (val.is_string()) out[std::string(k)] = std::string(val.as_string());
    }
  }
  return out;
}

result<json::object> parse_json(std::string_view bytes, const std::string& what) {
  boost::system::error_code ec;
  auto v = json::parse(bytes, ec);
  if (ec || !v.is_object()) return fail(errc::corrupt, "bad JSON in " + what);
  return std::move(v.as_object());
}

result<json::object> read_json(const std::string& path) {
  auto bytes = fs::read_file(path);
  if (!bytes) return fail(bytes.error());
  return parse_json(bytes.value(), path);
}

bool walk_keys(const folder_lister& list, const std::string& rel, const list_options& opts,
               const std::string& last_prefix, const std::function<bool(const std::string&, bool)>& emit) {
  struct item {
    std::string key;
    bool subtree;
  };
  std::vector<item> items;
  for (const auto& [name, has_meta] : list(rel)) {
    if (name == kDirObject) {
      if (!rel.empty() && has_meta) items.push_back({rel, false});  // the "folder/" object itself
      continue;
    }
    if (reserved(name)) continue;
    std::string key = rel + name;
    if (has_meta) items.push_back({key, false});
    items.push_back({key + "/", true});
  }
  // "a" < "a-c" < "a/" < "a0": a folder sorts as its name plus '/'.
  std::sort(items.begin(), items.end(), [](const item& a, const item& b) {
    return a.key != b.key ? a.key < b.key : !a.subtree && b.subtree;
  });
  for (const auto& it : items) {
    if (!it.subtree) {
      if (!emit(it.key, true)) return false;
      continue;
    }
    const std::string& sub = it.key;
    // Prune folders that cannot hold a key matching the prefix or lying after the marker.
    if (!sub.starts_with(opts.prefix) && !opts.prefix.starts_with(sub)) continue;
    if (!opts.marker.empty() && sub < opts.marker && !opts.marker.starts_with(sub)) continue;
    // With delimiter '/', a whole folder below the prefix is one common prefix.
    if (opts.delimiter == "/" && sub.starts_with(opts.prefix) && sub.size() > opts.prefix.size()) {
      if (sub == last_prefix) continue;
      if (!opts.marker.empty() && sub <= opts.marker) continue;
      if (!subtree_has_object(list, sub)) continue;
      if (!emit(sub + "\x01", false)) return false;  // any key inside stands for the prefix
      continue;
    }
    if (!walk_keys(list, sub, opts, last_prefix, emit)) return false;
  }
  return true;
}

bool subtree_has_object(const folder_lister& list, const std::string& rel) {
  for (const auto& [name, has_meta] : list(rel)) {
    if (name == kDirObject && has_meta) return true;
    if (reserved(name)) continue;
    if (has_meta) return true;
    if (subtree_has_object(list, rel + name + "/")) return true;
  }
  return false;
}

list_uploads_result page_uploads(std::vector<upload_info> all, const list_uploads_options& opts) {
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.key != b.key ? a.key < b.key : a.initiated < b.initiated;
  });
  list_uploads_result out;
  std::string last_prefix;
  int count = 0;
  for (const auto& u : all) {
    if (!u.key.starts_with(opts.prefix)) continue;
    if (!opts.key_marker.empty()) {
      if (u.key < opts.key_marker) continue;
      if (u.key == opts.key_marker && (opts.upload_id_marker.empty() || u.upload_id <= opts.upload_id_marker)) {
        continue;
      }
    }
    if (!opts.delimiter.empty()) {
      size_t d = u.key.find(opts.delimiter, opts.prefix.size());
      if (d != std::string::npos) {
        std::string cp = u.key.substr(0, d + opts.delimiter.size());
        if (cp == last_prefix) continue;
        if (count == opts.max_uploads) {
          out.truncated = true;
          break;
        }
        last_prefix = cp;
        out.common_prefixes.push_back(cp);
        ++count;
        continue;
      }
    }
    if (count == opts.max_uploads) {
      out.truncated = true;
      break;
    }
    out.uploads.push_back(u);
    ++count;
  }
  return out;
}

}  // namespace sluice::objstore::detail
