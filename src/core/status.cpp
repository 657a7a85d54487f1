#include "jobrunner/core/status.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

constexpr std::array<std::string_view, 6> kNames = {"WAITING", "RUNNING",   "COMPLETED",
                                                    "FAILED",  "SUSPENDED", "CANCELLED"};

}  // namespace

std::string_view to_string(JobStatus status) noexcept {
  return kNames[static_cast<std::size_t>(status)];
}

std::optional<JobStatus> status_from_code(int code) noexcept {
  if (code < 0 || code >= static_cast<int>(kNames.size())) return std::nullopt;
  return static_cast<JobStatus>(code);
}

std::optional<JobStatus> parse_status(std::string_view text) noexcept {
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == upper) return static_cast<JobStatus>(i);
  }
  return std::nullopt;
}

bool can_transition(JobStatus from, JobStatus to) noexcept {
  using enum JobStatus;
  switch (from) {
    case waiting: return to == running || to == suspended || to == cancelled;
    case running: return to == completed || to == failed || to == suspended || to == waiting;
    case suspended: return to == waiting || to == cancelled;
    case failed:
    case completed:
    case cancelled: return to == waiting;
  }
  return false;
}

void check_transition(JobStatus from, JobStatus to) {
  if (!can_transition(from, to)) throw InvalidTransition(from, to);
}

bool is_finished(JobStatus status) noexcept {
  return status == JobStatus::completed || status == JobStatus::failed ||
         status == JobStatus::cancelled;
}

InvalidTransition::InvalidTransition(JobStatus from, JobStatus to)
    : Error("invalid transition: a job cannot go from " + std::string(to_string(from)) + " to " +
            std::string(to_string(to))),
      from_(from),
      to_(to) {}

}  // namespace jobrunner
