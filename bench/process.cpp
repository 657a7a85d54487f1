#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "failure.hpp"

extern char** environ;

namespace jobrunner::bench {

bool ExitInfo::success() const { return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0; }

std::string ExitInfo::describe() const {
  if (WIFEXITED(wait_status)) return "exited with " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return "killed by signal " + std::to_string(WTERMSIG(wait_status)) + " (" +
           strsignal(WTERMSIG(wait_status)) + ")";
  }
  return "ended with wait status " + std::to_string(wait_status);
}

Process::Process(pid_t pid, int pidfd, std::filesystem::path stderr_path)
    : pid_(pid), pidfd_(pidfd), stderr_path_(std::move(stderr_path)) {}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_),
      pidfd_(other.pidfd_),
      stderr_path_(std::move(other.stderr_path_)),
      exit_(other.exit_) {
  other.pid_ = -1;
  other.pidfd_ = -1;
}

Process::~Process() {
  if (pid_ > 0 && !exit_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (pidfd_ >= 0) close(pidfd_);
}

Process Process::spawn(const std::vector<std::string>& argv, std::filesystem::path stderr_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw MeasureFailed("cannot start " + argv[0] + ": " + std::strerror(rc));
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return Process(pid, pidfd, std::move(stderr_path));
}

std::optional<ExitInfo> Process::poll() {
  if (exit_) return exit_;
  int status = 0;
  rusage usage{};
  const pid_t reaped = wait4(pid_, &status, WNOHANG, &usage);
  if (reaped == 0) return std::nullopt;
  if (reaped < 0) {
    throw MeasureFailed("cannot wait for process " + std::to_string(pid_) + ": " +
                        std::strerror(errno));
  }
  exit_ = ExitInfo{status, usage.ru_maxrss};
  return exit_;
}

std::optional<ExitInfo> Process::wait_for(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto info = poll()) return info;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (pidfd_ >= 0) {
      pollfd readable{pidfd_, POLLIN, 0};
      ::poll(&readable, 1, static_cast<int>(left.count()));
    } else {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(1)));
    }
  }
}

void Process::signal(int signal_number) const {
  if (pid_ > 0 && !exit_) kill(pid_, signal_number);
}

std::int64_t Process::peak_rss_kib() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) {
      std::istringstream fields(line.substr(6));
      std::int64_t kib = 0;
      if (fields >> kib) return kib;
    }
  }
  throw MeasureFailed("no VmHWM in /proc/" + std::to_string(pid_) + "/status (has it exited?)");
}

std::string Process::stderr_tail(std::size_t lines) const {
  std::ifstream in(stderr_path_);
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& kept : tail) out += "    | " + kept + "\n";
  if (out.empty()) out = "    (stderr empty)\n";
  return "  stderr of " + stderr_path_.string() + " (tail):\n" + out;
}

}  // namespace jobrunner::bench
