#include "pages.hpp"

#include <algorithm>
#include <chrono>

#include "../common.hpp"
#include "html.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/admin.hpp"
#include "svg_chart.hpp"

namespace jobrunner::jobctl::web {
namespace {

constexpr int kChartMinutes = 60;
constexpr int kListLimit = 100;

std::string value_of(const Query& q, const std::string& name) {
  const auto it = q.find(name);
  return it == q.end() ? std::string() : it->second;
}

std::optional<std::string> nonempty(const Query& q, const std::string& name) {
  auto v = value_of(q, name);
  if (v.empty()) return std::nullopt;
  return v;
}

std::string status_name(JobStatus s) { return std::string(to_string(s)); }

void status_badge(Html& h, JobStatus s) {
  h.element("span", status_name(s), {{"class", "st " + status_name(s)}});
}

std::string job_href(std::int64_t id) { return "/jobs/" + std::to_string(id); }

// "/jobs?type=foo&status=FAILED"
std::string jobs_href(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out = "/jobs";
  char sep = '?';
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    out += sep + url_encode(k) + "=" + url_encode(v);
    sep = '&';
  }
  return out;
}

void message(Html& h, const View& view) {
  if (!view.message.empty()) h.element("div", view.message, {{"class", "msg"}});
}

void table_head(Html& h, std::initializer_list<std::string_view> names) {
  h.raw("<table><thead><tr>");
  for (const auto n : names) h.element("th", n);
  h.raw("</tr></thead><tbody>");
}

void cell(Html& h, std::string_view text) { h.element("td", text); }
void number_cell(Html& h, std::int64_t n) { h.element("td", std::to_string(n), {{"class", "n"}}); }

// A POST form of one button, carrying the CSRF token.
void action_form(Html& h, const View& view, const std::string& action, std::string_view label,
                 bool with_reason) {
  h.open("form", {{"class", "inline"}, {"method", "post"}, {"action", action}});
  h.hidden("csrf", view.csrf);
  if (with_reason) {
    h.open("input", {{"type", "text"}, {"name", "reason"}, {"placeholder", "reason (optional)"},
                     {"size", "18"}});
  }
  h.element("button", label, {{"type", "submit"}});
  h.close("form");
}

std::int64_t count_of(const std::map<JobStatus, std::int64_t>& m, JobStatus s) {
  const auto it = m.find(s);
  return it == m.end() ? 0 : it->second;
}

std::string minute_label(std::int64_t minute_unix) {
  const auto t = TimePoint(std::chrono::seconds(minute_unix));
  const auto text = format_time(t);  // 2026-12-02T00:06:00.000Z
  return text.size() >= 16 ? text.substr(11, 5) + " UTC" : text;
}

std::string optional_text(const std::optional<std::string>& v) { return v.value_or("-"); }

void runs_table(Html& h, const std::vector<pg::RunnerRun>& runs, bool show_end) {
  if (show_end) {
    table_head(h, {"ID", "TYPE", "HOST", "PID", "STARTED", "LAST SEEN", "FINISHED", "STATE", "RAN",
                   "NOT COMPLETED", "EXIT"});
  } else {
    table_head(h, {"ID", "TYPE", "HOST", "PID", "STARTED", "LAST SEEN"});
  }
  for (const auto& r : runs) {
    h.raw("<tr>");
    number_cell(h, r.id);
    cell(h, r.job_type);
    cell(h, r.hostname);
    number_cell(h, r.pid);
    cell(h, format_time(r.date_started));
    cell(h, format_time(r.last_seen));
    if (show_end) {
      cell(h, format_time(r.date_finished));
      cell(h, r.date_finished ? "finished" : r.alive ? "alive" : "not seen: stalled or died");
      cell(h, r.jobs_run ? std::to_string(*r.jobs_run) : "-");
      cell(h, r.jobs_not_completed ? std::to_string(*r.jobs_not_completed) : "-");
      cell(h, r.exit_code ? std::to_string(*r.exit_code) : "-");
    }
    h.raw("</tr>");
  }
  h.raw("</tbody></table>");
}

}  // namespace

// ---- Overview -----------------------------------------------------------------

