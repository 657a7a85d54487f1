#include "jobrunner/runtime/stop_signal.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <initializer_list>

#include "child_signals.hpp"

namespace jobrunner {
namespace {

// Lock-free, so touching it from a signal handler is safe.
std::atomic<int> g_stop_requests{0};
// One slot per possible isolated job (--concurrency is at most this); 0 is free.
std::atomic<int> g_running_children[kMaxRunningChildren];
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal_number) {
  if (g_stop_requests.fetch_add(1) >= 1) {
    kill_running_children();
    _exit(128 + signal_number);
  }
}

extern "C" void on_child_stop_signal(int) { g_stop_requests.fetch_add(1); }

void install(void (*handler)(int), std::initializer_list<int> signals) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (const int signal_number : signals) sigaction(signal_number, &action, nullptr);
}

}  // namespace

void install_child_stop_handler() { install(on_child_stop_signal, {SIGTERM}); }

void install_stop_handlers() { install(on_stop_signal, {SIGTERM, SIGINT}); }

bool stop_requested() noexcept { return g_stop_requests.load() > 0; }

void add_running_child(int pid) noexcept {
  // Once: a ChildWorker notes its child, and a caller's started() may too.
  // Only the thread that owns a child adds or removes its pid.
  for (const auto& slot : g_running_children) {
    if (slot.load() == pid) return;
  }
  for (auto& slot : g_running_children) {
    int free = 0;
    if (slot.compare_exchange_strong(free, pid)) return;
  }
}

void remove_running_child(int pid) noexcept {
  for (auto& slot : g_running_children) {
    int expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

void kill_running_children() noexcept {
  for (auto& slot : g_running_children) {
    if (const int pid = slot.load(); pid != 0) kill(pid, SIGKILL);  // < 0: a group
  }
}

void request_stop() noexcept { g_stop_requests.fetch_add(1); }

}  // namespace jobrunner
