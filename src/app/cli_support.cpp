#include "jobrunner/app/cli_support.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/core/byte_size.hpp"
#include "jobrunner/core/duration.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/runtime/job_log_fields.hpp"

namespace jobrunner::app {
namespace {

// One JSON object per line; nlohmann escapes the message properly, which a
// spdlog pattern would not.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::json line = {
        {"time", format_time(std::chrono::time_point_cast<TimePoint::duration>(msg.time))},
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"logger", std::string(msg.logger_name.data(), msg.logger_name.size())},
        {"pid", static_cast<int>(getpid())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())},
    };
    if (const auto* job = current_job_log_fields()) {
      line["job_id"] = job->id;
      line["job_type"] = std::string(job->type);
      line["attempt"] = job->attempt;
    }
    const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// SQLSTATEs that mean the installation, not the input, is wrong (and
// kInsufficientPrivilege, cli_support.hpp).
constexpr std::string_view kUndefinedTable = "42P01";
constexpr std::string_view kUndefinedColumn = "42703";

}  // namespace

std::string resolve_conninfo(const std::optional<std::string>& db_option) {
  setenv("PGCONNECT_TIMEOUT", std::to_string(kDefaultConnectTimeoutSeconds).c_str(),
         /*overwrite=*/0);
  if (db_option) return *db_option;
  if (const char* url = std::getenv("DATABASE_URL"); url != nullptr && *url != '\0') return url;
  return "";
}

std::optional<std::string> test_clock_from_env() {
  const char* now = std::getenv("JOBRUNNER_TEST_NOW");
  if (now == nullptr || *now == '\0') return std::nullopt;
  const char* allow = std::getenv("JOBRUNNER_ALLOW_TEST_CLOCK");
  if (allow == nullptr || std::string_view(allow) != "1") {
    throw ConfigError(std::string("JOBRUNNER_TEST_NOW is set (") + now +
                      ") but the test clock is for tests only: set JOBRUNNER_ALLOW_TEST_CLOCK=1 "
                      "as well to use it, or unset JOBRUNNER_TEST_NOW");
  }
  if (*now != '@') return std::string(now);
  const std::string path = now + 1;
  std::ifstream file(path);
  std::string line;
  if (!file || !std::getline(file, line) || line.find_first_not_of(" \t\r") == std::string::npos) {
    throw ConfigError("JOBRUNNER_TEST_NOW names the file " + path +
                      ", which cannot be read or whose first line is empty");
  }
  return line;
}

void add_db_option(CLI::App& app, std::optional<std::string>& db) {
  app.add_option("--db", db,
                 "PostgreSQL connection: a libpq key=value string or a postgresql:// URI. "
                 "Default: $DATABASE_URL, else libpq's PGHOST, PGPORT, PGDATABASE, PGUSER, "
                 "PGPASSWORD (or ~/.pgpass) and defaults. Connecting gives up after " +
                     std::to_string(kDefaultConnectTimeoutSeconds) +
                     " s unless connect_timeout or $PGCONNECT_TIMEOUT says otherwise")
      ->type_name("CONNINFO");
}

void add_log_options(CLI::App& app, LogOptions& options) {
  app.add_option("--log-level", options.level, "Least severe level logged")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", options.format,
                 "text: one readable line per event; json: one JSON object per line")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

void setup_logging(const std::string& logger_name, const LogOptions& options) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(logger_name, sink);
  if (options.format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %-7l %n[%P] %v", spdlog::pattern_time_type::utc));
  }
  logger->set_level(spdlog::level::from_str(options.level));
  logger->flush_on(spdlog::level::trace);  // cron logs must survive a kill -9
  spdlog::set_default_logger(logger);
}

namespace {

// A validator that accepts what `parse` accepts and reports its message.
template <typename Parse>
CLI::Validator validator_of(Parse parse, const std::string& type_name) {
  return CLI::Validator(
      [parse](std::string& value) -> std::string {
        try {
          parse(value);
          return {};
        } catch (const BadInput& e) {
          return e.what();
        }
      },
      type_name);
}

}  // namespace

CLI::Validator duration_validator() {
  return validator_of([](const std::string& v) { return parse_duration(v); }, "DURATION");
}

CLI::Validator duration_validator(Duration minimum, const std::string& why) {
  return validator_of(
      [minimum, why](const std::string& v) {
        const auto duration = parse_duration(v);
        if (duration < minimum) {
          throw BadInput(v + " is below the minimum of " + format_duration(minimum) + " (" +
                         why + ")");
        }
        return duration;
      },
      "DURATION");
}

CLI::Validator byte_size_validator() {
  return validator_of([](const std::string& v) { return parse_byte_size(v); }, "BYTES");
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": " << e.what() << "\nRun with --help for usage.\n";
    return exit_code::usage;
  }
}

int run_guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const DatabaseUnavailable& e) {
    spdlog::error("database unavailable: {}", e.what());
    return exit_code::temp_failure;
  } catch (const ConfigError& e) {
    spdlog::error("configuration error: {}", e.what());
    return exit_code::config;
  } catch (const BadInput& e) {
    spdlog::error("bad input: {}", e.what());
    return exit_code::data_error;
  } catch (const DuplicateJob& e) {
    spdlog::error("refused: {}", e.what());
    return exit_code::data_error;
  } catch (const NotFound& e) {
    spdlog::error("not found: {}", e.what());
    return exit_code::data_error;
  } catch (const InvalidTransition& e) {
    spdlog::error("refused: {}", e.what());
    return exit_code::data_error;
  } catch (const pg::SqlError& e) {
    if (e.sqlstate() == kUndefinedTable || e.sqlstate() == kUndefinedColumn) {
      spdlog::error("the database schema is missing or out of date ({}): run 'jobctl db upgrade'",
                    e.what());
      return exit_code::config;
    }
    if (e.sqlstate() == kInsufficientPrivilege) {
      spdlog::error("{}: connect as a role that has the grants of sql/security.cfg, or run "
                    "'jobctl db permissions'",
                    e.what());
      return exit_code::config;
    }
    spdlog::error("internal error: {} (SQLSTATE {})", e.what(), e.sqlstate());
    return exit_code::software;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return exit_code::software;
  }
}

}  // namespace jobrunner::app
