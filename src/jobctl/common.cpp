#include "common.hpp"

#include <algorithm>
#include <iostream>
#include <sstream>

#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "table.hpp"

namespace jobrunner::jobctl {

pg::RegisteredType find_type(pg::Transaction& tx, const std::string& name) {
  if (auto type = pg::find_registered_type(tx, name)) return std::move(*type);
  std::string known;
  for (const auto& registered : known_type_names(tx)) known += (known.empty() ? "" : ", ") + registered;
  throw BadInput("unknown job type '" + name + "' (known types: " +
                 (known.empty() ? std::string("none registered") : known) +
                 "; a type's package registers it: jobctl db upgrade)");
}

pg::RegisteredType find_type(pg::Connection& conn, const std::string& name) {
  auto tx = conn.begin();
  auto type = find_type(tx, name);
  tx.commit();
  return type;
}

std::vector<std::string> known_type_names(pg::Transaction& tx) {
  std::vector<std::string> names;
  for (const auto& type : pg::registered_types(tx)) names.push_back(type.spec.name);
  return names;
}

std::string all_status_names() {
  std::string out;
  for (int code = 0;; ++code) {
    const auto status = status_from_code(code);
    if (!status) break;
    out += (out.empty() ? "" : ", ") + std::string(to_string(*status));
  }
  return out;
}

std::vector<JobStatus> parse_statuses(const std::vector<std::string>& texts,
                                      std::string_view option) {
  std::vector<JobStatus> out;
  for (const auto& text : texts) {
    std::istringstream parts(text);
    std::string part;
    bool any = false;
    while (std::getline(parts, part, ',')) {
      any = true;
      const auto status = parse_status(part);
      if (!status) {
        throw BadInput(std::string(option) + ": unknown status '" + part + "' (use " +
                       all_status_names() + ")");
      }
      if (std::find(out.begin(), out.end(), *status) == out.end()) out.push_back(*status);
    }
    if (!any) throw BadInput(std::string(option) + ": an empty status (use " + all_status_names() + ")");
  }
  return out;
}

bool FilterOptions::any() const noexcept {
  return type || !statuses.empty() || requester || created_before || created_after ||
         finished_before || finished_after;
}

void add_filter_options(CLI::App* cmd, FilterOptions& filter) {
  cmd->add_option("--type", filter.type, "Only jobs of this type, e.g. foo")->type_name("TYPE");
  cmd->add_option("--status", filter.statuses,
                  "Only jobs in this status (repeat it, or separate with commas): " +
                      all_status_names())
      ->type_name("STATUS")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--requester", filter.requester, "Only jobs requested by WHO")
      ->type_name("WHO");
  const std::string time_help =
      " TIME: ISO 8601 (2026-12-01T08:00:00Z) or a duration meaning that long ago (7d, 90m)";
  cmd->add_option("--created-before", filter.created_before, "Only jobs created before TIME." + time_help)
      ->type_name("TIME");
  cmd->add_option("--created-after", filter.created_after, "Only jobs created at or after TIME")
      ->type_name("TIME");
  cmd->add_option("--finished-before", filter.finished_before,
                  "Only jobs finished (COMPLETED, FAILED, CANCELLED) before TIME")
      ->type_name("TIME");
  cmd->add_option("--finished-after", filter.finished_after, "Only jobs finished at or after TIME")
      ->type_name("TIME");
}

pg::JobMatch resolve_filter(pg::Transaction& tx, const FilterOptions& filter) {
  pg::JobMatch match;
  if (filter.type) {
    find_type(tx, *filter.type);
    match.job_type = filter.type;
  }
  match.statuses = parse_statuses(filter.statuses, "--status");
  match.requester = filter.requester;
  auto time = [&](const std::optional<std::string>& text, std::string_view option) {
    return text ? std::optional(pg::resolve_time(tx, *text, option)) : std::nullopt;
  };
  match.created_before = time(filter.created_before, "--created-before");
  match.created_after = time(filter.created_after, "--created-after");
  match.finished_before = time(filter.finished_before, "--finished-before");
  match.finished_after = time(filter.finished_after, "--finished-after");
  return match;
}

std::string describe_filter(const FilterOptions& filter) {
  std::string out;
  auto add = [&](std::string_view option, const std::optional<std::string>& value) {
    if (value) out += (out.empty() ? "" : " ") + std::string(option) + " " + *value;
  };
  add("--type", filter.type);
  for (const auto& s : filter.statuses) add("--status", s);
  add("--requester", filter.requester);
  add("--created-before", filter.created_before);
  add("--created-after", filter.created_after);
  add("--finished-before", filter.finished_before);
  add("--finished-after", filter.finished_after);
  return out;
}

nlohmann::json time_or_null(const std::optional<TimePoint>& time) {
  if (!time) return nullptr;
  return format_time(time);
}

nlohmann::json report_json(const pg::ErrorReport& r) {
  return {{"id", "OOPS-" + std::to_string(r.id)},
          {"job", or_null(r.job)},
          {"date_created", format_time(r.date_created)},
          {"error_type", r.error_type},
          {"message", r.message},
          {"variables", r.variables}};
}

nlohmann::json job_json(const Job& job) {
  return {{"id", job.id},
          {"job_type", job.job_type},
          {"status", to_string(job.status)},
          {"requester", or_null(job.requester)},
          {"reason", or_null(job.reason)},
          {"priority", job.priority},
          {"scheduled_start", time_or_null(job.scheduled_start)},
          {"lease_expires", time_or_null(job.lease_expires)},
          {"lease_owner", or_null(job.lease_owner)},
          {"attempt_count", job.attempt_count},
          {"max_retries", job.max_retries},
          {"date_created", format_time(job.date_created)},
          {"date_started", time_or_null(job.date_started)},
          {"date_finished", time_or_null(job.date_finished)},
          {"json_data", job.json_data},
          {"result", job.result ? *job.result : nlohmann::json()},
          {"log", job.log}};
}

void print_json(const nlohmann::json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

void print_jobs(const std::vector<Job>& jobs, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& job : jobs) out.push_back(job_json(job));
    print_json(out);
    return;
  }
  Table table({"ID", "TYPE", "STATUS", "ATTEMPTS", "PRIORITY", "REQUESTER", "CREATED", "STARTED",
               "FINISHED", "SCHEDULED"});
  for (const auto& job : jobs) {
    table.add_row({std::to_string(job.id), job.job_type, std::string(to_string(job.status)),
                   std::to_string(job.attempt_count) + "/" + std::to_string(job.max_retries + 1),
                   std::to_string(job.priority), job.requester.value_or("-"),
                   format_time(job.date_created), format_time(job.date_started),
                   format_time(job.date_finished), format_time(job.scheduled_start)});
  }
  table.print(std::cout);
  if (jobs.empty()) std::cout << "(no jobs)\n";
}

