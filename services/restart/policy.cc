#include "services/restart/policy.h"

#include <charconv>

#include "fmt/format.h"

#include "lib/base/status.h"

namespace berth::restart {
namespace {

std::optional<int> ParseCount(const std::string& s) {
  int n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty() || n < 0)
    return std::nullopt;
  return n;
}

}  // namespace

absl::StatusOr<Policy> ParsePolicy(const std::string& value) {
  if (value.empty() || value == "no")
    return Policy{};
  if (value == "always")
    return Policy{.kind = Policy::Kind::kAlways};
  if (value == "on-failure")
    return Policy{.kind = Policy::Kind::kOnFailure};
  constexpr std::string_view kOnFailure = "on-failure:";
  if (value.starts_with(kOnFailure)) {
    if (std::optional<int> n = ParseCount(value.substr(kOnFailure.size())))
      return Policy{.kind = Policy::Kind::kOnFailure, .max_retries = *n};
  }
  return InvalidArgument(fmt::format(
      "restart policy {:?}: want no, always, on-failure or on-failure:N (N >= 0)", value));
}

int RestartCount(const Labels& labels) {
  auto it = labels.find(kCountLabel);
  if (it == labels.end())
    return 0;
  return ParseCount(it->second).value_or(0);
}

Decision Decide(const Labels& labels, std::optional<uint32_t> exit_status) {
  auto status = labels.find(kStatusLabel);
  if (status == labels.end() || status->second != kStatusRunning)
    return {false, "status label is not running"};
  auto policy_label = labels.find(kPolicyLabel);
  absl::StatusOr<Policy> policy =
      ParsePolicy(policy_label == labels.end() ? "" : policy_label->second);
  if (!policy.ok())
    return {false, std::string(policy.status().message())};
  switch (policy->kind) {
    case Policy::Kind::kNo:
      return {false, "policy no"};
    case Policy::Kind::kAlways:
      return {true, "policy always"};
    case Policy::Kind::kOnFailure:
      break;
  }
  if (!exit_status)
    return {false, "on-failure: exit status unknown"};
  if (*exit_status == 0)
    return {false, "on-failure: exit status 0"};
  int count = RestartCount(labels);
  if (policy->max_retries > 0 && count >= policy->max_retries)
    return {false, fmt::format("on-failure: {} restarts of {}", count, policy->max_retries)};
  return {true, fmt::format("on-failure: exit status {}", *exit_status)};
}

bool AutoRemove(const Labels& labels) {
  auto it = labels.find(meta::kAutoRemoveLabel);
  return it != labels.end() && it->second == "true";
}

bool Monitored(const Labels& labels) {
  auto status = labels.find(kStatusLabel);
  return (status != labels.end() && status->second == kStatusRunning) || AutoRemove(labels);
}

}  // namespace berth::restart
