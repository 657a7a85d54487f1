#include "child_process.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <spdlog/details/console_globals.h>

#include "jobrunner/pg/connection.hpp"

namespace jobrunner {
namespace {

constexpr std::size_t kStderrTail = 4096;

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

[[noreturn]] void child_main(const std::function<std::string()>& body, const ChildLimits& limits,
                             int report_fd, int stderr_fd) {
  setpgid(0, 0);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  dup2(stderr_fd, STDERR_FILENO);
  close(stderr_fd);
  // Every other descriptor goes: with several jobs at once, a sibling's
  // pipes would otherwise stay open here and the parent would see their end
  // of file only when this child ends. (The parent's database sockets are
  // only closed, never shut down, so its connections are unharmed.)
  if (report_fd > 3) close_range(3, static_cast<unsigned>(report_fd) - 1, 0);
  close_range(static_cast<unsigned>(report_fd) + 1, ~0U, 0);
  if (limits.memory_limit) {
    const rlimit limit{*limits.memory_limit, *limits.memory_limit};
    setrlimit(RLIMIT_AS, &limit);
  }
  std::string report;
  try {
    report = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isolated job: uncaught exception: %s\n", e.what());
    std::fflush(stderr);
    _exit(70);
  }
  write_all(report_fd, report);
  close(report_fd);
  std::fflush(stderr);
  // _exit: the parent's objects (its connection above all) must not be
  // destroyed or flushed from here.
  _exit(0);
}

// fork() copies only the calling thread. A lock another thread (the lease
// keeper, another worker) held at that moment would stay locked forever in
// the child; so the locks a child may need are taken around every fork():
// the console lock of spdlog's stderr sinks (the child logs through them),
// and the pg layer's connect lock (a child connects to the database).
void lock_for_fork() {
  pg::lock_connecting();
  spdlog::details::console_mutex::mutex().lock();
}
void unlock_after_fork() {
  spdlog::details::console_mutex::mutex().unlock();
  pg::unlock_connecting();
}

}  // namespace

ChildResult run_in_child(const std::function<std::string()>& body, const ChildLimits& limits,
                         const std::function<void(pid_t)>& started,
                         const std::function<void(std::string_view)>& on_stderr_line) {
  int report_pipe[2];
  int stderr_pipe[2];
  if (pipe2(report_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  if (pipe2(stderr_pipe, O_CLOEXEC) != 0) {
    close(report_pipe[0]);
    close(report_pipe[1]);
    throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  }
  static const int registered = pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork);
  (void)registered;
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    close(report_pipe[0]);
    close(stderr_pipe[0]);
    child_main(body, limits, report_pipe[1], stderr_pipe[1]);
  }
  close(report_pipe[1]);
  close(stderr_pipe[1]);
  started(pid);

  using Clock = std::chrono::steady_clock;
  const auto begun = Clock::now();
  std::optional<Clock::time_point> term_sent;
  bool kill_sent = false;
  ChildResult result;
  std::string report, line;
  pollfd fds[2] = {{report_pipe[0], POLLIN, 0}, {stderr_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    const int ready = poll(fds, 2, 50);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2 && ready > 0; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[4096];
      const auto n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      const std::string_view chunk(buffer, static_cast<std::size_t>(n));
      if (i == 0) {
        report.append(chunk);
        continue;
      }
      result.stderr_tail.append(chunk);
      if (result.stderr_tail.size() > kStderrTail) {
        result.stderr_tail.erase(0, result.stderr_tail.size() - kStderrTail);
      }
      for (char c : chunk) {
        if (c == '\n') {
          on_stderr_line(line);
          line.clear();
        } else {
          line.push_back(c);
        }
      }
    }
    const auto now = Clock::now();
    if (limits.timeout && !term_sent && now - begun >= *limits.timeout) {
      result.timed_out = true;
      term_sent = now;
      kill(pid, SIGTERM);
    }
    if (term_sent && !kill_sent && now - *term_sent >= limits.kill_grace) {
      kill_sent = true;
      kill(pid, SIGKILL);
    }
    if (!kill_sent && limits.abandon && limits.abandon()) {
      result.abandoned = true;
      kill_sent = true;
      kill(pid, SIGKILL);
    }
  }
  if (!line.empty()) on_stderr_line(line);
  for (const auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  while (waitpid(pid, &result.wait_status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(result.wait_status) && WEXITSTATUS(result.wait_status) == 0 && !report.empty()) {
    result.report = std::move(report);
  }
  return result;
}

std::string describe_wait_status(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  return "ended with wait status " + std::to_string(wait_status);
}

}  // namespace jobrunner
