#include "child_worker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <spdlog/details/console_globals.h>

#include "child_signals.hpp"
#include "jobrunner/pg/connection.hpp"
#include "posix_fd.hpp"

namespace jobrunner {
namespace {

using posix::close_fd;
using posix::drain;
using posix::Pipe;
using posix::reap;
using posix::set_non_blocking;

using Clock = std::chrono::steady_clock;

constexpr std::size_t kStderrTail = 4096;
constexpr int kPollMs = 50;  // how often limits.abandon is asked
// How long an ended child (request pipe closed) may take to exit.
constexpr Duration kEndGrace = std::chrono::seconds(2);

// Every message, either way, is this header and `length` bytes. The child
// answers one request at a time and echoes its sequence number.
struct FrameHeader {
  std::uint64_t sequence;
  std::uint64_t length;
  std::uint64_t flags;
};
constexpr std::uint64_t kRetireFlag = 1;

std::string frame(std::uint64_t sequence, std::string_view payload, std::uint64_t flags) {
  const FrameHeader header{sequence, payload.size(), flags};
  std::string out(sizeof header, '\0');
  std::memcpy(out.data(), &header, sizeof header);
  out.append(payload);
  return out;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// False at end of file or on an error.
bool read_exact(int fd, char* data, std::size_t size) {
  while (size > 0) {
    const auto n = ::read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Closes every descriptor from 3 up but `keep`.
void close_all_but(std::array<int, 2> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (const int fd : keep) {
    if (fd < 3) continue;
    if (static_cast<unsigned>(fd) > from) close_range(from, static_cast<unsigned>(fd) - 1, 0);
    from = static_cast<unsigned>(fd) + 1;
  }
  close_range(from, ~0U, 0);
}

[[noreturn]] void serve_requests(const ChildWorker::Serve& serve,
                                 std::optional<std::uint64_t> memory_limit, int max_requests,
                                 pid_t parent, int request_fd, int reply_fd, int stderr_fd) {
  // Dies with the thread that forked it; if the parent is gone already (it
  // died before prctl), the child was reparented and ends now.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(0);
  setpgid(0, 0);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (stderr_fd != STDERR_FILENO) {
    dup2(stderr_fd, STDERR_FILENO);
    close(stderr_fd);
  }
  // Every other descriptor goes: with several children at once, a sibling's
  // pipes would otherwise stay open here and the parent would see their end
  // of file only when this child ends. (The parent's database sockets are
  // only closed, never shut down, so its connections are unharmed.)
  close_all_but({request_fd, reply_fd});
  if (memory_limit) {
    const rlimit limit{*memory_limit, *memory_limit};
    setrlimit(RLIMIT_AS, &limit);
  }
  try {
    for (int served = 0; max_requests == 0 || served < max_requests; ++served) {
      FrameHeader header{};
      if (!read_exact(request_fd, reinterpret_cast<char*>(&header), sizeof header)) break;
      std::string request(header.length, '\0');
      if (!read_exact(request_fd, request.data(), request.size())) break;
      const auto reply = serve(request);
      std::fflush(nullptr);
      if (!write_all(reply_fd, frame(header.sequence, reply.text,
                                     reply.retire ? kRetireFlag : 0))) {
        break;
      }
      if (reply.retire) break;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isolated job: uncaught exception: %s\n", e.what());
    std::fflush(nullptr);
    _exit(70);
  } catch (...) {
    std::fprintf(stderr, "isolated job: uncaught exception\n");
    std::fflush(nullptr);
    _exit(70);
  }
  std::fflush(nullptr);
  // _exit: the parent's objects (its connections above all) must not be
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

// Writes to a pipe whose reader may be gone, getting EPIPE instead of the
// SIGPIPE that would end the runner: the signal is blocked in this thread for
// the write and a SIGPIPE it raised is taken off the pending set.
bool write_to_pipe(int fd, std::string_view data) {
  sigset_t pipe_only, previous, pending;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  const bool written = write_all(fd, data);
  const int error = errno;
  if (!written && error == EPIPE && !was_pending) {
    const timespec zero{};
    while (sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  errno = error;
  return written;
}

// Hands the complete lines at the front of `pending` to on_line, keeping the
// last, unfinished one.
void pass_lines(std::string& pending, const std::function<void(std::string_view)>& on_line) {
  std::size_t begin = 0;
  for (std::size_t end; (end = pending.find('\n', begin)) != std::string::npos; begin = end + 1) {
    if (on_line) on_line(std::string_view(pending).substr(begin, end - begin));
  }
  pending.erase(0, begin);
}

}  // namespace

ChildWorker::ChildWorker(Serve serve, std::optional<std::uint64_t> memory_limit, int max_requests)
    : serve_(std::move(serve)), memory_limit_(memory_limit), max_requests_(max_requests) {}

ChildWorker::~ChildWorker() {
  if (pid_ > 0) end_child(kEndGrace);
}

std::optional<pid_t> ChildWorker::pid() const {
  if (pid_ > 0) return pid_;
  return std::nullopt;
}

void ChildWorker::start_child() {
  Pipe request, reply, err;
  static const int registered = pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork);
  (void)registered;
  std::fflush(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    serve_requests(serve_, memory_limit_, max_requests_, parent, request.read_end,
                   reply.write_end, err.write_end);
  }
  // As the child does: a signal to its group must reach it from now on.
  setpgid(pid, pid);
  add_running_child(pid);
  pid_ = pid;
  served_ = 0;
  ++children_started_;
  request_fd_ = request.take_write();
  reply_fd_ = reply.take_read();
  stderr_fd_ = err.take_read();
  set_non_blocking(reply_fd_);
  set_non_blocking(stderr_fd_);
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd_ < 0) {
    const std::string error = strerror(errno);
    end_child(Duration::zero());
    throw std::runtime_error("pidfd_open: " + error);
  }
}

// Sends a frame; an idle child that died (killed from outside, or the thread
// that forked it ended) is replaced first, or when the send finds it gone.
// It read nothing of the frame then: it died before serve() saw it.
bool ChildWorker::send(const std::string& message) {
  if (pid_ > 0) {
    if (reap(pid_, false)) forget_child();
  }
  if (pid_ <= 0) start_child();
  if (write_to_pipe(request_fd_, message)) return true;
  end_child(Duration::zero());
  start_child();
  return write_to_pipe(request_fd_, message);
}

ChildResult ChildWorker::run(const std::string& request, const ChildLimits& limits,
                             const std::function<void(pid_t)>& started,
                             const std::function<void(std::string_view)>& on_stderr_line) {
  const auto sequence = ++sequence_;
  if (!send(frame(sequence, request, 0))) {
    const std::string error = strerror(errno);
    end_child(Duration::zero());
    throw std::runtime_error("cannot send a request to a new child process: " + error);
  }
  if (started) started(pid_);

  const auto begun = Clock::now();
  std::optional<Clock::time_point> term_sent;
  bool kill_sent = false;
  ChildResult result;
  std::string received, pending_line;
  std::optional<int> exit_status;
  std::optional<FrameHeader> reply;
  // False once the child's stderr reached end of file.
  auto take_stderr = [&] {
    const auto before = pending_line.size();
    const bool open = drain(stderr_fd_, pending_line);
    result.stderr_tail.append(pending_line, before);
    if (result.stderr_tail.size() > kStderrTail) {
      result.stderr_tail.erase(0, result.stderr_tail.size() - kStderrTail);
    }
    pass_lines(pending_line, on_stderr_line);
    return open;
  };
  auto reply_complete = [&] {
    if (received.size() < sizeof(FrameHeader)) return false;
    FrameHeader header;
    std::memcpy(&header, received.data(), sizeof header);
    if (received.size() - sizeof header < header.length) return false;
    reply = header;
    return true;
  };
  // The descriptors poll() watches; one that reached end of file is dropped
  // (negative), the child's death is seen through the pidfd.
  pollfd fds[3] = {{reply_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
  for (;;) {
    const int ready = poll(fds, 3, kPollMs);
    if (ready < 0 && errno != EINTR) {
      const std::string error = strerror(errno);
      end_child(Duration::zero());
      throw std::runtime_error("poll: " + error);
    }
    if (fds[0].fd >= 0 && fds[0].revents != 0 && !drain(reply_fd_, received)) fds[0].fd = -1;
    if (fds[1].fd >= 0 && fds[1].revents != 0 && !take_stderr()) fds[1].fd = -1;
    if (reply_complete()) break;
    if (fds[2].revents != 0) {
      // Ended (0 stands in for a status that another waitpid() took).
      exit_status = reap(pid_, true).value_or(0);
      drain(reply_fd_, received);
      reply_complete();
      break;
    }
    const auto now = Clock::now();
    if (limits.timeout && !term_sent && now - begun >= *limits.timeout) {
      result.timed_out = true;
      term_sent = now;
      signal_child(SIGTERM);
    }
    if (term_sent && !kill_sent && now - *term_sent >= limits.kill_grace) {
      kill_sent = true;
      signal_child(SIGKILL);
    }
    if (!kill_sent && limits.abandon && limits.abandon()) {
      result.abandoned = true;
      kill_sent = true;
      signal_child(SIGKILL);
    }
  }
  take_stderr();
  if (!pending_line.empty() && on_stderr_line) on_stderr_line(pending_line);

  bool keep = !exit_status && !term_sent && !kill_sent;
  if (reply) {
    if (reply->sequence == sequence && received.size() == sizeof(FrameHeader) + reply->length) {
      result.report = received.substr(sizeof(FrameHeader));
      ++served_;
      if ((reply->flags & kRetireFlag) != 0) keep = false;
    } else {
      keep = false;  // not the answer to this request: the child is confused
      if (!exit_status) signal_child(SIGKILL);
    }
  }
  if (max_requests_ > 0 && served_ >= max_requests_) keep = false;
  if (exit_status) {
    result.wait_status = *exit_status;
    forget_child();
  } else if (!keep) {
    // A child that handled SIGTERM and replied goes too: its job was told
    // to stop. It gets the rest of its grace to exit.
    const auto grace = term_sent ? std::max(Duration::zero(),
                                            std::chrono::duration_cast<Duration>(
                                                *term_sent + limits.kill_grace - Clock::now()))
                                 : kEndGrace;
    result.wait_status = end_child(grace);
  }
  return result;
}

int ChildWorker::end_child(Duration grace) {
  close_fd(request_fd_);  // end of file: an idle child exits
  pollfd exited{pidfd_, POLLIN, 0};
  const auto deadline = Clock::now() + grace;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (pidfd_ < 0 || left.count() <= 0) break;
    const int ready = poll(&exited, 1, static_cast<int>(left.count()));
    if (ready > 0) break;
    if (ready < 0 && errno != EINTR) break;
  }
  auto status = reap(pid_, false);
  if (!status) {
    signal_child(SIGKILL);
    status = reap(pid_, true);
  }
  forget_child();
  return status.value_or(0);
}

void ChildWorker::forget_child() {
  close_fd(request_fd_);
  close_fd(reply_fd_);
  close_fd(stderr_fd_);
  close_fd(pidfd_);
  remove_running_child(pid_);
  pid_ = -1;
  served_ = 0;
}

void ChildWorker::signal_child(int signal_number) const {
  if (kill(-pid_, signal_number) != 0) kill(pid_, signal_number);
}

}  // namespace jobrunner
