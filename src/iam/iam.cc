#include "iam/iam.h"

#include <sys/stat.h>

#include <boost/json.hpp>

#include "base/crypto.h"
#include "base/fs.h"

SLUICE_ERRC_CATEGORY(sluice::iam, "iam",
                     case errc::user_exists : return "user already exists";
                     case errc::no_such_user : return "no such user";
                     case errc::invalid_access_key : return "invalid access key";
                     case errc::invalid_secret_key : return "invalid secret key";
                     case errc::read_only_user : return "user is defined in the config file";
                     case errc::io_error : return "cannot save users";
                     case errc::invalid_policy : return "invalid policy";)

namespace sluice::iam {

namespace json = boost::json;

bool valid_access_key(std::string_view k) {
  if (k.size() < 3 || k.size() > 128) return false;
  for (char c : k) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '@' || c == '=' || c == '-')) {
      return false;
    }
  }
  return true;
}

bool valid_secret_key(std::string_view k) {
  if (k.size() < 8 || k.size() > 128) return false;
  for (char c : k) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

result<root_credentials> load_or_create_root(const std::string& state_dir, const std::string& given_user,
                                             const std::string& given_password) {
  if (!given_user.empty() || !given_password.empty()) {
    if (!valid_access_key(given_user)) {
      return fail(errc::invalid_access_key, "root user must be 3-128 characters of [A-Za-z0-9_.@=-]");
    }
    if (!valid_secret_key(given_password)) {
      return fail(errc::invalid_secret_key, "root password must be 8-128 printable characters");
    }
    return root_credentials{given_user, given_password, false};
  }
  std::string path = fs::join(state_dir, "root-credentials.json");
  if (fs::exists(path)) {
    auto bytes = fs::read_file(path);
    if (!bytes) return fail(errc::io_error, bytes.error().message());
    boost::system::error_code ec;
    auto v = json::parse(bytes.value(), ec);
    if (ec || !v.is_object() || !v.as_object().contains("access_key") || !v.as_object().contains("secret_key")) {
      return fail(errc::io_error, "cannot parse " + path);
    }
    return root_credentials{std::string(v.at("access_key").as_string()), std::string(v.at("secret_key").as_string()),
                            false};
  }
  root_credentials c{"sluice-" + random_token(12), random_token(40), true};
  if (auto r = fs::mkdirs(state_dir); !r) return fail(errc::io_error, r.error().message());
  json::object o{{"access_key", c.access_key}, {"secret_key", c.secret_key}};
  if (auto r = fs::write_file_durable(path, json::serialize(o), 0600); !r) {
    return fail(errc::io_error, r.error().message());
  }
  return c;
}

result<std::unique_ptr<store>> store::open(const std::string& state_dir, root_credentials root,
                                           const std::map<std::string, std::string>& config_users) {
  auto s = std::make_unique<store>();
  s->path_ = fs::join(state_dir, "users.json");
  s->root_ = root;
  s->users_[root.access_key] = user{root.access_key, root.secret_key, true, true};
  for (const auto& [ak, sk] : config_users) {
    if (!valid_access_key(ak)) return fail(errc::invalid_access_key, "config user '" + ak + "'");
    if (!valid_secret_key(sk)) return fail(errc::invalid_secret_key, "config user '" + ak + "': secret too short");
    if (ak == root.access_key) continue;
    s->users_[ak] = user{ak, sk, false, true};
  }
  if (auto r = fs::mkdirs(state_dir); !r) return fail(errc::io_error, r.error().message());
  if (fs::exists(s->path_)) {
    auto bytes = fs::read_file(s->path_);
    if (!bytes) return fail(errc::io_error, bytes.error().message());
    boost::system::error_code ec;
    auto v = json::parse(bytes.value(), ec);
    if (ec || !v.is_object()) return fail(errc::io_error, "cannot parse " + s->path_);
    if (auto* arr = v.as_object().if_contains("users"); arr && arr->is_array()) {
      for (const auto& u : arr->as_array()) {
        if (!u.is_object()) continue;
        auto* ak = u.as_object().if_contains("access_key");
        auto* sk = u.as_object().if_contains("secret_key");
        if (!ak || !sk || !ak->is_string() || !sk->is_string()) continue;
        std::string a(ak->as_string());
        if (s->users_.count(a)) continue;  // config and root win
        s->users_[a] = user{a, std::string(sk->as_string()), false, false};
      }
    }
  }
  return s;
}

std::optional<user> store::find(std::string_view access_key) const {
  std::lock_guard lock(mu_);
  auto it = users_.find(access_key);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

result<void> store::add_user(const std::string& access_key, const std::string& secret_key) {
  if (!valid_access_key(access_key)) return fail(errc::invalid_access_key, "access key must be 3-128 of [A-Za-z0-9_.@=-]");
  if (!valid_secret_key(secret_key)) return fail(errc::invalid_secret_key, "secret key must be 8-128 printable characters");
  std::lock_guard lock(mu_);
  if (auto it = users_.find(access_key); it != users_.end()) {
    if (it->second.from_config) return fail(errc::read_only_user, access_key);
  }
  users_[access_key] = user{access_key, secret_key, false, false};
  return save_locked();
}

result<void> store::remove_user(const std::string& access_key) {
  std::lock_guard lock(mu_);
  auto it = users_.find(access_key);
  if (it == users_.end()) return fail(errc::no_such_user, access_key);
  if (it->second.from_config) return fail(errc::read_only_user, access_key);
  users_.erase(it);
  return save_locked();
}

std::vector<user> store::list() const {
  std::lock_guard lock(mu_);
  std::vector<user> out;
  for (const auto& [k, u] : users_) out.push_back(u);
  return out;
}

result<void> store::save_locked() {
  json::array arr;
  for (const auto& [k, u] : users_) {
    if (u.from_config) continue;
    arr.push_back(json::object{{"access_key", u.access_key}, {"secret_key", u.secret_key}});
  }
  json::object o{{"format", 1}, {"users", std::move(arr)}};
  if (auto r = fs::write_file_durable(path_, json::serialize(o), 0600); !r) {
    return fail(errc::io_error, r.error().message());
  }
  return ok();
}

}  // namespace sluice::iam
