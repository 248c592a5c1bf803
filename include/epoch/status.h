// epoch/status.h — errors as values for the whole public API.
//
// What: `Status` (a code and a message) and `StatusOr<T>` (a value or a non-OK
// Status). Every fallible call of libepoch returns one of these; no exception
// crosses the public API. Messages are for people: they say what was wrong and
// where (for example the cron field and the characters at fault).
//
// Threading: plain values; safe to copy and move between threads.
// Ownership: a Status owns its message; a StatusOr owns its value.
//
// Example:
//   epoch::StatusOr<epoch::CronExpression> cron = epoch::CronExpression::parse(text);
//   if (!cron.ok()) {
//     std::cerr << cron.status().message() << "\n";  // what is wrong, and where
//     return cron.status();
//   }
//   auto next = cron->next_after(now, *epoch::TimeZone::locate("UTC"));
//
// Inside the library, `EPOCH_RETURN_IF_ERROR(expr)` and
// `EPOCH_ASSIGN_OR_RETURN(lhs, expr)` propagate errors without boilerplate.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace epoch {

// The small, closed set of error kinds. Callers branch on the code; the
// message is for humans.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong (bad cron, bad JSON, bad id)
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // creating something that is already there
  kFailedPrecondition,  // the system is not in a state that allows the call
  kAborted,             // a concurrent change won (compare-and-set lost)
  kUnavailable,         // a dependency cannot be reached now; retrying may help
  kDeadlineExceeded,    // an operation ran out of time
  kPermissionDenied,    // authenticated but not allowed
  kUnauthenticated,     // no or bad credentials
  kResourceExhausted,   // a limit was hit (size, count)
  kCancelled,           // the operation was stopped on purpose
  kInternal,            // a bug or an unexpected failure
};

// The name of a code, e.g. "INVALID_ARGUMENT".
std::string_view status_code_name(StatusCode code) noexcept;

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() noexcept = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const noexcept { return code_ == StatusCode::kOk; }
  StatusCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "INVALID_ARGUMENT: <message>", or "OK".
  std::string to_string() const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status ok_status() {
  return Status();
}
inline Status invalid_argument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status not_found(std::string m) {
  return {StatusCode::kNotFound, std::move(m)};
}
inline Status already_exists(std::string m) {
  return {StatusCode::kAlreadyExists, std::move(m)};
}
inline Status failed_precondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status aborted(std::string m) {
  return {StatusCode::kAborted, std::move(m)};
}
inline Status unavailable(std::string m) {
  return {StatusCode::kUnavailable, std::move(m)};
}
inline Status deadline_exceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status permission_denied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status resource_exhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status cancelled(std::string m) {
  return {StatusCode::kCancelled, std::move(m)};
}
inline Status internal_error(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}

// A value of type T, or the Status saying why there is none.
// REQUIRES: a StatusOr is never built from an OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "StatusOr built from an OK Status");
  }

  bool ok() const noexcept { return std::holds_alternative<T>(v_); }
  // The error, or OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace epoch

#define EPOCH_STATUS_CONCAT_INNER_(a, b) a##b
#define EPOCH_STATUS_CONCAT_(a, b) EPOCH_STATUS_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define EPOCH_RETURN_IF_ERROR(expr)                        \
  do {                                                     \
    ::epoch::Status epoch_status_tmp_ = (expr);            \
    if (!epoch_status_tmp_.ok()) return epoch_status_tmp_; \
  } while (false)

// `lhs = value of expr`, or returns its Status from the enclosing function.
#define EPOCH_ASSIGN_OR_RETURN(lhs, expr) \
  EPOCH_ASSIGN_OR_RETURN_IMPL_(EPOCH_STATUS_CONCAT_(epoch_statusor_, __LINE__), lhs, expr)
#define EPOCH_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
