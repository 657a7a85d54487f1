// jobctl schedule add | list | show | pause | resume | remove | next | tick:
// recurring schedules (docs/schedules.md), kept in job_schedule.
#include <iostream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "common.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/app/schedule_ticker.hpp"
#include "jobrunner/core/cron_schedule.hpp"
#include "jobrunner/pg/schedules.hpp"
#include "table.hpp"

namespace jobrunner::jobctl {
namespace {

using std::chrono::sys_seconds;

// "2026-01-06 00:00:00+01:00 CET (2026-01-05T23:00:00Z)"
std::string both_times(const TimeZone& zone, sys_seconds at) {
  if (zone == TimeZone::utc()) return format_instant(at);
  return zone.format(at) + " (" + format_instant(at) + ")";
}

// The zone of a schedule, or UTC when the system's tzdata lost it.
TimeZone zone_of(const pg::Schedule& s) {
  try {
    return TimeZone::named(s.time_zone);
  } catch (const BadSchedule&) {
    return TimeZone::utc();
  }
}

std::string last_outcome(const pg::Schedule& s) {
  if (!s.last_occurrence) return "-";
  std::string out = format_instant(*s.last_occurrence);
  if (s.last_job) return out + " job " + std::to_string(*s.last_job);
  if (s.last_skipped) return out + " skipped";
  return out + " (job pruned)";
}

std::string target_text(const std::optional<std::int64_t>& target) {
  return target ? std::to_string(*target) : "-";
}

nlohmann::json schedule_json(const pg::Schedule& s) {
  return {{"id", s.id},
          {"name", s.name},
          {"job_type", s.job_type},
          {"target", or_null(s.target)},
          {"metadata", s.metadata},
          {"priority", or_null(s.priority)},
          {"max_retries", or_null(s.max_retries)},
          {"cron", s.cron},
          {"time_zone", s.time_zone},
          {"misfire", std::string(to_string(s.misfire))},
          {"misfire_limit", s.misfire_limit},
          {"misfire_grace", format_duration(s.misfire_grace)},
          {"paused", s.paused},
          {"next_due", format_instant(s.next_due)},
          {"last_occurrence",
           s.last_occurrence ? nlohmann::json(format_instant(*s.last_occurrence)) : nullptr},
          {"last_job", or_null(s.last_job)},
          {"last_skipped", or_null(s.last_skipped)},
          {"date_created", format_time(s.date_created)},
          {"date_updated", format_time(s.date_updated)}};
}

nlohmann::json occurrence_json(const pg::OccurrenceRecord& o) {
  return {{"occurs_at", format_instant(o.occurs_at)},
          {"job", or_null(o.job)},
          {"skipped", or_null(o.skipped)},
          {"date_recorded", format_time(o.date_recorded)}};
}

void print_schedule(const pg::Schedule& s, const std::vector<pg::OccurrenceRecord>& records) {
  const auto zone = zone_of(s);
  std::cout << "schedule " << s.name << " (id " << s.id << ")" << (s.paused ? ", PAUSED" : "")
            << "\n  type:            " << s.job_type
            << "\n  target:          " << target_text(s.target)
            << "\n  metadata:        " << s.metadata.dump()
            << "\n  priority:        " << (s.priority ? std::to_string(*s.priority) : "0")
            << "\n  max retries:     "
            << (s.max_retries ? std::to_string(*s.max_retries) : "the type's default")
            << "\n  cron:            " << s.cron << " in " << s.time_zone
            << "\n  misfire:         " << to_string(s.misfire) << " (limit " << s.misfire_limit
            << ", grace " << format_duration(s.misfire_grace) << ")"
            << "\n  next due:        "
            << (s.paused ? std::string("- (paused; resuming computes it from then)")
                         : both_times(zone, s.next_due))
            << "\n  last occurrence: " << last_outcome(s)
            << "\n  created:         " << format_time(s.date_created)
            << "\n  updated:         " << format_time(s.date_updated) << "\n";
  std::cout << "\nrecent occurrences (newest first):\n";
  if (records.empty()) {
    std::cout << "(none yet)\n";
    return;
  }
  Table table({"OCCURS AT", "JOB", "SKIPPED"});
  for (const auto& o : records) {
    table.add_row({format_instant(o.occurs_at), o.job ? std::to_string(*o.job) : "-",
                   o.skipped.value_or("-")});
  }
  table.print(std::cout);
}

struct AddOptions {
  std::string name;
  std::string type;
  std::optional<std::int64_t> target;
  std::optional<std::string> json;
  std::string cron;
  std::string zone = "UTC";
  std::string misfire = "once";
  int misfire_limit = 100;
  std::string misfire_grace = "5m";
  std::optional<int> priority;
  std::optional<int> max_retries;
  bool paused = false;
  bool due_now = false;
};

int add(pg::Connection& conn, const AddOptions& o, const pg::ScheduleClock& clock) {
  pg::NewSchedule n;
  n.name = o.name;
  n.job_type = o.type;
  n.target = o.target;
  if (o.json) n.metadata = parse_metadata(*o.json);
  n.priority = o.priority;
  n.max_retries = o.max_retries;
  n.cron = o.cron;
  n.time_zone = o.zone;
  n.misfire = parse_misfire_policy(o.misfire);
  n.misfire_limit = o.misfire_limit;
  n.misfire_grace = std::chrono::duration_cast<std::chrono::seconds>(parse_duration(o.misfire_grace));
  n.paused = o.paused;
  n.due_now = o.due_now;
  // The expression and zone first: they need no database.
  const auto cron = CronSchedule::parse(n.cron, n.time_zone);
  auto tx = conn.begin();
  find_type(tx, n.job_type);
  const auto s = pg::add_schedule(tx, n, clock);
  tx.commit();
  std::cout << "added schedule " << s.name << ": a " << s.job_type << " job"
            << (s.target ? " for target " + std::to_string(*s.target) : std::string()) << " at '"
            << s.cron << "' in " << s.time_zone << " (misfire " << to_string(s.misfire) << ")"
            << (s.paused ? ", paused" : "; next due " + both_times(cron.zone(), s.next_due))
            << "\n";
  spdlog::info("added schedule '{}' (type {}, '{}' in {})", s.name, s.job_type, s.cron,
               s.time_zone);
  return exit_code::ok;
}

void print_tick(const pg::TickResult& result, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : result.schedules) {
      nlohmann::json occurrences = nlohmann::json::array();
      for (const auto& o : s.occurrences) {
        occurrences.push_back({{"occurs_at", format_instant(o.at)},
                               {"catch_up", o.catch_up},
                               {"job", or_null(o.job)},
                               {"skipped", or_null(o.skipped)}});
      }
      out.push_back(
          {{"schedule", s.name},
           {"job_type", s.job_type},
           {"misfire", std::string(to_string(s.misfire))},
           {"occurrences", occurrences},
           {"left_out", s.left_out},
           {"left_out_at_least", s.left_out_at_least},
           {"left_out_first", s.left_out_first ? nlohmann::json(format_instant(*s.left_out_first)) : nullptr},
           {"left_out_last", s.left_out_last ? nlohmann::json(format_instant(*s.left_out_last)) : nullptr},
           {"next_due", s.next_due ? nlohmann::json(format_instant(*s.next_due)) : nullptr},
           {"error", or_null(s.error)}});
    }
    print_json({{"enqueued", result.enqueued()}, {"skipped", result.skipped()}, {"schedules", out}});
    return;
  }
  for (const auto& s : result.schedules) {
    if (s.error) {
      std::cout << s.name << ": cannot compute its occurrences: " << *s.error << "\n";
      continue;
    }
    for (const auto& o : s.occurrences) {
      std::cout << s.name << " " << format_instant(o.at) << ": "
                << (o.job ? "enqueued job " + std::to_string(*o.job) : "skipped: " + *o.skipped)
                << (o.catch_up ? caught_up_note(s.misfire) : "")
                << "\n";
    }
    if (s.left_out > 0) {
      std::cout << s.name << ": "
                << describe_left_out(s.left_out, s.left_out_at_least, *s.left_out_first,
                                     *s.left_out_last)
                << " (misfire policy " << to_string(s.misfire) << ")\n";
    }
    std::cout << s.name << ": next due " << format_instant(*s.next_due) << "\n";
  }
  std::cout << "enqueued " << result.enqueued() << " job" << (result.enqueued() == 1 ? "" : "s")
            << ", skipped " << result.skipped() << " occurrence"
            << (result.skipped() == 1 ? "" : "s") << " of " << result.schedules.size()
            << " due schedule" << (result.schedules.size() == 1 ? "" : "s") << "\n";
}

}  // namespace