std::string overview_page(pg::Transaction& tx, const View& view) {
  const auto types = known_type_names(tx);
  const auto stats = pg::queue_stats(tx, std::nullopt, types, std::chrono::hours(1), 0);
  const auto alive = pg::list_live_runner_runs(tx, std::nullopt);
  const auto per_minute = pg::finished_per_minute(tx, kChartMinutes);
  std::map<std::string, int> alive_by_type;
  for (const auto& r : alive) ++alive_by_type[r.job_type];

  Html h;
  message(h, view);
  h.element("p",
            "Per registered type: the jobs WAITING (READY: due now), RUNNING and SUSPENDED; those "
            "that finished in the last hour; the lag (how long the oldest ready job has waited); "
            "the runners alive (not finished, seen within " +
                format_duration(pg::kRunnerAliveWithin) + ").",
            {{"class", "muted"}});
  table_head(h, {"TYPE", "WAITING", "READY", "RUNNING", "SUSPENDED", "COMPLETED 1h", "FAILED 1h",
                 "CANCELLED 1h", "LAG", "RUNNERS ALIVE", "STATE"});
  for (const auto& t : stats.types) {
    h.raw("<tr>");
    h.open("td").link(jobs_href({{"type", t.job_type}}), t.job_type).close("td");
    const auto linked = [&](std::int64_t n, JobStatus s) {
      h.open("td", {{"class", "n"}})
          .link(jobs_href({{"type", t.job_type}, {"status", status_name(s)}}), std::to_string(n))
          .close("td");
    };
    linked(count_of(t.counts, JobStatus::waiting), JobStatus::waiting);
    number_cell(h, t.ready);
    linked(count_of(t.counts, JobStatus::running), JobStatus::running);
    linked(count_of(t.counts, JobStatus::suspended), JobStatus::suspended);
    linked(count_of(t.finished_in_window, JobStatus::completed), JobStatus::completed);
    linked(count_of(t.finished_in_window, JobStatus::failed), JobStatus::failed);
    linked(count_of(t.finished_in_window, JobStatus::cancelled), JobStatus::cancelled);
    cell(h, t.oldest_ready_age ? format_age(*t.oldest_ready_age) : "-");
    number_cell(h, alive_by_type[t.job_type]);
    h.open("td");
    if (t.pause) {
      h.element("strong", "paused").text(" by " + t.pause->paused_by + " since " +
                                         format_time(t.pause->paused_at) +
                                         (t.pause->reason ? ": " + *t.pause->reason : ""));
    } else {
      h.text("active");
    }
    if (view.actions) {
      h.raw(" ");
      const auto base = "/types/" + url_encode(t.job_type);
      if (t.pause) {
        action_form(h, view, base + "/unpause", "Unpause", false);
      } else {
        action_form(h, view, base + "/pause", "Pause", true);
      }
    }
    h.close("td");
    h.raw("</tr>");
  }
  h.raw("</tbody></table>");
  if (stats.types.empty()) h.element("p", "No job type is registered.");

  // Throughput: one chart per type, the last kChartMinutes minutes.
  h.element("h2", "Jobs finished per minute, last hour");
  auto now_minute = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count() /
                    60 * 60;
  for (const auto& m : per_minute) now_minute = std::max(now_minute, m.minute_unix);
  const auto first_minute = now_minute - (kChartMinutes - 1) * 60;
  for (const auto& t : stats.types) {
    BarChart chart;
    chart.title = t.job_type + ": jobs finished per minute";
    chart.series = {{"COMPLETED", "#3b9a57"}, {"FAILED", "#d24b4b"}, {"CANCELLED", "#9aa0ab"}};
    chart.values.assign(kChartMinutes, std::vector<double>(3, 0.0));
    for (int i = 0; i < kChartMinutes; ++i) chart.labels.push_back(minute_label(first_minute + i * 60));
    for (const auto& m : per_minute) {
      if (m.job_type != t.job_type || m.minute_unix < first_minute) continue;
      const auto i = static_cast<std::size_t>((m.minute_unix - first_minute) / 60);
      if (i >= chart.values.size()) continue;
      const std::size_t k = m.status == JobStatus::completed ? 0 : m.status == JobStatus::failed ? 1 : 2;
      chart.values[i][k] += static_cast<double>(m.count);
    }
    h.open("div", {{"class", "throughput"}, {"data-type", t.job_type}});
    h.element("h3", t.job_type);
    h.raw(render_svg(chart));  // built with escape() for every text
    h.close("div");
  }

  h.element("h2", "Runners alive");
  if (alive.empty()) {
    h.element("p", "None: no run is recorded as running and seen within " +
                       format_duration(pg::kRunnerAliveWithin) + ".");
  } else {
    runs_table(h, alive, false);
  }
  h.element("h2", "Paused types");
  bool any_paused = false;
  h.raw("<ul>");
  for (const auto& t : stats.types) {
    if (!t.pause) continue;
    any_paused = true;
    h.element("li", t.job_type + ": " + pg::describe_pause(*t.pause));
  }
  h.raw("</ul>");
  if (!any_paused) h.element("p", "None.");
  return page("Overview", h.str(), "/");
}

