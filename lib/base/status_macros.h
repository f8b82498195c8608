#pragma once

// Early-return helpers; Abseil 20220623 ships none.

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define BERTH_CONCAT_(a, b) BERTH_CONCAT_IMPL_(a, b)
#define BERTH_CONCAT_IMPL_(a, b) a##b

// Returns the status of `expr` from the enclosing function when it is not OK.
// (A unique name per use, so that a use nested in a lambda inside another does not shadow.)
#define BERTH_RETURN_IF_ERROR(expr) \
  BERTH_RETURN_IF_ERROR_IMPL_(BERTH_CONCAT_(berth_st_, __COUNTER__), expr)
#define BERTH_RETURN_IF_ERROR_IMPL_(st, expr) \
  do {                                        \
    if (absl::Status st = (expr); !st.ok()) { \
      return st;                              \
    }                                         \
  } while (false)

// `BERTH_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from an OK StatusOr, or returns its status.
#define BERTH_ASSIGN_OR_RETURN(lhs, expr) \
  BERTH_ASSIGN_OR_RETURN_IMPL_(BERTH_CONCAT_(berth_so_, __COUNTER__), lhs, expr)
#define BERTH_ASSIGN_OR_RETURN_IMPL_(so, lhs, expr) \
  auto so = (expr);                                 \
  if (!so.ok())                                     \
    return std::move(so).status();                  \
  lhs = *std::move(so)
