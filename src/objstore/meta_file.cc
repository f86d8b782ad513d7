#include "objstore/meta_file.h"

#include <boost/json.hpp>
#include <cstring>

#include "objstore/internal/common.h"
#include "objstore/internal/slot_file.h"

namespace sluice::objstore {

namespace json = boost::json;

namespace {

using detail::json_to_map;
using detail::map_to_json;

constexpr char kMagic[8] = {'S', 'L', 'M', 'E', 'T', 'A', '\0', '\1'};
constexpr int kFormat = 1;

std::string str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
int64_t num(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return 0;
}

}  // namespace

std::string encode_meta(const meta_file& m) {
  json::array versions;
  for (const auto& sv : m.versions) {
    const auto& i = sv.info;
    json::object v;
    v["id"] = i.version_id;
    v["marker"] = i.delete_marker;
    v["mtime"] = unix_nanos(i.mod_time);
    v["size"] = i.size;
    v["etag"] = i.etag;
    v["meta"] = map_to_json(i.metadata);
    if (!i.tags.empty()) v["tags"] = i.tags;
    if (!i.checksums.empty()) v["checksums"] = map_to_json(i.checksums);
    if (!sv.data_dir.empty()) v["data_dir"] = sv.data_dir;
    if (sv.inline_data) {
      v["inline"] = true;
      v["inline_off"] = sv.inline_offset;
      if (sv.ec) v["inline_len"] = sv.inline_length;
    }
    if (sv.ec) {
      json::array dist;
      for (int d : sv.ec->dist) dist.push_back(d);
      v["ec"] = json::object{{"k", sv.ec->data},          {"m", sv.ec->parity}, {"block", sv.ec->block_size},
                             {"index", sv.ec->index},     {"dist", std::move(dist)},
                             {"bitrot", sv.ec->bitrot}};
    }
    if (!i.parts.empty()) {
      json::array parts;
      for (const auto& p : i.parts) {
        json::object po{{"n", p.number}, {"size", p.size}, {"etag", p.etag}};
        if (!p.checksums.empty()) po["checksums"] = map_to_json(p.checksums);
        parts.push_back(std::move(po));
      }
      v["parts"] = std::move(parts);
    }
    versions.push_back(std::move(v));
  }
  json::object root{{"format", kFormat}, {"versions", std::move(versions)}};
  std::string body = json::serialize(root);
  std::string out(kMagic, sizeof kMagic);
  uint32_t len = static_cast<uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += body;
  out += m.inline_area;
  return out;
}

result<meta_file> decode_meta(std::string_view bytes) {
  if (detail::is_slot_file(bytes)) {
    auto slot = detail::newest_slot(bytes);
    if (!slot) return fail(errc::corrupt, "metadata file: no slot passes its checks");
    bytes = slot->payload;
  }
  if (bytes.size() < 12 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return fail(errc::corrupt, "metadata file: bad magic");
  }
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
  if (12 + static_cast<uint64_t>(len) > bytes.size()) return fail(errc::corrupt, "metadata file: truncated");
  boost::system::error_code ec;
  json::value root = json::parse(bytes.substr(12, len), ec);
  if (ec || !root.is_object()) return fail(errc::corrupt, "metadata file: bad json");
  const auto& ro = root.as_object();
  if (num(ro, "format") != kFormat) return fail(errc::corrupt, "metadata file: unknown format version");
  meta_file m;
  m.inline_area = std::string(bytes.substr(12 + len));
  auto* vs = ro.if_contains("versions");
  if (!vs || !vs->is_array()) return fail(errc::corrupt, "metadata file: no versions");
  for (const auto& vv : vs->as_array()) {
    if (!vv.is_object()) return fail(errc::corrupt, "metadata file: bad version");
    const auto& v = vv.as_object();
    stored_version sv;
    sv.info.version_id = str(v, "id");
    auto* marker = v.if_contains("marker");
    sv.info.delete_marker = marker && marker->is_bool() && marker->as_bool();
    sv.info.mod_time = from_unix_nanos(num(v, "mtime"));
    sv.info.size = static_cast<uint64_t>(num(v, "size"));
    sv.info.etag = str(v, "etag");
    sv.info.metadata = json_to_map(v.if_contains("meta"));
    sv.info.tags = str(v, "tags");
    sv.info.checksums = json_to_map(v.if_contains("checksums"));
    sv.data_dir = str(v, "data_dir");
    auto* inl = v.if_contains("inline");
    sv.inline_data = inl && inl->is_bool() && inl->as_bool();
    sv.inline_offset = static_cast<uint64_t>(num(v, "inline_off"));
    if (auto* ec = v.if_contains("ec"); ec && ec->is_object()) {
      const auto& eo = ec->as_object();
      erasure_info e;
      e.data = static_cast<int>(num(eo, "k"));
      e.parity = static_cast<int>(num(eo, "m"));
      e.block_size = static_cast<uint64_t>(num(eo, "block"));
      e.index = static_cast<int>(num(eo, "index"));
      e.bitrot = str(eo, "bitrot");
      if (auto* dist = eo.if_contains("dist"); dist && dist->is_array()) {
        for (const auto& d : dist->as_array()) e.dist.push_back(d.is_int64() ? static_cast<int>(d.as_int64()) : -1);
      }
      const int n = e.data + e.parity;
      bool valid = e.data >= 1 && e.parity >= 0 && n <= 16 && e.block_size > 0 && e.index >= 0 && e.index < n &&
                   static_cast<int>(e.dist.size()) == n;
      for (int d : e.dist) valid = valid && d >= 0 && d < n;
      if (!valid) return fail(errc::corrupt, "metadata file: bad erasure info");
      sv.ec = std::move(e);
      sv.inline_length = static_cast<uint64_t>(num(v, "inline_len"));
    }
    if (sv.inline_data && sv.inline_offset + sv.inline_size() > m.inline_area.size()) {
      return fail(errc::corrupt, "metadata file: inline data truncated");
    }
    if (auto* parts = v.if_contains("parts"); parts && parts->is_array()) {
      for (const auto& pv : parts->as_array()) {
        if (!pv.is_object()) continue;
        const auto& po = pv.as_object();
        part_info p;
        p.number = static_cast<int>(num(po, "n"));
        p.size = static_cast<uint64_t>(num(po, "size"));
        p.etag = str(po, "etag");
        p.checksums = json_to_map(po.if_contains("checksums"));
        sv.info.parts.push_back(std::move(p));
      }
    }
    m.versions.push_back(std::move(sv));
  }
  return m;
}

}  // namespace sluice::objstore
