#include "command_job.hpp"

#include <sys/wait.h>

#include <algorithm>

#include "jobrunner/core/outcome.hpp"
#include "jobrunner/runtime/stop_signal.hpp"
#include "jobrunner/runtime/subprocess.hpp"

namespace jobrunner::command {
namespace {

std::string last_bytes(const std::string& text, std::size_t n) {
  return text.size() > n ? text.substr(text.size() - n) : text;
}

// "stdout (last 2048 of 10485760 bytes):\n...", or "" for a stream that
// wrote nothing.
std::string tail_section(const char* stream, const std::string& tail, std::uint64_t bytes) {
  if (bytes == 0) return {};
  const auto shown = last_bytes(tail, kLogTailBytes);
  std::string head = bytes > shown.size() ? "last " + std::to_string(shown.size()) + " of " +
                                                std::to_string(bytes) + " bytes"
                                          : std::to_string(bytes) + " bytes";
  std::string out = "\n" + std::string(stream) + " (" + head + "):\n" + shown;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// The last line of stdout if it is a JSON object; a line cut off by the
// kept tail (longer than kResultLineBytes) does not count.
std::optional<nlohmann::json> result_of(const ProcessRun& run) {
  std::string_view text = run.stdout_tail;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const auto newline = text.rfind('\n');
  if (newline == std::string_view::npos && run.stdout_bytes > run.stdout_tail.size()) {
    return std::nullopt;
  }
  auto line = newline == std::string_view::npos ? text : text.substr(newline + 1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.empty() || line.front() != '{') return std::nullopt;
  auto value = nlohmann::json::parse(line, nullptr, false);
  if (value.is_discarded() || !value.is_object()) return std::nullopt;
  return value;
}

// The last non-empty line the command wrote to stderr, shortened: the reason
// a user error gives its requester.
std::string last_stderr_line(const ProcessRun& run) {
  std::string_view text = run.stderr_tail;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const auto newline = text.rfind('\n');
  auto line = std::string(newline == std::string_view::npos ? text : text.substr(newline + 1));
  constexpr std::size_t kMax = 300;
  if (line.size() > kMax) line = line.substr(0, kMax) + "...";
  return line;
}

}  // namespace

void CommandJob::perform() {
  const auto invocation = allowlist_.invocation(job().metadata);  // UserError: nothing runs
  const auto& command = *invocation.command;
  const std::string name = "command '" + command.name + "'";

  ProcessSpec spec;
  spec.executable = command.executable;
  spec.argv = invocation.argv;
  spec.environment = command.environment;
  spec.environment.push_back("JOBRUNNER_JOB_ID=" + std::to_string(job().id));
  spec.environment.push_back("JOBRUNNER_ATTEMPT=" + std::to_string(job().attempt_count));
  spec.working_directory = command.working_directory;
  spec.credentials = command.credentials;
  spec.memory_limit = command.memory_limit;
  spec.kill_grace = command.kill_grace;
  spec.tail_bytes = kResultLineBytes;
  // The runner's --job-timeout ends it too, when that comes first.
  Duration timeout = command.timeout;
  bool runners_timeout = false;
  if (const auto by = deadline()) {
    const auto left =
        std::chrono::duration_cast<Duration>(*by - std::chrono::steady_clock::now());
    runners_timeout = left < timeout;
    timeout = std::clamp(left, Duration::zero(), timeout);
  }
  spec.timeout = timeout;
  // The attempt is abandoned (its lease lost): end the command now. A
  // stopping runner lets it run: the running jobs have --grace to finish,
  // and the command's group is killed with the runner's children after it.
  spec.stop = [this] { return stop_requested() && !jobrunner::stop_requested(); };

  const auto run = run_process(spec);

  std::string how = run.start_error ? "could not be started: " + *run.start_error
                                    : describe_wait_status(run.wait_status);
  if (run.timed_out) {
    how = (runners_timeout ? std::string("reached the runner's --job-timeout")
                           : "timed out after " + format_duration(timeout)) +
          " and was " + how;
  }
  add_log("\n" + name + " (" + command.executable + ", pid " + std::to_string(run.pid) + ") " +
          how + tail_section("stdout", run.stdout_tail, run.stdout_bytes) +
          tail_section("stderr", run.stderr_tail, run.stderr_bytes));
  if (auto result = result_of(run)) set_result(std::move(*result));

  if (run.start_error) throw CommandFailed(name + " " + how);
  if (run.stopped) throw RetryError(name + " was stopped: the attempt's lease was lost");
  CommandOutcome outcome = CommandOutcome::error;
  if (run.timed_out) {
    outcome = command.on_timeout;
  } else if (WIFSIGNALED(run.wait_status)) {
    outcome = command.on_signal;
  } else if (WIFEXITED(run.wait_status)) {
    outcome = command.outcome_of_exit(WEXITSTATUS(run.wait_status));
  }
  const std::string message = name + " " + how;
  switch (outcome) {
    case CommandOutcome::completed:
      return;
    case CommandOutcome::retry:
      throw RetryError(message);
    case CommandOutcome::user_error: {
      const auto reason = last_stderr_line(run);
      throw UserError(reason.empty() ? message : message + ": " + reason);
    }
    case CommandOutcome::suspend:
      throw SuspendJob(message);
    case CommandOutcome::error:
      throw CommandFailed(message);
  }
}

nlohmann::json CommandJob::oops_vars() const {
  auto vars = RunnableJob::oops_vars();
  const auto& meta = job().metadata;
  if (meta.is_object() && meta.contains("command")) vars["command"] = meta["command"];
  return vars;
}

JobTypeSpec command_job_spec() {
  return JobTypeSpec{
      .name = "command",
      .display_name = "CommandJob",
      // No table, target column, target table or type code: the metadata
      // is in job.json_data.
      .retry = RetryPolicy{.retry_delay = std::chrono::minutes(1)},
      .lease = std::chrono::minutes(5),
      .default_max_retries = 3,
      // Many command jobs may be pending at once.
      .one_pending_per_target = false,
      .batch_completions = true,
  };
}

JobType command_job_type(std::function<const Allowlist&()> allowlist) {
  return JobType{
      command_job_spec(),
      [allowlist = std::move(allowlist)](Job job) -> std::unique_ptr<RunnableJob> {
        return std::make_unique<CommandJob>(std::move(job), allowlist());
      },
  };
}

}  // namespace jobrunner::command
