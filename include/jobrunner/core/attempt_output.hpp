#pragma once
// What an attempt at a job gives back besides its outcome: a result and text
// for the job's log. The runtime writes both with the attempt's end, whatever
// the outcome (docs/architecture.md, "A job's result and log").

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace jobrunner {

struct AttemptOutput {
  // For job.result: a JSON object, or nullopt for none. Each recorded end of
  // an attempt writes its attempt's (NULL for none), so job.result is what
  // the last recorded attempt gave.
  std::optional<nlohmann::json> result;
  // Added to the attempt's line in job.log ("attempt N: <outcome><log>"); a
  // success, which otherwise writes no line, writes one when this is not
  // empty. Start it with a newline for text of several lines.
  std::string log;

  bool empty() const noexcept { return !result && log.empty(); }
};

}  // namespace jobrunner
