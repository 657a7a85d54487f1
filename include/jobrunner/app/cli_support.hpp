#pragma once
// What every executable shares: the connection string, logging, and the
// mapping from errors to exit codes.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "jobrunner/core/duration.hpp"

namespace jobrunner::app {

// --db, else DATABASE_URL, else "" (libpq's own PG* variables and defaults).
// Also sets $PGCONNECT_TIMEOUT to kDefaultConnectTimeoutSeconds unless it
// is set: a connection attempt to a host that does not answer then gives up
// instead of waiting minutes for TCP (while a daemon could not stop). A
// connect_timeout in the conninfo still wins. Call before starting threads.
inline constexpr int kDefaultConnectTimeoutSeconds = 10;
std::string resolve_conninfo(const std::optional<std::string>& db_option);

// The test clock of schedules (docs/schedules.md#the-test-clock): the time
// in $JOBRUNNER_TEST_NOW (ISO 8601, e.g. 2026-01-05T10:00:00Z), or, when it
// is @PATH, the first line of file PATH, read at each call (so a test moves
// a daemon's clock by rewriting the file), which the schedule commands and
// ticks then take as "now" instead of the database's clock. Honoured only
// when JOBRUNNER_ALLOW_TEST_CLOCK=1 as well: set without it, ConfigError
// (exit 78), so that a stray variable in a production environment cannot
// move schedules; ConfigError too for a file that cannot be read or is
// empty. nullopt when unset or empty.
std::optional<std::string> test_clock_from_env();

// The SQLSTATE of a missing grant: run_guarded() turns it into exit 78; the
// schedule ticker into a warning.
inline constexpr std::string_view kInsufficientPrivilege = "42501";

// Adds --db with its help text.
void add_db_option(CLI::App& app, std::optional<std::string>& db);

struct LogOptions {
  std::string level = "info";   // trace, debug, info, warn, error, off
  std::string format = "text";  // text or json
};
// Adds --log-level and --log-format.
void add_log_options(CLI::App& app, LogOptions& options);
// Logs go to stderr; json writes one object per line with time, level,
// logger and msg.
void setup_logging(const std::string& logger_name, const LogOptions& options);

// CLI11 validators for DURATION options ("30s", "5m", "1h30m") and BYTES
// options ("512M"). The second form also refuses a duration below
// `minimum`; its message names the minimum and `why` (e.g. "heartbeats renew
// the lease every third of it"). CLI11 prefixes the option's name.
CLI::Validator duration_validator();
CLI::Validator duration_validator(Duration minimum, const std::string& why);
CLI::Validator byte_size_validator();

// Parses argv. Returns an exit code when the program should stop now: 0
// after --help or --version, 64 (usage) after printing a parse error.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

// Runs `body`, turning the error classes into their exit codes and a
// one-line message on stderr (through the logger).
int run_guarded(const std::function<int()>& body);

}  // namespace jobrunner::app
