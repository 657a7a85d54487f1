#pragma once
// The allowlist of run-command-jobs (docs/command-jobs.md): the commands a
// CommandJob may run, read from a JSON file on the runner's host
// (--commands FILE). A job only names a command and gives values for the
// fields its arguments declare; everything else (the program, its fixed
// arguments, environment, directory, user, limits, and what its exit codes
// mean) is the file's. Nothing from a job ever reaches a shell.
//
// The contract:
// - Allowlist::load() reads and checks the whole file, or throws
//   ConfigError naming the file and the problem (a missing or unreadable
//   file, not JSON, an unknown key, a relative or missing executable or
//   directory, a bad regex or default, a placeholder without its field, a
//   user named while the runner is not root, an unknown user, ...): the
//   runner then exits 78 before it claims anything.
// - Allowlist::invocation() turns a job's metadata into what to run, or
//   throws UserError with a message that names the command and the field
//   (an unknown command or field, a missing one, a wrong type, a value too
//   long, holding a NUL or not matching its pattern): nothing runs then.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobrunner/core/duration.hpp"
#include "jobrunner/runtime/subprocess.hpp"

namespace jobrunner::command {

// The default allowlist file (--commands).
inline constexpr const char* kDefaultCommandsFile = "/etc/jobrunner/commands.json";

// What an ended command means for its job.
enum class CommandOutcome { completed, retry, user_error, suspend, error };

// A value a job may give for a placeholder.
struct Field {
  enum class Type { string, integer, boolean };
  Type type = Type::string;
  std::size_t max_length = 256;  // strings: at most this many characters
  std::optional<std::string> pattern_text;
  std::optional<std::regex> pattern;  // strings: must match the whole value
  std::optional<std::int64_t> min, max;  // integers
  std::optional<nlohmann::json> default_value;  // none: the field is required
};

// One piece of an argument: literal text, or a field's value.
struct ArgPiece {
  bool is_field = false;
  std::string text;  // the literal, or the field's name
};

struct Command {
  std::string name;
  std::string executable;
  std::vector<std::vector<ArgPiece>> args;  // each one argv element
  std::map<std::string, Field> fields;
  // "NAME=value": the env entries and the inherit_env variables found in the
  // runner's environment at load. JOBRUNNER_JOB_ID and JOBRUNNER_ATTEMPT are
  // added for each job.
  std::vector<std::string> environment;
  std::string working_directory = "/";
  std::optional<std::string> user;
  std::optional<ProcessCredentials> credentials;
  Duration timeout = std::chrono::hours(1);
  Duration kill_grace = std::chrono::seconds(5);
  std::optional<std::uint64_t> memory_limit;
  // Exit status → outcome; the rest as below.
  std::map<int, CommandOutcome> exit_codes;
  CommandOutcome other_exit = CommandOutcome::error;
  CommandOutcome on_signal = CommandOutcome::error;
  CommandOutcome on_timeout = CommandOutcome::error;

  CommandOutcome outcome_of_exit(int status) const;
};

// What one job runs: the command and its argv (argv[0] = the executable).
struct Invocation {
  const Command* command = nullptr;
  std::vector<std::string> argv;
};

class Allowlist {
 public:
  // The runner's identity decides whether a command may name a user: only a
  // runner running as root (euid 0) can switch to one.
  struct Host {
    uid_t euid = 0;
    // The runner's environment, for inherit_env.
    std::map<std::string, std::string> environment;
    static Host current();
  };

  // Reads and checks `path` (ConfigError otherwise). Warnings (a file others
  // may write, a command that will run as root) go to `warnings`.
  static Allowlist load(const std::string& path, const Host& host,
                        std::vector<std::string>* warnings = nullptr);
  // The same from the file's text (for tests); `path` names it in messages.
  static Allowlist parse(const std::string& text, const std::string& path, const Host& host,
                         std::vector<std::string>* warnings = nullptr);

  // The job's metadata {"command": NAME, "args": {FIELD: VALUE, ...}} as
  // what to run; UserError otherwise.
  Invocation invocation(const nlohmann::json& metadata) const;

  const std::string& path() const noexcept { return path_; }
  const std::map<std::string, Command>& commands() const noexcept { return commands_; }

 private:
  std::string path_;
  std::map<std::string, Command> commands_;
};

const char* to_string(CommandOutcome outcome);

}  // namespace jobrunner::command
