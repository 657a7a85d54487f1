#pragma once
// A child process of the bench (run-noop-jobs): started with posix_spawn,
// stdout to /dev/null, stderr to a file that is read back on failure.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace jobrunner::bench {

struct ExitInfo {
  int wait_status = 0;           // as from waitpid
  std::int64_t max_rss_kib = 0;  // peak RSS over its life (wait4's ru_maxrss)
  bool success() const;          // exited with 0
  std::string describe() const;  // "exited with 64", "killed by signal 9"
};

class Process {
 public:
  // Throws MeasureFailed when the program cannot be started.
  static Process spawn(const std::vector<std::string>& argv, std::filesystem::path stderr_path);
  // Kills (SIGKILL) and reaps a child still running, so none outlives a
  // failed measure.
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&&) = delete;

  pid_t pid() const noexcept { return pid_; }
  // The exit, once the child has exited (reaps it); nullopt while it runs.
  std::optional<ExitInfo> poll();
  // Waits up to `timeout` for the exit; nullopt if it still runs. The exit
  // is seen at once (a pidfd), which the idle-tick timing depends on.
  std::optional<ExitInfo> wait_for(std::chrono::milliseconds timeout);
  void signal(int signal_number) const;
  // VmHWM of /proc/PID/status: the peak RSS so far, in KiB, while it runs.
  std::int64_t peak_rss_kib() const;
  // The file its stderr goes to.
  const std::filesystem::path& stderr_path() const noexcept { return stderr_path_; }
  // The last `lines` lines of its stderr, for failure messages.
  std::string stderr_tail(std::size_t lines = 15) const;

 private:
  Process(pid_t pid, int pidfd, std::filesystem::path stderr_path);
  pid_t pid_ = -1;
  int pidfd_ = -1;  // -1 where pidfd_open is missing (kernel < 5.3): then we poll
  std::filesystem::path stderr_path_;
  std::optional<ExitInfo> exit_;
};

}  // namespace jobrunner::bench
