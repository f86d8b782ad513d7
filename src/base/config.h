#pragma once
// Server configuration: one table of known keys with defaults and help
// (config.cc), filled from a Java-style properties file, environment
// aliases and --override key=value, in that order of increasing precedence
// (callers apply them in that order: load_file, apply_env, set).
// Keys ending in ".*" in the table are families (e.g. iam.user.<name>).
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/errc.h"
#include "base/result.h"

namespace sluice::config {

enum class errc { unknown_key = 1, bad_value, bad_file };
const std::error_category& category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), category()}; }

struct key_info {
  std::string name;
  std::string default_value;
  std::string help;
  std::vector<std::string> env;  // environment variables that set it, first wins
};

// The documented table of every key (docs/CONFIG.md is generated from it).
const std::vector<key_info>& known_keys();

class settings {
 public:
  settings();
  result<void> load_file(const std::string& path);
  result<void> set(const std::string& key, const std::string& value);
  // Applies environment aliases; call after load_file and before the overrides.
  void apply_env();

  std::string get(const std::string& key) const;
  result<int64_t> get_int(const std::string& key) const;
  result<bool> get_bool(const std::string& key) const;
  // Sizes accept plain bytes or suffixes KiB/MiB/GiB/TiB (and K/M/G/T, KB/MB/GB).
  result<uint64_t> get_bytes(const std::string& key) const;
  result<std::chrono::milliseconds> get_ms(const std::string& key) const;
  // All set keys below a family prefix, e.g. prefix "iam.user." -> {name: value}.
  std::map<std::string, std::string> family(const std::string& prefix) const;
  bool is_set(const std::string& key) const { return explicit_.count(key) > 0; }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> explicit_;
};

result<uint64_t> parse_bytes(const std::string& text);
std::string markdown_table();

}  // namespace sluice::config

SLUICE_ERRC_ENUM(sluice::config::errc)
