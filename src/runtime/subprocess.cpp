#include "jobrunner/runtime/subprocess.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "child_signals.hpp"
#include "posix_fd.hpp"

namespace jobrunner {
namespace {

using Clock = std::chrono::steady_clock;
using posix::close_fd;
using posix::Pipe;

constexpr int kPollMs = 50;  // how often spec.stop() is asked
constexpr int kExecFailed = 127;

// The steps of the child before execve; a failure is reported by number.
enum class Step : int { setpgid, stdio, setrlimit, setgroups, setgid, setuid, deathsig, chdir, execve };
constexpr const char* kStepNames[] = {"setpgid", "redirect stdin/stdout/stderr", "setrlimit",
                                      "setgroups", "setgid", "setuid", "prctl", "chdir",
                                      "execve"};

struct StartFailure {
  int step;
  int error;
};

void check_text(const std::string& text, const char* what) {
  if (text.find('\0') != std::string::npos) {
    throw std::invalid_argument(std::string(what) + " holds a NUL byte");
  }
}

// An fd above 0..2, so that dup2 onto stdin, stdout and stderr in the child
// can never overwrite one of the others (a runner started with stdin closed
// gets fd 0 for its first pipe).
int above_stdio(int fd) {
  if (fd > STDERR_FILENO) return fd;
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  const int error = errno;
  close(fd);
  if (moved < 0) throw std::runtime_error("fcntl: " + std::string(strerror(error)));
  return moved;
}

// IN THE CHILD: reports why it could not exec, and ends.
[[noreturn]] void fail(int report_fd, Step step) {
  const StartFailure failure{static_cast<int>(step), errno};
  (void)!write(report_fd, &failure, sizeof failure);
  _exit(kExecFailed);
}

// IN THE CHILD, between fork and execve: async-signal-safe calls only (the
// runner has other threads, whose locks may be held). Never returns.
[[noreturn]] void exec_child(const ProcessSpec& spec, char* const* argv, char* const* envp,
                             pid_t parent, int null_fd, int out_fd, int err_fd, int report_fd) {
  if (setpgid(0, 0) != 0) fail(report_fd, Step::setpgid);
  // Every signal at its default action (an ignored one would stay ignored
  // across execve), none blocked.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // stdin, stdout, stderr (every source fd is above 2: above_stdio), then
  // the report pipe as fd 3, close-on-exec; nothing else.
  if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
      dup2(err_fd, STDERR_FILENO) < 0) {
    fail(report_fd, Step::stdio);
  }
  constexpr int kReportFd = 3;
  if (report_fd != kReportFd) {
    if (dup3(report_fd, kReportFd, O_CLOEXEC) < 0) fail(report_fd, Step::stdio);
    report_fd = kReportFd;
  }
  close_range(kReportFd + 1, ~0U, 0);
  if (spec.memory_limit) {
    const rlimit limit{*spec.memory_limit, *spec.memory_limit};
    if (setrlimit(RLIMIT_AS, &limit) != 0) fail(report_fd, Step::setrlimit);
  }
  if (spec.credentials) {
    const auto& c = *spec.credentials;
    if (setgroups(c.groups.size(), c.groups.data()) != 0) fail(report_fd, Step::setgroups);
    if (setgid(c.gid) != 0) fail(report_fd, Step::setgid);
    if (setuid(c.uid) != 0) fail(report_fd, Step::setuid);
  }
  // After the change of user, which clears it. If the runner is gone
  // already (it died before prctl), the child was reparented and ends now.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(report_fd, Step::deathsig);
  if (getppid() != parent) _exit(kExecFailed);
  if (chdir(spec.working_directory.c_str()) != 0) fail(report_fd, Step::chdir);
  execve(spec.executable.c_str(), argv, envp);
  fail(report_fd, Step::execve);
}

// The bytes a stream wrote: how many, and the last `limit` of them.
struct Tail {
  std::size_t limit;
  std::string text;
  std::uint64_t bytes = 0;

  void add(const char* data, std::size_t n) {
    bytes += n;
    text.append(data, n);
    // Trimmed once it holds twice the limit, so a chatty program costs
    // amortised constant work per byte.
    if (text.size() > 2 * limit + 65536) text.erase(0, text.size() - limit);
  }
  std::string last() const {
    return text.size() > limit ? text.substr(text.size() - limit) : text;
  }
};

// Reads what `fd` (non-blocking) holds now into `tail`, in a few reads at
// most (then poll again: the other stream too); false at end of file or on
// an error (the stream is done either way).
bool read_into(int fd, Tail& tail) {
  return posix::read_available(fd, [&tail](const char* data, std::size_t n) { tail.add(data, n); },
                               16);
}

std::string describe_start_failure(const ProcessSpec& spec, const StartFailure& failure) {
  const auto step = failure.step >= 0 && failure.step <= static_cast<int>(Step::execve)
                        ? kStepNames[failure.step]
                        : "start";
  std::string what = step;
  if (failure.step == static_cast<int>(Step::chdir)) what += " " + spec.working_directory;
  if (failure.step == static_cast<int>(Step::execve)) what += " " + spec.executable;
  return what + ": " + strerror(failure.error);
}

}  // namespace

