#pragma once
// Expected failures are values: every fallible function returns result<T>.
// An error carries a std::error_code from the failing module's own category
// (each module declares an `errc` enum) and a message for humans. Protocol
// front ends translate codes to wire errors in one place each.
#include <string>
#include <system_error>
#include <utility>

#include <boost/outcome/result.hpp>
#include <boost/outcome/try.hpp>

namespace sluice {

class error {
 public:
  error() = default;
  error(std::error_code code, std::string message = {}) : code_(code), message_(std::move(message)) {}
  template <class E>
    requires std::is_error_code_enum_v<E>
  error(E e, std::string message = {}) : error(make_error_code(e), std::move(message)) {}

  const std::error_code& code() const { return code_; }
  // The message given at the failure site, or the category's text for the code.
  std::string message() const { return message_.empty() ? code_.message() : message_; }
  const std::string& detail() const { return message_; }

  template <class E>
    requires std::is_error_code_enum_v<E>
  bool is(E e) const { return code_ == make_error_code(e); }

 private:
  std::error_code code_;
  std::string message_;
};

namespace outcome = boost::outcome_v2;

template <class T>
using result = outcome::basic_result<T, error, outcome::policy::terminate>;

inline auto ok() { return outcome::success(); }
template <class T>
auto ok(T&& v) { return outcome::success(std::forward<T>(v)); }
inline auto fail(error e) { return outcome::failure(std::move(e)); }
inline auto fail(std::error_code c, std::string message) { return outcome::failure(error(c, std::move(message))); }
template <class E>
  requires std::is_error_code_enum_v<E>
auto fail(E e, std::string message = {}) { return outcome::failure(error(e, std::move(message))); }

// An error from errno of the last system call, with context.
error errno_error(std::string context, int err);

}  // namespace sluice

#define SLUICE_TRY BOOST_OUTCOME_TRY
