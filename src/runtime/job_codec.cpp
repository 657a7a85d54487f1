#include "job_codec.hpp"

namespace jobrunner {
namespace {

nlohmann::json micros(const std::optional<TimePoint>& time) {
  if (!time) return nullptr;
  return std::chrono::duration_cast<std::chrono::microseconds>(time->time_since_epoch()).count();
}

std::optional<TimePoint> time_of(const nlohmann::json& value) {
  if (value.is_null()) return std::nullopt;
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::microseconds(value.get<std::int64_t>())));
}

template <typename T>
nlohmann::json optional(const std::optional<T>& value) {
  if (!value) return nullptr;
  return *value;
}

std::optional<std::string> text_of(const nlohmann::json& value) {
  if (value.is_null()) return std::nullopt;
  return value.get<std::string>();
}

}  // namespace

nlohmann::json job_to_json(const Job& job) {
  return {{"id", job.id},
          {"job_type", job.job_type},
          {"status", static_cast<int>(job.status)},
          {"requester", optional(job.requester)},
          {"reason", optional(job.reason)},
          {"priority", job.priority},
          {"scheduled_start", micros(job.scheduled_start)},
          {"lease_expires", micros(job.lease_expires)},
          {"lease_owner", optional(job.lease_owner)},
          {"lease_token", optional(job.lease_token)},
          {"attempt_count", job.attempt_count},
          {"max_retries", job.max_retries},
          {"log", job.log},
          {"date_created", micros(job.date_created)},
          {"date_started", micros(job.date_started)},
          {"date_finished", micros(job.date_finished)},
          {"json_data", job.json_data},
          {"result", job.result ? *job.result : nlohmann::json()},
          {"target_id", job.target_id ? nlohmann::json(*job.target_id) : nlohmann::json()},
          {"type_code", job.type_code},
          {"metadata", job.metadata}};
}

Job job_from_json(const nlohmann::json& json) {
  Job job;
  job.id = json.at("id").get<std::int64_t>();
  job.job_type = json.at("job_type").get<std::string>();
  job.status = static_cast<JobStatus>(json.at("status").get<int>());
  job.requester = text_of(json.at("requester"));
  job.reason = text_of(json.at("reason"));
  job.priority = json.at("priority").get<int>();
  job.scheduled_start = time_of(json.at("scheduled_start"));
  job.lease_expires = time_of(json.at("lease_expires"));
  job.lease_owner = text_of(json.at("lease_owner"));
  job.lease_token = text_of(json.at("lease_token"));
  job.attempt_count = json.at("attempt_count").get<int>();
  job.max_retries = json.at("max_retries").get<int>();
  job.log = json.at("log").get<std::string>();
  job.date_created = time_of(json.at("date_created")).value_or(TimePoint{});
  job.date_started = time_of(json.at("date_started"));
  job.date_finished = time_of(json.at("date_finished"));
  job.json_data = json.at("json_data");
  if (const auto& result = json.at("result"); !result.is_null()) job.result = result;
  if (const auto& target = json.at("target_id"); !target.is_null()) {
    job.target_id = target.get<std::int64_t>();
  }
  job.type_code = json.at("type_code").get<int>();
  job.metadata = json.at("metadata");
  return job;
}

}  // namespace jobrunner