std::string describe_wait_status(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  return "ended with wait status " + std::to_string(wait_status);
}

ProcessRun run_process(const ProcessSpec& spec) {
  if (spec.executable.empty() || spec.executable.front() != '/') {
    throw std::invalid_argument("the executable must be an absolute path, not '" +
                                spec.executable + "'");
  }
  if (spec.argv.empty()) throw std::invalid_argument("argv must hold at least argv[0]");
  check_text(spec.executable, "the executable's path");
  check_text(spec.working_directory, "the working directory");
  for (const auto& arg : spec.argv) check_text(arg, "an argument");
  for (const auto& var : spec.environment) check_text(var, "an environment variable");

  // Everything the child needs, built before the fork: it may not allocate.
  std::vector<char*> argv, envp;
  for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  for (const auto& var : spec.environment) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);

  Pipe out, err, report;
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) throw std::runtime_error("open /dev/null: " + std::string(strerror(errno)));
  null_fd = above_stdio(null_fd);
  out.write_end = above_stdio(out.write_end);
  err.write_end = above_stdio(err.write_end);
  report.write_end = above_stdio(report.write_end);

  const pid_t parent = getpid();
  // fork(), not _Fork(): glibc's fork resets its thread list in the child,
  // which setuid() (it signals every thread) relies on.
  const pid_t pid = fork();
  if (pid < 0) {
    const std::string error = strerror(errno);
    close(null_fd);
    throw std::runtime_error("fork: " + error);
  }
  if (pid == 0) {
    exec_child(spec, argv.data(), envp.data(), parent, null_fd, out.write_end, err.write_end,
               report.write_end);
  }
  // As the child does: a signal to its group must reach it from now on.
  setpgid(pid, pid);
  add_running_child(-pid);
  close(null_fd);
  close_fd(out.write_end);
  close_fd(err.write_end);
  close_fd(report.write_end);

  ProcessRun run;
  run.pid = pid;
  const auto begun = Clock::now();

  // The report pipe closes at execve (close-on-exec) or carries why the
  // child could not get there.
  StartFailure failure{};
  ssize_t got;
  do {
    got = read(report.read_end, &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof failure)) run.start_error = describe_start_failure(spec, failure);

  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  Tail out_tail{spec.tail_bytes}, err_tail{spec.tail_bytes};
  posix::set_non_blocking(out.read_end);
  posix::set_non_blocking(err.read_end);
  pollfd fds[3] = {{out.read_end, POLLIN, 0}, {err.read_end, POLLIN, 0}, {pidfd, POLLIN, 0}};
  std::optional<Clock::time_point> term_sent;
  bool kill_sent = false;
  const auto signal_group = [pid](int sig) {
    if (kill(-pid, sig) != 0) kill(pid, sig);
  };
  // Until the program has ended (the pidfd is readable; without a pidfd,
  // found by polling with waitid).
  for (;;) {
    const int ready = poll(fds, 3, kPollMs);
    if (ready < 0 && errno != EINTR) break;
    if (fds[0].fd >= 0 && fds[0].revents != 0 && !read_into(out.read_end, out_tail)) fds[0].fd = -1;
    if (fds[1].fd >= 0 && fds[1].revents != 0 && !read_into(err.read_end, err_tail)) fds[1].fd = -1;
    if (pidfd >= 0 && fds[2].revents != 0) break;
    if (pidfd < 0) {
      siginfo_t info{};
      if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        break;
      }
    }
    const auto now = Clock::now();
    if (!term_sent) {
      if (spec.timeout && now - begun >= *spec.timeout) run.timed_out = true;
      if (!run.timed_out && spec.stop && spec.stop()) run.stopped = true;
      if (run.timed_out || run.stopped) {
        term_sent = now;
        signal_group(SIGTERM);
      }
    } else if (!kill_sent && now - *term_sent >= spec.kill_grace) {
      kill_sent = true;
      signal_group(SIGKILL);
    }
  }
  // The program has ended but is not reaped yet, so its group id cannot be
  // reused: whatever it left in the group dies with it.
  kill(-pid, SIGKILL);
  run.wait_status = posix::reap(pid, true).value_or(0);
  remove_running_child(-pid);
  if (pidfd >= 0) close(pidfd);

  // What is left in the pipes; a process that left the group may still
  // hold them, so this waits at most kOutputGrace.
  const auto until = Clock::now() + kOutputGrace;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) break;
    const int ready = poll(fds, 2, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) break;
    if (fds[0].fd >= 0 && fds[0].revents != 0 && !read_into(out.read_end, out_tail)) fds[0].fd = -1;
    if (fds[1].fd >= 0 && fds[1].revents != 0 && !read_into(err.read_end, err_tail)) fds[1].fd = -1;
  }
  run.stdout_tail = out_tail.last();
  run.stderr_tail = err_tail.last();
  run.stdout_bytes = out_tail.bytes;
  run.stderr_bytes = err_tail.bytes;
  return run;
}

}  // namespace jobrunner
