#pragma once
// Identities: the root user and further users (access key + secret key).
// Users from the config file are fixed; users added at run time (admin API)
// persist in <drive>/.sluice.sys/iam/users.json (0600, written durably).
// Authorisation today: root may do anything; a user may use the buckets it
// owns. Full IAM policies come later.
//
// Thread safety: all methods may be called concurrently.
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/errc.h"
#include "base/result.h"

namespace sluice::iam {

enum class errc { user_exists = 1, no_such_user, invalid_access_key, invalid_secret_key, read_only_user, io_error, invalid_policy };
const std::error_category& category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), category()}; }

struct user {
  std::string access_key;
  std::string secret_key;
  bool root = false;
  bool from_config = false;
};

struct root_credentials {
  std::string access_key;
  std::string secret_key;
  bool generated = false;  // true the first time they were made up and saved
};

// Root credentials: given ones win; otherwise those saved in `state_dir`;
// otherwise new random ones, saved there with mode 0600.
result<root_credentials> load_or_create_root(const std::string& state_dir, const std::string& given_user,
                                             const std::string& given_password);

class store {
 public:
  // state_dir holds users.json; config_users are access->secret from the config file.
  static result<std::unique_ptr<store>> open(const std::string& state_dir, root_credentials root,
                                             const std::map<std::string, std::string>& config_users);

  std::optional<user> find(std::string_view access_key) const;
  result<void> add_user(const std::string& access_key, const std::string& secret_key);
  result<void> remove_user(const std::string& access_key);
  std::vector<user> list() const;
  const std::string& root_access_key() const { return root_.access_key; }

 private:
  result<void> save_locked();

  std::string path_;
  root_credentials root_;
  mutable std::mutex mu_;
  std::map<std::string, user, std::less<>> users_;
};

// Access keys: 3..128 of [A-Za-z0-9_.@=-]; secrets: 8..128 printable characters.
bool valid_access_key(std::string_view k);
bool valid_secret_key(std::string_view k);

}  // namespace sluice::iam

SLUICE_ERRC_ENUM(sluice::iam::errc)
