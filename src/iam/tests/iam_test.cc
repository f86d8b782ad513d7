#include "iam/iam.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/crypto.h"

namespace sluice::iam {

class Iam : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-iam-" + random_token(8));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(Iam, GeneratedRootIsStrongPersistentAndPrivate) {
  auto a = load_or_create_root(dir_, "", "");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a.value().generated);
  EXPECT_GE(a.value().secret_key.size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "root-credentials.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto b = load_or_create_root(dir_, "", "");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b.value().generated);
  EXPECT_EQ(a.value().secret_key, b.value().secret_key);
}

TEST_F(Iam, GivenRootIsValidated) {
  EXPECT_TRUE(load_or_create_root(dir_, "admin", "password123"));
  EXPECT_FALSE(load_or_create_root(dir_, "admin", "short"));
  EXPECT_FALSE(load_or_create_root(dir_, "a", "password123"));
}

TEST_F(Iam, UsersPersistAndConfigUsersAreReadOnly) {
  root_credentials root{"root", "rootsecret", false};
  {
    auto s = store::open(dir_, root, {{"cfguser", "cfgsecret1"}});
    ASSERT_TRUE(s);
    ASSERT_TRUE(s.value()->add_user("alice", "alicesecret"));
    EXPECT_TRUE(s.value()->add_user("cfguser", "other1234").error().is(errc::read_only_user));
    EXPECT_TRUE(s.value()->add_user("bob", "short").error().is(errc::invalid_secret_key));
  }
  auto s = store::open(dir_, root, {});
  ASSERT_TRUE(s);
  ASSERT_TRUE(s.value()->find("alice"));
  EXPECT_EQ(s.value()->find("alice")->secret_key, "alicesecret");
  EXPECT_TRUE(s.value()->find("root")->root);
  EXPECT_FALSE(s.value()->find("cfguser"));
  ASSERT_TRUE(s.value()->remove_user("alice"));
  EXPECT_FALSE(s.value()->find("alice"));
  EXPECT_TRUE(s.value()->remove_user("alice").error().is(errc::no_such_user));
}

}  // namespace sluice::iam
