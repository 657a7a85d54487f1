#pragma once
// The dashboard's pages: each reads what it shows in the caller's
// transaction, through the same functions and named SQL as jobctl's own
// commands (pg/admin.hpp, load_job_details), and returns the whole HTML
// document. Every value goes through escape() (html.hpp).

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "jobrunner/pg/connection.hpp"

namespace jobrunner::jobctl::web {

// A request's query parameters (or form fields), by name: the first value.
using Query = std::map<std::string, std::string>;

struct View {
  bool actions = false;  // --allow-actions: the action forms are shown
  std::string csrf;      // the CSRF token the forms carry
  std::string message;   // shown at the top ("retry: job 17 is now WAITING")
};

// The jobs list shows this many per page (keyset paging, ?before=ID).
inline constexpr int kJobsPerPage = 50;

std::string overview_page(pg::Transaction& tx, const View& view);
// Filters: type, status, requester, created_after, created_before (times
// as jobctl list's --created-after: ISO 8601 or a duration ago, "1h");
// before (an id: the next page). BadInput naming the filter otherwise.
std::string jobs_page(pg::Transaction& tx, const View& view, const Query& query);
// NotFound when there is no such job.
std::string job_page(pg::Transaction& tx, const View& view, std::int64_t id);
// Filters: type.
std::string error_reports_page(pg::Transaction& tx, const View& view, const Query& query);
std::string runs_page(pg::Transaction& tx, const View& view, const Query& query);

// The login form (--token-file), with `error` above it if not empty.
std::string login_page(const std::string& error);
// A page that says what went wrong ("Refused", the message).
std::string error_page(const std::string& title, const std::string& message);

}  // namespace jobrunner::jobctl::web
