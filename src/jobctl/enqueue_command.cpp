// jobctl enqueue: one job from options, or many from JSON lines.
#include <charconv>
#include <fstream>
#include <iostream>
#include <limits>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "common.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/pg/admin.hpp"
#include "jobrunner/pg/job_store.hpp"

namespace jobrunner::jobctl {
namespace {

constexpr int kMinPriority = std::numeric_limits<std::int16_t>::min();
constexpr int kMaxPriority = std::numeric_limits<std::int16_t>::max();

struct EnqueueOptions {
  std::string type;
  std::optional<std::int64_t> target;
  std::optional<std::string> json;
  std::optional<std::string> at;
  std::optional<std::string> in;
  std::optional<int> max_retries;
  int priority = 0;
  std::optional<std::string> requester;
  std::optional<std::string> reason;
  std::optional<std::string> from;
  // The type's own flag (--foo ID for foo), an alias of --target: jobctl
  // learns the type's target column from the registry, after parsing.
  std::optional<std::pair<std::string, std::string>> target_flag;  // "foo", "42"
};

// The arguments CLI11 did not know: at most one --NAME ID (or --NAME=ID),
// the type's own flag. Anything else is a usage error.
std::optional<std::pair<std::string, std::string>> target_flag_of(
    const std::vector<std::string>& extras) {
  if (extras.empty()) return std::nullopt;
  // CLI11 may hand the flag and its value over in either order.
  std::vector<std::string> flags, values;
  for (const auto& e : extras) (e.starts_with("--") && e.size() > 2 ? flags : values).push_back(e);
  if (flags.size() == 1 && flags.front()[2] != '-') {
    const auto& flag = flags.front();
    const auto eq = flag.find('=');
    if (eq != std::string::npos && values.empty()) {
      return std::pair(flag.substr(2, eq - 2), flag.substr(eq + 1));
    }
    if (eq == std::string::npos && values.size() == 1) return std::pair(flag.substr(2), values[0]);
  }
  // Not one --NAME ID: say which part is wrong. (CLI::ExtrasError(vector)
  // would list the arguments backwards, and the type is not known yet.)
  const auto join = [](const std::vector<std::string>& parts, const std::string& between) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : between) + p;
    return out;
  };
  const std::string own_flag =
      "the type's own flag --<target column> ID, such as --foo ID for foo, is an alias of "
      "--target";
  std::string why;
  if (flags.size() > 1) {
    why = "more than one target or unknown option: " + join(flags, ", ") + " (give one target; " +
          own_flag + ")";
  } else if (flags.size() == 1 && values.empty()) {
    why = "unknown option " + flags.front() + ", or a target flag without its ID (" + own_flag +
          "; see --help)";
  } else if (flags.size() == 1) {
    // --foo 1 2, or --foo=1 2
    const auto& flag = flags.front();
    const auto eq = flag.find('=');
    auto ids = values;
    if (eq != std::string::npos) ids.insert(ids.begin(), flag.substr(eq + 1));
    why = flag.substr(0, eq) + " takes one ID, not " + std::to_string(ids.size()) + ": " +
          join(ids, " ");
  } else {
    why = std::string(values.size() > 1 ? "The following arguments were not expected: "
                                         : "The following argument was not expected: ") +
          join(values, " ") + " (the target is --target ID; " + own_flag + ")";
  }
  throw CLI::ExtrasError(why, CLI::ExitCodes::ExtrasError);
}

// The target of --NAME ID, once the type is known: NAME must be the type's
// target column (--foo for foo). A type without a table takes no target.
std::int64_t target_from_flag(const std::pair<std::string, std::string>& flag,
                              const pg::RegisteredType& type) {
  const auto& [name, value] = flag;
  if (!type.has_table() || name != type.spec.target_column) {
    throw CLI::ExtrasError(
        "The following arguments were not expected: --" + name + " " + value + " (job type " +
            type.spec.name +
            (type.has_table() ? " takes --target ID or --" + type.spec.target_column + " ID"
                              : " has no table of its own, so its jobs take no target") +
            ")",
        CLI::ExitCodes::ExtrasError);
  }
  std::int64_t id = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), id);
  if (error != std::errc{} || end != value.data() + value.size()) {
    throw CLI::ConversionError("--" + name + ": ID must be an integer, not '" + value + "'");
  }
  return id;
}

