#pragma once
// A row of the generic job table, joined with its type row (if its type has
// a table of its own).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "jobrunner/core/status.hpp"

namespace jobrunner {

using TimePoint = std::chrono::system_clock::time_point;

struct Job {
  std::int64_t id = 0;
  std::string job_type;
  JobStatus status = JobStatus::waiting;
  std::optional<std::string> requester;
  std::optional<std::string> reason;
  int priority = 0;
  std::optional<TimePoint> scheduled_start;
  std::optional<TimePoint> lease_expires;
  std::optional<std::string> lease_owner;
  std::optional<std::string> lease_token;
  int attempt_count = 0;
  int max_retries = 0;
  std::string log;
  TimePoint date_created;
  std::optional<TimePoint> date_started;
  std::optional<TimePoint> date_finished;
  nlohmann::json json_data = nlohmann::json::object();
  // What the last recorded attempt gave back (job.result, a JSON object),
  // or nullopt (core/attempt_output.hpp).
  std::optional<nlohmann::json> result;

  // From the type's own table (for example foojob): what the job is about
  // (foojob.foo) and its type code (foojob.job_type). A job of a type
  // without a table has no target (nullopt) and type code 0; so has a job
  // whose type row is missing.
  std::optional<std::int64_t> target_id;
  int type_code = 0;
  // The job's metadata: the type row's json_data (foojob.json_data), or
  // job.json_data for a type without a table of its own.
  nlohmann::json metadata = nlohmann::json::object();
};

// "2026-11-28T01:32:23.123Z"; "-" for nullopt.
std::string format_time(const std::optional<TimePoint>& time);

}  // namespace jobrunner
