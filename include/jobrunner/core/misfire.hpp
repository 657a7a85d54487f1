#pragma once
// Which occurrences of a schedule a tick enqueues: the misfire policy.
// Pure: the tick's instant is an argument (docs/schedules.md#misfires).
//
// A tick at `now` handles every occurrence in [next_due, now] (next_due: the
// earliest one not yet handled). One is *on time* when it is at most `grace`
// old at the tick (now - grace <= t <= now), *missed* when older: it fell
// while nothing ticked. On-time occurrences are always enqueued. Of the
// missed ones the policy enqueues
//   skip: none;
//   once: the latest (one catch-up);
//   all:  every one, at most `limit` of them (the latest).
// The others are left out; the plan says how many and from when to when.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobrunner/core/cron_schedule.hpp"

namespace jobrunner {

enum class MisfirePolicy { skip, once, all };

std::string_view to_string(MisfirePolicy policy) noexcept;
// "skip", "once" or "all" (case-insensitive); BadInput naming them otherwise.
MisfirePolicy parse_misfire_policy(std::string_view text);

struct OccurrencePlan {
  struct Item {
    std::chrono::sys_seconds at;
    bool catch_up = false;  // a missed occurrence the policy enqueues
  };
  std::vector<Item> enqueue;  // in time order: catch-ups first, then on-time ones

  // The missed occurrences left out: how many (counted up to
  // kLeftOutCountCap; left_out_at_least says the count stopped there), the
  // first and the last.
  std::int64_t left_out = 0;
  bool left_out_at_least = false;
  std::optional<std::chrono::sys_seconds> left_out_first;
  std::optional<std::chrono::sys_seconds> left_out_last;
};

inline constexpr std::int64_t kLeftOutCountCap = 100000;

// The plan of a tick at `now` for occurrences from `next_due` (inclusive).
// Empty when next_due > now. `limit` >= 1 bounds `all`; grace >= 0.
OccurrencePlan plan_occurrences(const CronSchedule& schedule, std::chrono::sys_seconds next_due,
                                std::chrono::sys_seconds now, MisfirePolicy policy,
                                std::size_t limit, std::chrono::seconds grace);

}  // namespace jobrunner

namespace jobrunner {
// An occurrence as UTC ISO 8601 to the second: "2026-01-05T10:00:00Z".
std::string format_instant(std::chrono::sys_seconds instant);

// What the runner's and jobctl's tick lines say of occurrences, in one
// wording: " (missed; caught up by misfire policy once)" after a caught-up
// occurrence, and "left out [at least ]N missed occurrence[s] from A to B".
std::string caught_up_note(MisfirePolicy policy);
std::string describe_left_out(std::int64_t left_out, bool at_least,
                              std::chrono::sys_seconds first, std::chrono::sys_seconds last);
}  // namespace jobrunner