// One job to enqueue, before its times are resolved.
struct Item {
  int line = 0;  // 0: from the command line
  pg::EnqueueRequest request;
  std::optional<std::string> at;
  std::optional<Duration> in;
};

Item item_from_options(const EnqueueOptions& o) {
  Item item;
  item.request.target_id = o.target;
  item.request.metadata = parse_metadata(o.json.value_or("{}"));
  item.request.max_retries = o.max_retries;
  item.request.priority = o.priority;
  item.request.requester = o.requester;
  item.request.reason = o.reason;
  item.at = o.at;
  if (o.in) item.in = parse_duration(*o.in);
  return item;
}

// A line such as {"foo": 12, "json": {...}, "in": "5m", "priority": 0} (no
// target for a type without a table). The command line's options are the
// defaults of every line.
Item item_from_line(const std::string& text, int number, const JobTypeSpec& spec,
                    const EnqueueOptions& defaults) {
  const std::string where = "line " + std::to_string(number) + ": ";
  auto fail = [&](const std::string& why) -> BadInput { return BadInput(where + why); };
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw fail("not valid JSON: " + std::string(e.what()));
  }
  const std::string target_keys =
      spec.has_table() ? "\"" + spec.target_column + "\" or \"target\", " : "";
  if (!value.is_object()) {
    throw fail(std::string("expected a JSON object like ") +
               (spec.has_table() ? "{\"" + spec.target_column + "\": 12}" : "{\"json\": {}}") +
               ", not " + std::string(value.type_name()));
  }
  Item item;
  item.line = number;
  item.request.max_retries = defaults.max_retries;
  item.request.priority = defaults.priority;
  item.request.requester = defaults.requester;
  item.request.reason = defaults.reason;
  item.at = defaults.at;
  if (defaults.in) item.in = parse_duration(*defaults.in);
  bool has_target = false;
  bool has_time = false;
  auto integer = [&](const nlohmann::json& v, const std::string& key) -> std::int64_t {
    if (!v.is_number_integer()) {
      throw fail("\"" + key + "\" must be an integer, not " + std::string(v.type_name()));
    }
    return v.get<std::int64_t>();
  };
  auto text_or_null = [&](const nlohmann::json& v,
                          const std::string& key) -> std::optional<std::string> {
    if (v.is_null()) return std::nullopt;
    if (!v.is_string()) {
      throw fail("\"" + key + "\" must be a string, not " + std::string(v.type_name()));
    }
    return v.get<std::string>();
  };
  for (const auto& [key, v] : value.items()) {
    if (spec.has_table() && (key == "target" || key == spec.target_column)) {
      if (has_target) throw fail("give \"" + spec.target_column + "\" or \"target\", not both");
      has_target = true;
      item.request.target_id = integer(v, key);
    } else if (key == "json") {
      if (!v.is_object()) {
        throw fail("\"json\" must be a JSON object, not " + std::string(v.type_name()));
      }
      item.request.metadata = v;
    } else if (key == "at" || key == "in") {
      if (has_time) throw fail("give \"at\" or \"in\", not both");
      has_time = true;
      const auto t = text_or_null(v, key);
      item.at.reset();
      item.in.reset();
      if (!t) continue;
      if (key == "at") {
        item.at = t;
      } else {
        try {
          item.in = parse_duration(*t);
        } catch (const BadInput& e) {
          throw fail("\"in\": " + std::string(e.what()));
        }
      }
    } else if (key == "priority") {
      const auto p = integer(v, key);
      if (p < kMinPriority || p > kMaxPriority) {
        throw fail("\"priority\" must be between " + std::to_string(kMinPriority) + " and " +
                   std::to_string(kMaxPriority));
      }
      item.request.priority = static_cast<int>(p);
    } else if (key == "max_retries") {
      const auto m = integer(v, key);
      if (m < 0 || m > std::numeric_limits<int>::max()) {
        throw fail("\"max_retries\" must be 0 or more");
      }
      item.request.max_retries = static_cast<int>(m);
    } else if (key == "requester") {
      item.request.requester = text_or_null(v, key);
    } else if (key == "reason") {
      item.request.reason = text_or_null(v, key);
    } else if (key == "target") {
      throw fail("job type '" + spec.name + "' has no table of its own, so its jobs take no "
                 "target: leave \"target\" out");
    } else {
      throw fail("unknown key \"" + key + "\" (use " + target_keys +
                 "\"json\", \"at\", \"in\", \"priority\", \"max_retries\", "
                 "\"requester\", \"reason\")");
    }
  }
  if (spec.has_table() && !has_target) throw fail("no \"" + spec.target_column + "\" (or \"target\"): which " +
                              spec.target_table + " is the job about?");
  return item;
}

