#pragma once
// What jobctl's commands share: looking up job types and statuses, the job
// filter options (--type, --status, --requester, --created-*, --finished-*),
// and printing jobs as tables or JSON.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "jobrunner/core/duration.hpp"
#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/admin.hpp"
#include "jobrunner/pg/registry.hpp"

namespace jobrunner::jobctl {

// The type of that name in the database's registry (job_type); BadInput
// listing the registered ones if none. jobctl knows no type of its own.
pg::RegisteredType find_type(pg::Transaction& tx, const std::string& name);
pg::RegisteredType find_type(pg::Connection& conn, const std::string& name);
// The names of the registered types.
std::vector<std::string> known_type_names(pg::Transaction& tx);

// Parses status names, each possibly a comma-separated list ("FAILED,cancelled");
// BadInput naming `option` and the valid names for anything else.
std::vector<JobStatus> parse_statuses(const std::vector<std::string>& texts, std::string_view option);
// "WAITING, RUNNING, COMPLETED, FAILED, SUSPENDED, CANCELLED"
std::string all_status_names();

// The filter options of list, the moves and prune.
struct FilterOptions {
  std::optional<std::string> type;
  std::vector<std::string> statuses;
  std::optional<std::string> requester;
  std::optional<std::string> created_before;
  std::optional<std::string> created_after;
  std::optional<std::string> finished_before;
  std::optional<std::string> finished_after;
  bool any() const noexcept;
};
void add_filter_options(CLI::App* cmd, FilterOptions& filter);
// Checks the type, statuses and times (BadInput naming the option) and
// returns the store's filter.
pg::JobMatch resolve_filter(pg::Transaction& tx, const FilterOptions& filter);
// "--type foo --status FAILED", for messages.
std::string describe_filter(const FilterOptions& filter);

// JSON values: null for nullopt.
nlohmann::json time_or_null(const std::optional<TimePoint>& time);
template <typename T>
nlohmann::json or_null(const std::optional<T>& value) {
  if (!value) return nullptr;
  return *value;
}
// Every column of the job row (not the type row).
nlohmann::json job_json(const Job& job);

// An error report as --json prints it.
nlohmann::json report_json(const pg::ErrorReport& report);
// A job table (or JSON array) on stdout.
void print_jobs(const std::vector<Job>& jobs, bool json);
// The --json metadata of enqueue and schedule add: a JSON object, else
// BadInput.
nlohmann::json parse_metadata(const std::string& text);
// Pretty JSON on stdout.
void print_json(const nlohmann::json& value);

// A job with everything jobctl show and the dashboard's job page show.
struct JobDetails {
  Job job;
  std::optional<pg::RegisteredType> type;  // nullopt: not registered
  bool has_type_row = false;  // its type's own row (foojob) was found
  std::vector<pg::ErrorReport> reports;
  std::vector<pg::Notification> notices;
  std::vector<std::string> log;       // job.log, line by line, oldest first
  std::vector<std::string> attempts;  // the log's lines about attempts
};
// NotFound when there is no such job.
JobDetails load_job_details(pg::Transaction& tx, std::int64_t id);

// A coarse age for people: "3d4h", "12m5s", "850ms".
std::string format_age(Duration age);

}  // namespace jobrunner::jobctl