std::string format_age(Duration age) {
  const bool negative = age < Duration::zero();
  if (negative) age = -age;
  // Two units at most: enough for people, and stable in tests.
  using namespace std::chrono;
  Duration rounded = age;
  if (age >= hours(24)) {
    rounded = duration_cast<hours>(age);
  } else if (age >= hours(1)) {
    rounded = duration_cast<minutes>(age);
  } else if (age >= seconds(1)) {
    rounded = duration_cast<seconds>(age);
  }
  return (negative ? "-" : "") + format_duration(rounded);
}

nlohmann::json parse_metadata(const std::string& text) {
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw BadInput("--json is not valid JSON: " + std::string(e.what()));
  }
  if (!value.is_object()) {
    throw BadInput("--json must be a JSON object like {\"key\": \"value\"}, not " +
                   std::string(value.type_name()));
  }
  return value;
}

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// The log lines about attempts: "…Z attempt 2: failed: …", "… attempt 1 given back: …".
std::vector<std::string> attempt_lines(const std::vector<std::string>& log) {
  std::vector<std::string> out;
  for (const auto& line : log) {
    const auto space = line.find(' ');
    if (space != std::string::npos && line.compare(space + 1, 8, "attempt ") == 0) {
      out.push_back(line);
    }
  }
  return out;
}

}  // namespace

JobDetails load_job_details(pg::Transaction& tx, std::int64_t id) {
  auto job = pg::find_job(tx, id);
  if (!job) throw NotFound("no job with id " + std::to_string(id));
  JobDetails out;
  out.type = pg::find_registered_type(tx, job->job_type);
  if (out.type && out.type->has_table()) {
    try {
      job = pg::JobStore(out.type->spec).get(tx, id);
      out.has_type_row = true;
    } catch (const NotFound&) {
      // A job row without its type row: shown as it is.
    }
  }
  out.job = std::move(*job);
  out.reports = pg::find_error_reports(tx, {.job = id, .limit = 1000});
  out.notices = pg::list_notifications(tx, id);
  out.log = split_lines(out.job.log);
  out.attempts = attempt_lines(out.log);
  return out;
}

}  // namespace jobrunner::jobctl