std::vector<Item> read_lines(std::istream& in, const JobTypeSpec& spec,
                             const EnqueueOptions& defaults) {
  std::vector<Item> items;
  std::string text;
  int number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank
    items.push_back(item_from_line(text, number, spec, defaults));
  }
  if (in.bad()) throw BadInput("cannot read the input");
  return items;
}

int enqueue(pg::Connection& conn, EnqueueOptions o, bool json) {
  const auto type = find_type(conn, o.type);
  if (o.target_flag) o.target = target_from_flag(*o.target_flag, type);
  // Usage errors that only the type's registry row can tell.
  if (type.has_table() && !o.from && !o.target) {
    throw CLI::RequiredError("--target ID (or the type's own flag, --" +
                             type.spec.target_column + " ID), or --from FILE,");
  }
  if (!type.has_table() && o.target) {
    throw CLI::ValidationError("--target", "job type '" + type.spec.name +
                                               "' has no table of its own, so its jobs take no "
                                               "target: leave --target out");
  }
  std::vector<Item> items;
  if (o.from) {
    if (*o.from == "-") {
      items = read_lines(std::cin, type.spec, o);
    } else {
      std::ifstream file(*o.from);
      if (!file) throw BadInput("cannot open " + *o.from);
      items = read_lines(file, type.spec, o);
    }
    if (items.empty()) {
      throw BadInput("no jobs in " + (*o.from == "-" ? std::string("the input") : *o.from) +
                     ": expected one JSON object per line");
    }
  } else {
    items.push_back(item_from_options(o));
  }

  // All in one statement: every job is written, or (on any error) none.
  const pg::JobStore store(type.spec);
  auto tx = conn.begin();
  const auto where = [&](std::size_t index) {
    return items[index].line > 0 ? "line " + std::to_string(items[index].line) : std::string();
  };
  const std::string nothing = items.size() > 1 ? "; nothing was written" : "";
  std::vector<pg::EnqueueRequest> requests;
  requests.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto& item = items[i];
    try {
      if (item.in) {
        item.request.scheduled_start = pg::time_from_now(tx, *item.in);
      } else if (item.at) {
        item.request.scheduled_start = pg::resolve_time(tx, *item.at, item.line > 0 ? "\"at\"" : "--at",
                                                        /*durations_mean_ago=*/false);
      }
    } catch (const BadInput& e) {
      throw BadInput((item.line > 0 ? where(i) + ": " : "") + e.what() + nothing);
    }
    requests.push_back(item.request);
  }
  std::vector<std::int64_t> ids;
  try {
    ids = items.size() == 1 && items.front().line == 0
              ? std::vector<std::int64_t>{store.enqueue(tx, requests.front())}
              : store.enqueue_many(tx, requests, where);
  } catch (const BadInput& e) {
    throw BadInput(e.what() + nothing);
  } catch (const DuplicateJob& e) {
    throw DuplicateJob(e.what() + nothing);
  }
  tx.commit();

  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < ids.size(); ++i) {
      nlohmann::json entry = {{"id", ids[i]}};
      if (items[i].line > 0) entry["line"] = items[i].line;
      out.push_back(entry);
    }
    print_json(out);
  } else {
    for (const auto id : ids) std::cout << id << '\n';
  }
  if (ids.size() == 1 && items.front().request.target_id) {
    spdlog::info("enqueued {} {} for {} {}", type.spec.display_name, ids.front(),
                 type.spec.target_table, *items.front().request.target_id);
  } else if (ids.size() == 1) {
    spdlog::info("enqueued {} {}", type.spec.display_name, ids.front());
  } else {
    spdlog::info("enqueued {} {}s", ids.size(), type.spec.display_name);
  }
  return exit_code::ok;
}

}  // namespace