void add_schedule_commands(CLI::App& app, Context& ctx) {
  auto* schedule = app.add_subcommand(
      "schedule",
      "Recurring jobs: schedules that enqueue a job of a type at each occurrence of a cron "
      "expression in a time zone, exactly once however many runners tick (docs/schedules.md)");
  schedule->require_subcommand(1);
  schedule->footer(
      "\nExamples:\n"
      "  jobctl schedule add nightly-report --type report --cron '30 2 * * *' --zone "
      "Europe/Berlin\n"
      "  jobctl schedule next nightly-report -n 5\n"
      "  jobctl schedule list\n"
      "  jobctl schedule tick");

  // ---- add
  auto a = std::make_shared<AddOptions>();
  auto* add_cmd = schedule->add_subcommand(
      "add",
      "Add a schedule. The cron expression and the zone are checked first, then the type, the "
      "target and the metadata with the enqueue's own rules; a refusal writes nothing. Its "
      "next due time is the first occurrence after now.");
  add_cmd->add_option("NAME", a->name,
                      "The schedule's name: lower case letters, digits, _, . and -")
      ->required();
  add_cmd->add_option("--type", a->type, "The job type it enqueues, e.g. report")
      ->type_name("TYPE")
      ->required();
  add_cmd->add_option("--target", a->target,
                      "What each job is about (the id in the type's target table, e.g. a foo); "
                      "required for a type with a table, refused for one without")
      ->type_name("ID");
  add_cmd->add_option("--json", a->json, "Each job's metadata, a JSON object")->type_name("META");
  add_cmd->add_option("--cron", a->cron,
                      "A cron expression: 5 fields (minute hour day-of-month month day-of-week) "
                      "or a macro such as @daily")
      ->type_name("EXPR")
      ->required();
  add_cmd->add_option("--zone", a->zone, "The IANA time zone whose wall clock it follows")
      ->type_name("ZONE")
      ->capture_default_str();
  add_cmd->add_option("--misfire", a->misfire,
                      "Occurrences missed while nothing ticked (more than --misfire-grace "
                      "late): skip none of them, once (one catch-up: the latest), or all "
                      "(every one, at most --misfire-limit)")
      ->type_name("POLICY")
      ->check(CLI::IsMember({"skip", "once", "all"}))
      ->capture_default_str();
  add_cmd->add_option("--misfire-limit", a->misfire_limit,
                      "With --misfire all: at most this many missed occurrences (the latest) "
                      "per tick, 1 to 10000")
      ->type_name("N")
      ->check(CLI::Range(1, pg::kMaxMisfireLimit))
      ->capture_default_str();
  add_cmd->add_option("--misfire-grace", a->misfire_grace,
                      "How late an occurrence may be at the tick and still be on time "
                      "(always enqueued), 0s to 1d")
      ->type_name("DURATION")
      ->check(app::duration_validator())
      ->capture_default_str();
  add_cmd->add_option("--priority", a->priority, "The jobs' priority, lower first (default 0)")
      ->type_name("N")
      ->check(CLI::Range(-32768, 32767));
  add_cmd->add_option("--max-retries", a->max_retries, "The jobs' max retries (default: the type's)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  auto* paused = add_cmd->add_flag("--paused", a->paused,
                                    "Add it paused (jobctl schedule resume starts it)");
  add_cmd->add_flag("--due-now", a->due_now,
                    "Make it due at once: its first occurrence is the latest at or before now "
                    "(within a year) instead of the next one, so the next tick enqueues it (on "
                    "time within --misfire-grace, otherwise as --misfire says)")
      ->excludes(paused);
  add_cmd->footer(
      "\nA bad expression or zone is refused with exit 65 and a message naming the field; so "
      "are an unknown type, a missing or unknown target, and a taken name.\n"
      "\nExamples:\n"
      "  jobctl schedule add nightly-report --type report --cron '30 2 * * *' --zone "
      "Europe/Berlin\n"
      "  jobctl schedule add polish-foo-7 --type foo --target 7 --json '{\"work_ms\": 100}' "
      "--cron '*/15 * * * *'\n"
      "  jobctl schedule add weekly --type report --cron @weekly --misfire all "
      "--misfire-limit 4\n"
      "  jobctl schedule add office-hours --type noop --target 1 --cron '0 9-17 * * mon-fri' "
      "--zone America/New_York --misfire skip\n"
      "  jobctl schedule add hourly-report --type report --cron @hourly --due-now && jobctl "
      "schedule tick    # one now, then hourly");
  add_cmd->callback([&ctx, a] {
    ctx.action = [a](pg::Connection& conn) { return add(conn, *a, app::test_clock_from_env()); };
  });

  // ---- list
  auto list_type = std::make_shared<std::optional<std::string>>();
  auto* list = schedule->add_subcommand(
      "list", "List the schedules: each one's next due time and its last occurrence");
  list->add_option("--type", *list_type, "Only the schedules of this job type")->type_name("TYPE");
  list->add_flag("--json", ctx.json, "Print a JSON array");
  list->footer("\nExamples:\n  jobctl schedule list\n  jobctl schedule list --type report --json");
  list->callback([&ctx, list_type] {
    ctx.action = [&ctx, list_type](pg::Connection& conn) {
      auto tx = conn.begin();
      if (*list_type) find_type(tx, **list_type);
      const auto schedules = pg::list_schedules(tx, *list_type);
      tx.commit();
      if (ctx.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& s : schedules) out.push_back(schedule_json(s));
        print_json(out);
        return exit_code::ok;
      }
      Table table({"NAME", "TYPE", "TARGET", "CRON", "ZONE", "MISFIRE", "NEXT DUE (UTC)",
                   "LAST OCCURRENCE"});
      for (const auto& s : schedules) {
        table.add_row({s.name, s.job_type, target_text(s.target), s.cron, s.time_zone,
                       std::string(to_string(s.misfire)),
                       s.paused ? "paused" : format_instant(s.next_due), last_outcome(s)});
      }
      table.print(std::cout);
      if (schedules.empty()) std::cout << "(no schedules)\n";
      return exit_code::ok;
    };
  });

  // ---- show
  struct ShowOptions {
    std::string name;
    int occurrences = 20;
  };
  auto sh = std::make_shared<ShowOptions>();
  auto* show = schedule->add_subcommand(
      "show", "Show a schedule: every field, and its recent occurrences (the jobs enqueued, "
              "and why others were skipped)");
  show->add_option("NAME", sh->name, "The schedule")->required();
  show->add_option("--occurrences", sh->occurrences, "How many recent occurrences to show")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  show->add_flag("--json", ctx.json, "Print a JSON object");
  show->footer("\nExamples:\n  jobctl schedule show nightly-report\n"
               "  jobctl schedule show nightly-report --occurrences 100 --json");
  show->callback([&ctx, sh] {
    ctx.action = [&ctx, sh](pg::Connection& conn) {
      auto tx = conn.begin();
      const auto s = pg::get_schedule(tx, sh->name);
      const auto records = pg::list_occurrences(tx, s.id, sh->occurrences);
      tx.commit();
      if (ctx.json) {
        auto out = schedule_json(s);
        out["occurrences"] = nlohmann::json::array();
        for (const auto& o : records) out["occurrences"].push_back(occurrence_json(o));
        print_json(out);
      } else {
        print_schedule(s, records);
      }
      return exit_code::ok;
    };
  });

  // ---- pause, resume, remove
  auto pause_name = std::make_shared<std::string>();
  auto* pause = schedule->add_subcommand(
      "pause", "Pause a schedule: no tick enqueues its occurrences until it is resumed");
  pause->add_option("NAME", *pause_name, "The schedule")->required();
  pause->footer("\nPausing a paused schedule is refused (exit 65).\n"
                "\nExample:\n  jobctl schedule pause nightly-report");
  pause->callback([&ctx, pause_name] {
    ctx.action = [pause_name](pg::Connection& conn) {
      auto tx = conn.begin();
      const auto s = pg::pause_schedule(tx, *pause_name);
      tx.commit();
      std::cout << "schedule " << s.name << " is paused\n";
      spdlog::info("paused schedule '{}'", s.name);
      return exit_code::ok;
    };
  });

  auto resume_name = std::make_shared<std::string>();
  auto* resume = schedule->add_subcommand(
      "resume",
      "Resume a paused schedule from now: its next due time is its first occurrence after "
      "now, so the occurrences that fell while it was paused are not enqueued (no backlog)");
  resume->add_option("NAME", *resume_name, "The schedule")->required();
  resume->footer("\nResuming a schedule that is not paused is refused (exit 65).\n"
                 "\nExample:\n  jobctl schedule resume nightly-report");
  resume->callback([&ctx, resume_name] {
    ctx.action = [resume_name](pg::Connection& conn) {
      const auto clock = app::test_clock_from_env();
      auto tx = conn.begin();
      const auto s = pg::resume_schedule(tx, *resume_name, clock);
      tx.commit();
      std::cout << "schedule " << s.name << " is resumed; next due "
                << both_times(zone_of(s), s.next_due) << "\n";
      spdlog::info("resumed schedule '{}'", s.name);
      return exit_code::ok;
    };
  });

  auto remove_name = std::make_shared<std::string>();
  auto* remove = schedule->add_subcommand(
      "remove", "Remove a schedule and its occurrence records; the jobs it enqueued stay");
  remove->add_option("NAME", *remove_name, "The schedule")->required();
  remove->footer("\nExample:\n  jobctl schedule remove nightly-report");
  remove->callback([&ctx, remove_name] {
    ctx.action = [remove_name](pg::Connection& conn) {
      auto tx = conn.begin();
      const auto records = pg::remove_schedule(tx, *remove_name);
      tx.commit();
      std::cout << "removed schedule " << *remove_name << " and its " << records
                << " occurrence record" << (records == 1 ? "" : "s")
                << "; its jobs are left as they are\n";
      spdlog::info("removed schedule '{}'", *remove_name);
      return exit_code::ok;
    };
  });

  // ---- next
  struct NextOptions {
    std::optional<std::string> name;
    std::optional<std::string> cron;
    std::string zone = "UTC";
    int count = 5;
  };
  auto nx = std::make_shared<NextOptions>();
  auto* next = schedule->add_subcommand(
      "next",
      "Print the next N occurrences of a schedule after now, in its zone and in UTC; or of an "
      "expression given with --cron (and --zone), to try one before adding it");
  next->add_option("NAME", nx->name, "The schedule");
  auto* next_cron =
      next->add_option("--cron", nx->cron, "An expression instead of a schedule")->type_name("EXPR");
  next->add_option("--zone", nx->zone, "With --cron: its time zone")
      ->type_name("ZONE")
      ->capture_default_str()
      ->needs(next_cron);
  next->add_option("-n,--count", nx->count, "How many")
      ->type_name("N")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  next->add_flag("--json", ctx.json, "Print a JSON array");
  next->footer("\nGive NAME or --cron, not both. A bad expression or zone: exit 65.\n"
               "\nExamples:\n  jobctl schedule next nightly-report -n 10\n"
               "  jobctl schedule next --cron '30 2 * * *' --zone Europe/Berlin -n 3");
  next->callback([&ctx, nx] {
    if (nx->name.has_value() == nx->cron.has_value()) {
      throw CLI::ValidationError("schedule next", "give a schedule NAME or --cron EXPR (not both)");
    }
    ctx.action = [&ctx, nx](pg::Connection& conn) {
      const auto clock = app::test_clock_from_env();
      auto tx = conn.begin();
      std::optional<CronSchedule> cron;
      if (nx->name) {
        cron = pg::get_schedule(tx, *nx->name).cron_schedule();
      } else {
        cron = CronSchedule::parse(*nx->cron, nx->zone);
      }
      const auto now = pg::schedule_now(tx, clock);
      tx.commit();
      const auto times = cron->next_n(now, static_cast<std::size_t>(nx->count));
      if (ctx.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto t : times) {
          out.push_back({{"utc", format_instant(t)}, {"local", cron->zone().format(t)}});
        }
        print_json(out);
        return exit_code::ok;
      }
      Table table({"LOCAL (" + cron->zone().name() + ")", "UTC"});
      for (const auto t : times) table.add_row({cron->zone().format(t), format_instant(t)});
      table.print(std::cout);
      return exit_code::ok;
    };
  });

  // ---- tick
  auto tick_types = std::make_shared<std::vector<std::string>>();
  auto* tick = schedule->add_subcommand(
      "tick",
      "Enqueue the due occurrences of every schedule (or of --type's) now, applying each "
      "one's misfire policy, and report what happened. Runners of the type tick their own "
      "schedules; this is for installations with no runner of the type, and for tests. Any "
      "number may run at once, on any hosts: each occurrence is enqueued once.");
  tick->add_option("--type", *tick_types,
                   "Only the schedules of this job type (repeat it for several)")
      ->type_name("TYPE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  tick->add_flag("--json", ctx.json, "Print the result as a JSON object");
  tick->footer(
      "\nNothing due is not an error (exit 0). A duplicate pending job is recorded as a skipped "
      "occurrence, with the reason, not an error.\n"
      "\nExamples:\n  jobctl schedule tick\n  jobctl schedule tick --type report --json\n"
      "  * * * * * jobctl schedule tick    (a crontab line)");
  tick->callback([&ctx, tick_types] {
    ctx.action = [&ctx, tick_types](pg::Connection& conn) {
      pg::TickRequest request;
      request.clock = app::test_clock_from_env();
      {
        auto tx = conn.begin();
        for (const auto& type : *tick_types) find_type(tx, type);
        tx.commit();
      }
      request.job_types = *tick_types;
      const auto result = pg::tick_schedules(conn, request);
      app::log_tick(result, false);
      spdlog::info("schedule tick: jobs enqueued: {}, occurrences skipped: {}, due schedules: {}",
                   result.enqueued(), result.skipped(), result.schedules.size());
      print_tick(result, ctx.json);
      return exit_code::ok;
    };
  });
}

}  // namespace jobrunner::jobctl
