#pragma once
// A wake-up call across threads that a poll(2) can wait for together with
// a database socket (an eventfd): workers and the completer notify(), the
// dispatcher waits.

#include <sys/eventfd.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace jobrunner {

class Wakeup {
 public:
  Wakeup() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw std::runtime_error("eventfd failed");
  }
  ~Wakeup() { close(fd_); }
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  void notify() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = write(fd_, &one, sizeof one);
  }
  // Waits until notified or `timeout` passed; consumes the notifications.
  void wait(std::chrono::milliseconds timeout) noexcept {
    pollfd fd{fd_, POLLIN, 0};
    poll(&fd, 1, static_cast<int>(timeout.count()));
    drain();
  }
  void drain() noexcept {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = read(fd_, &count, sizeof count);
  }
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

}  // namespace jobrunner
