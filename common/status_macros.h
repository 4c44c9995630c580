// Status propagation helpers for absl::Status / absl::StatusOr.
#ifndef KVLAB_COMMON_STATUS_MACROS_H_
#define KVLAB_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KVLAB_CONCAT_INNER_(a, b) a##b
#define KVLAB_CONCAT_(a, b) KVLAB_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function
// when it is not OK.
#define KVLAB_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::absl::Status kvlab_status_ = (expr);          \
    if (!kvlab_status_.ok()) return kvlab_status_;  \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the enclosing function, otherwise moves the value into `lhs`, which may be a
// declaration (`auto x`) or an existing variable.
#define KVLAB_ASSIGN_OR_RETURN(lhs, rexpr) \
  KVLAB_ASSIGN_OR_RETURN_IMPL_(KVLAB_CONCAT_(kvlab_statusor_, __LINE__), lhs, rexpr)

#define KVLAB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // KVLAB_COMMON_STATUS_MACROS_H_