void add_enqueue_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<EnqueueOptions>();
  auto* cmd = app.add_subcommand(
      "enqueue",
      "Create one job of TYPE about a target (for foo: --foo ID), or many from JSON lines "
      "(--from FILE, or --from - for stdin), all in one transaction. A type without a table "
      "of its own (a nightly report) takes no target: its job is only metadata (--json). "
      "Refused if a job of that type is already pending (WAITING, RUNNING, SUSPENDED) for the "
      "target (for a type without a target: at all), when the type has the one-pending rule. "
      "Prints the new job ids, one per line.");
  cmd->add_option("TYPE", o->type, "The job type, e.g. foo (one registered in the database)")
      ->required();
  // --foo ID and the like: the arguments CLI11 did not know, which reach
  // jobctl's main app (fallthrough; it allows extras for this command only).
  auto* target = cmd->add_option("--target", o->target,
                                 "The id of what the job is about (e.g. a foo), required for a "
                                 "type with a table of its own and refused for one without; "
                                 "the type's own flag, --<target column> (--foo ID for foo), "
                                 "is an alias")
                     ->type_name("ID");
  auto* json = cmd->add_option("--json", o->json, "Metadata for the job, a JSON object (default {})")
                   ->type_name("DATA");
  auto* at = cmd->add_option("--at", o->at,
                             "Do not start before TIME (ISO 8601, e.g. 2026-12-01T08:00:00Z)")
                 ->type_name("TIME");
  auto* in = cmd->add_option("--in", o->in, "Do not start before now + DURATION (e.g. 5m, 1h30m)")
                 ->check(app::duration_validator());
  at->excludes(in);
  cmd->add_option("--max-retries", o->max_retries,
                  "Retries after the first attempt (default: the type's)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--priority", o->priority, "Lower runs first")
      ->check(CLI::Range(kMinPriority, kMaxPriority))
      ->capture_default_str();
  cmd->add_option("--requester", o->requester, "Who asked (notified of user errors)")
      ->type_name("WHO");
  cmd->add_option("--reason", o->reason, "Why the job was requested")->type_name("WHY");
  auto* from = cmd->add_option(
                      "--from", o->from,
                      "Read jobs from FILE ('-': stdin), one JSON object per line; the options "
                      "above (but the target and --json) are the defaults of every line")
                   ->type_name("FILE")
                   ->check(CLI::Validator(
                       [](std::string& value) -> std::string {
                         if (value == "-") return {};
                         return CLI::ExistingFile(value);
                       },
                       "", "FILE or -"));
  from->excludes(target);
  from->excludes(json);
  cmd->add_flag("--json-output", ctx.json,
                "Print the new ids as JSON ([{\"id\": 17}], with \"line\" for --from)");
  cmd->footer(
      "\nA line of --from: {\"foo\": 12, \"json\": {\"work_ms\": 100}, \"in\": \"5m\", "
      "\"priority\": 0, \"max_retries\": 3, \"requester\": \"alice\", \"reason\": \"...\"}\n"
      "(\"target\" works for every type with a table; a type without one takes no target; "
      "\"at\": \"2026-12-01T08:00:00Z\" instead of \"in\"). "
      "Blank lines are skipped. A bad line is reported by its number and nothing is written.\n"
      "\nExamples:\n"
      "  jobctl enqueue foo --foo 42 --json '{\"work_ms\": 100}' --max-retries 5\n"
      "  jobctl enqueue foo --foo 43 --at 2026-12-01T08:00:00Z --requester alice\n"
      "  jobctl enqueue foo --target 44 --in 10m --priority -1\n"
      "  jobctl enqueue foo --from jobs.jsonl --requester nightly-import\n"
      "  printf '{\"foo\": 1}\\n{\"foo\": 2}\\n' | jobctl enqueue foo --from -\n"
      "  jobctl enqueue report --json '{\"period\": \"1d\"}'    # a type without a table");
  cmd->callback([&ctx, o, cmd] {
    auto extras = cmd->remaining();
    for (const auto& e : cmd->get_parent()->remaining()) extras.push_back(e);
    ctx.extras_taken = true;
    o->target_flag = target_flag_of(extras);
    const auto is_id = [](const std::string& text) {
      return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
    };
    if (o->target_flag && is_id(o->type) && !is_id(o->target_flag->second)) {
      // "enqueue --foo 12 foo": CLI11 took the id for TYPE.
      std::swap(o->type, o->target_flag->second);
    }
    if (o->target_flag) {
      const auto flag = "--" + o->target_flag->first;
      if (o->from) throw CLI::ExcludesError("--from", flag);
      if (o->target) throw CLI::ExcludesError("--target", flag);
    }
    ctx.action = [&ctx, o](pg::Connection& conn) { return enqueue(conn, *o, ctx.json); };
  });
}

}  // namespace jobrunner::jobctl
