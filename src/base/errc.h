#pragma once
// Helper to declare a module's error enum as a std::error_code enum with one
// category. Usage, in a header:
//   namespace sluice::foo { enum class errc { bad = 1, worse }; const std::error_category& category();
//   inline std::error_code make_error_code(errc e) { return {int(e), category()}; } }
//   SLUICE_ERRC_ENUM(sluice::foo::errc)
// and in the .cc file, SLUICE_ERRC_CATEGORY(sluice::foo, "foo", { case errc::bad: return "..."; ... })
#include <string>
#include <system_error>

#define SLUICE_ERRC_ENUM(E) \
  template <>               \
  struct std::is_error_code_enum<E> : std::true_type {};

#define SLUICE_ERRC_CATEGORY(NS, NAME, ...)                               \
  namespace NS {                                                          \
  namespace {                                                             \
  struct category_impl final : std::error_category {                      \
    const char* name() const noexcept override { return NAME; }           \
    std::string message(int c) const override {                           \
      switch (static_cast<errc>(c)) { __VA_ARGS__ }                       \
      return std::string(NAME) + " error " + std::to_string(c);           \
    }                                                                     \
  };                                                                      \
  }                                                                       \
  const std::error_category& category() {                                 \
    static const category_impl instance;                                  \
    return instance;                                                      \
  }                                                                       \
  }
