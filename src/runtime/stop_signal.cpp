#include "jobrunner/runtime/stop_signal.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace jobrunner {
namespace {

// Lock-free, so touching it from a signal handler is safe.
std::atomic<int> g_stop_requests{0};
std::atomic<int> g_running_child{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal_number) {
  if (g_stop_requests.fetch_add(1) >= 1) {
    if (const int child = g_running_child.load(); child > 0) kill(child, SIGKILL);
    _exit(128 + signal_number);
  }
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

bool stop_requested() noexcept { return g_stop_requests.load() > 0; }

void set_running_child(int pid) noexcept { g_running_child.store(pid); }

void request_stop() noexcept { g_stop_requests.fetch_add(1); }

}  // namespace jobrunner
