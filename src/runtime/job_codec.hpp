#pragma once
// A Job as JSON, to send it to an isolated child that was forked before the
// job was claimed (a pre-forked child sees none of the parent's later memory).

#include <nlohmann/json.hpp>

#include "jobrunner/core/job.hpp"

namespace jobrunner {

nlohmann::json job_to_json(const Job& job);
// Throws nlohmann::json::exception for JSON that job_to_json did not write.
Job job_from_json(const nlohmann::json& json);

}  // namespace jobrunner
