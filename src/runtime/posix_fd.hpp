#pragma once
// Small POSIX helpers shared by the runtime's child processes
// (child_worker.cpp, subprocess.cpp). Private to the runtime library.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace jobrunner::posix {

inline void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// A pipe whose ends are close-on-exec.
struct Pipe {
  int read_end = -1;
  int write_end = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
    read_end = fds[0];
    write_end = fds[1];
  }
  ~Pipe() {
    close_fd(read_end);
    close_fd(write_end);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int take_read() { return std::exchange(read_end, -1); }
  int take_write() { return std::exchange(write_end, -1); }
};

inline void set_non_blocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Reads what `fd` (non-blocking) holds now, passing each chunk to
// `take(data, size)`, in at most `max_reads` reads (0: until none is left);
// false at end of file or on an error.
template <typename Take>
bool read_available(int fd, Take&& take, int max_reads = 0) {
  char buffer[65536];
  for (int reads = 0; max_reads == 0 || reads < max_reads; ++reads) {
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      take(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  return true;
}

// Reads what `fd` (non-blocking) holds now into `out`; false at end of file.
inline bool drain(int fd, std::string& out) {
  return read_available(fd, [&out](const char* data, std::size_t n) { out.append(data, n); });
}

// Reaps `pid` if it has exited (or, with block, once it has).
inline std::optional<int> reap(pid_t pid, bool block) {
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, block ? 0 : WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno == EINTR) continue;
    return std::nullopt;
  }
}

}  // namespace jobrunner::posix