// ---- Jobs ---------------------------------------------------------------------

std::string jobs_page(pg::Transaction& tx, const View& view, const Query& query) {
  FilterOptions filter;
  filter.type = nonempty(query, "type");
  if (auto s = nonempty(query, "status")) filter.statuses.push_back(*s);
  filter.requester = nonempty(query, "requester");
  filter.created_after = nonempty(query, "created_after");
  filter.created_before = nonempty(query, "created_before");
  auto match = resolve_filter(tx, filter);
  if (auto before = nonempty(query, "before")) {
    try {
      std::size_t used = 0;
      match.before_id = std::stoll(*before, &used);
      if (used != before->size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      throw BadInput("before: '" + *before + "' is not a job id");
    }
  }
  auto jobs = pg::find_jobs(tx, match, pg::JobOrder::newest, kJobsPerPage + 1);
  const bool more = jobs.size() > static_cast<std::size_t>(kJobsPerPage);
  if (more) jobs.pop_back();
  const auto types = known_type_names(tx);

  Html h;
  message(h, view);
  h.open("form", {{"class", "filters"}, {"method", "get"}, {"action", "/jobs"}});
  h.raw("<label>type ");
  h.open("select", {{"name", "type"}});
  h.element("option", "any", {{"value", ""}});
  for (const auto& t : types) {
    Attrs a{{"value", t}};
    if (filter.type == t) a.emplace_back("selected", "selected");
    h.element("option", t, a);
  }
  h.raw("</select></label> <label>status ");
  h.open("select", {{"name", "status"}});
  h.element("option", "any", {{"value", ""}});
  const auto chosen = value_of(query, "status");
  for (const auto s : {JobStatus::waiting, JobStatus::running, JobStatus::completed,
                       JobStatus::failed, JobStatus::suspended, JobStatus::cancelled}) {
    Attrs a{{"value", status_name(s)}};
    if (!match.statuses.empty() && match.statuses.front() == s) a.emplace_back("selected", "selected");
    h.element("option", status_name(s), a);
  }
  h.raw("</select></label> <label>requester ");
  h.open("input", {{"type", "text"}, {"name", "requester"}, {"size", "12"},
                   {"value", value_of(query, "requester")}});
  h.raw("</label> <label>created after ");
  h.open("input", {{"type", "text"}, {"name", "created_after"}, {"size", "14"},
                   {"placeholder", "1h or ISO 8601"}, {"value", value_of(query, "created_after")}});
  h.raw("</label> <label>created before ");
  h.open("input", {{"type", "text"}, {"name", "created_before"}, {"size", "14"},
                   {"value", value_of(query, "created_before")}});
  h.raw("</label> ");
  h.element("button", "Filter", {{"type", "submit"}});
  h.raw(" ").link("/jobs", "clear");
  h.close("form");

  table_head(h, {"ID", "TYPE", "STATUS", "REQUESTER", "ATTEMPTS", "CREATED", "FINISHED", "REASON"});
  for (const auto& j : jobs) {
    h.raw("<tr>");
    h.open("td", {{"class", "n"}}).link(job_href(j.id), std::to_string(j.id)).close("td");
    cell(h, j.job_type);
    h.open("td");
    status_badge(h, j.status);
    h.close("td");
    cell(h, optional_text(j.requester));
    h.element("td", std::to_string(j.attempt_count) + "/" + std::to_string(j.max_retries + 1),
              {{"class", "n"}});
    cell(h, format_time(j.date_created));
    cell(h, format_time(j.date_finished));
    cell(h, optional_text(j.reason));
    h.raw("</tr>");
  }
  h.raw("</tbody></table>");
  if (jobs.empty()) h.element("p", "No job matches.", {{"class", "none"}});
  if (more) {
    h.open("p").link(jobs_href({{"type", value_of(query, "type")},
                                {"status", value_of(query, "status")},
                                {"requester", value_of(query, "requester")},
                                {"created_after", value_of(query, "created_after")},
                                {"created_before", value_of(query, "created_before")},
                                {"before", std::to_string(jobs.back().id)}}),
                     "Older jobs →", {{"id", "older"}, {"rel", "next"}});
    h.close("p");
  }
  return page("Jobs", h.str(), "/jobs");
}

// ---- One job ------------------------------------------------------------------

std::string job_page(pg::Transaction& tx, const View& view, std::int64_t id) {
  const auto d = load_job_details(tx, id);
  const auto& j = d.job;
  Html h;
  message(h, view);
  if (view.actions) {
    h.open("div", {{"class", "actions"}});
    const auto base = job_href(j.id) + "/";
    for (const char* verb : {"retry", "cancel", "suspend", "resume"}) {
      const auto move = pg::operator_move(verb);
      if (std::find(move->from.begin(), move->from.end(), j.status) == move->from.end()) continue;
      std::string label = verb;
      label.front() = static_cast<char>(label.front() - 'a' + 'A');
      action_form(h, view, base + verb, label, true);
    }
    h.close("div");
  }
  h.element("h2", "Columns");
  h.raw("<table class=\"columns\"><tbody>");
  const auto row = [&](std::string_view name, const std::string& value) {
    h.raw("<tr>").element("th", name).element("td", value).raw("</tr>");
  };
  row("id", std::to_string(j.id));
  row("type", j.job_type);
  h.raw("<tr>").element("th", "status").open("td");
  status_badge(h, j.status);
  h.close("td").raw("</tr>");
  row("requester", optional_text(j.requester));
  row("reason", optional_text(j.reason));
  row("priority", std::to_string(j.priority));
  row("attempts", std::to_string(j.attempt_count) + " of " + std::to_string(j.max_retries + 1) +
                      " (max_retries " + std::to_string(j.max_retries) + ")");
  row("created", format_time(j.date_created));
  row("scheduled_start", format_time(j.scheduled_start));
  row("started", format_time(j.date_started));
  row("finished", format_time(j.date_finished));
  row("lease", j.lease_token ? "held by " + j.lease_owner.value_or("?") + " until " +
                                   format_time(j.lease_expires)
                             : std::string("-"));
  if (d.has_type_row) {
    row("type row", d.type->spec.table + ": " + d.type->spec.target_column + " " +
                        std::to_string(*j.target_id));
  }
  h.raw("</tbody></table>");

  h.element("h2", "Metadata");
  h.element("pre", j.metadata.dump(2), {{"id", "metadata"}});
  if (d.has_type_row) {
    h.element("h2", "json_data (job row)");
    h.element("pre", j.json_data.dump(2));
  }
  h.element("h2", "Result");
  h.element("pre", j.result ? j.result->dump(2) : "-", {{"id", "result"}});

  h.element("h2", "Attempts (from the log)");
  if (d.attempts.empty()) {
    h.element("p", "None.");
  } else {
    h.raw("<ul>");
    for (const auto& line : d.attempts) h.element("li", line);
    h.raw("</ul>");
  }
  h.element("h2", "Error reports");
  if (d.reports.empty()) {
    h.element("p", "None.");
  } else {
    table_head(h, {"OOPS", "FILED", "TYPE", "MESSAGE", "VARIABLES"});
    for (const auto& r : d.reports) {
      h.raw("<tr>");
      cell(h, "OOPS-" + std::to_string(r.id));
      cell(h, format_time(r.date_created));
      cell(h, r.error_type);
      cell(h, r.message);
      h.open("td").element("pre", r.variables.dump(2)).close("td");
      h.raw("</tr>");
    }
    h.raw("</tbody></table>");
  }
  h.element("h2", "Notices to the requester");
  if (d.notices.empty()) {
    h.element("p", "None.");
  } else {
    table_head(h, {"DATE", "TO", "SUBJECT", "BODY"});
    for (const auto& n : d.notices) {
      h.raw("<tr>");
      cell(h, format_time(n.date_created));
      cell(h, optional_text(n.recipient));
      cell(h, n.subject);
      cell(h, n.body);
      h.raw("</tr>");
    }
    h.raw("</tbody></table>");
  }
  h.element("h2", "Log");
  std::string log;
  for (const auto& line : d.log) log += line + "\n";
  h.element("pre", log.empty() ? "(empty)" : log, {{"id", "log"}});
  return page("Job " + std::to_string(j.id) + " (" + j.job_type + ", " + status_name(j.status) + ")",
              h.str(), "/jobs");
}

// ---- Error reports and runs ---------------------------------------------------------

std::string error_reports_page(pg::Transaction& tx, const View& view, const Query& query) {
  const auto type = nonempty(query, "type");
  if (type) find_type(tx, *type);
  const auto reports = pg::find_error_reports(tx, {.job_type = type, .limit = kListLimit});
  Html h;
  message(h, view);
  h.element("p", "The newest " + std::to_string(kListLimit) + " error reports (OOPSes)" +
                     (type ? " of type " + *type : std::string()) + ".",
            {{"class", "muted"}});
  table_head(h, {"OOPS", "FILED", "JOB", "TYPE", "MESSAGE"});
  for (const auto& r : reports) {
    h.raw("<tr>");
    cell(h, "OOPS-" + std::to_string(r.id));
    cell(h, format_time(r.date_created));
    h.open("td");
    if (r.job) {
      h.link(job_href(*r.job), std::to_string(*r.job));
    } else {
      h.text("-");
    }
    h.close("td");
    cell(h, r.error_type);
    cell(h, r.message);
    h.raw("</tr>");
  }
  h.raw("</tbody></table>");
  if (reports.empty()) h.element("p", "No error report.");
  return page("Error reports", h.str(), "/oops");
}

std::string runs_page(pg::Transaction& tx, const View& view, const Query& query) {
  const auto type = nonempty(query, "type");
  if (type) find_type(tx, *type);
  const auto runs = pg::list_runner_runs(tx, type, kListLimit);
  Html h;
  message(h, view);
  h.element("p", "The newest " + std::to_string(kListLimit) +
                     " runs. A run without an end is alive while it is seen within " +
                     format_duration(pg::kRunnerAliveWithin) +
                     " (its lease keeper refreshes LAST SEEN every " +
                     format_duration(pg::kRunnerSeenInterval) + " at least).",
            {{"class", "muted"}});
  runs_table(h, runs, true);
  if (runs.empty()) h.element("p", "No run is recorded.");
  return page("Runner runs", h.str(), "/runs");
}

// ---- Login and errors ---------------------------------------------------------------

std::string login_page(const std::string& error) {
  Html h;
  if (!error.empty()) h.element("div", error, {{"class", "err"}});
  h.element("p", "This dashboard needs a token (jobctl web --token-file). It is kept in a "
                 "cookie of this browser for the session.");
  h.open("form", {{"method", "post"}, {"action", "/login"}});
  h.raw("<label>token ");
  h.open("input", {{"type", "password"}, {"name", "token"}, {"size", "40"}, {"autofocus", "autofocus"}});
  h.raw("</label> ");
  h.element("button", "Log in", {{"type", "submit"}});
  h.close("form");
  return page("Log in", h.str(), "");
}

std::string error_page(const std::string& title, const std::string& message) {
  Html h;
  h.element("div", message, {{"class", "err"}, {"id", "error"}});
  h.open("p").link("/", "Back to the overview").close("p");
  return page(title, h.str(), "");
}

}  // namespace jobrunner::jobctl::web
