#pragma once
// A long-lived child process that serves requests one at a time: the building
// block of a pool of pre-forked children for isolated jobs (Launchpad's
// TwistedJobRunner kept such a pool). Private to the runtime library.
//
// The child is forked on the first run() and serves request after request
// until it crashes, is killed (timeout, abandon), retires, has served
// max_requests, or the ChildWorker is destroyed; the next run() then forks a
// new one. Whatever happens to a child costs the request it was serving and
// nothing else, and never harms the parent.
//
// The child:
// - is a copy of the parent taken at fork(): serve() sees the parent's memory
//   as it was then, never later changes. Everything a request needs (the job)
//   must travel in the request text, not in a capture by reference;
// - runs only the forking thread, in a process group of its own (so a
//   terminal's Ctrl-C reaches only the runner), with SIGTERM and SIGINT at
//   their default actions and no signal blocked; the locks it may need (the
//   logger's console lock, the pg layer's connect lock) are free at fork();
//   serve() must not wait for other threads;
// - keeps only stdin, stdout, its stderr (a pipe to the parent) and its two
//   protocol pipes (close-on-exec): the parent's other descriptors, its
//   database sockets among them, are closed (not shut down) at fork;
// - has RLIMIT_AS set once at fork to memory_limit;
// - gets SIGKILL when the thread that forked it ends (PR_SET_PDEATHSIG; the
//   kernel watches that thread, not the whole process), so an idle child never
//   outlives the runner, even one killed with SIGKILL;
// - only ever ends with _exit (never returns into the parent's stack):
//   status 0 when its request pipe closes, when it retires or has served
//   max_requests; 70 when serve() throws (the message goes to its stderr).
//
// The parent registers each live child with add_running_child() while it
// lives (between requests too), so a second stop signal kills it.
//
// Not thread-safe: use a ChildWorker from one thread at a time, and from a
// thread that outlives its children (the worker thread that owns it).

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "child_process.hpp"

namespace jobrunner {

class ChildWorker {
 public:
  struct Reply {
    std::string text;
    // The child exits after sending this reply (e.g. after a std::bad_alloc
    // under RLIMIT_AS, or a lost database connection): the next request gets
    // a fresh child.
    bool retire = false;
  };
  // Runs IN THE CHILD, once per request, and may keep state across requests
  // (its database connection). An exception escaping it ends the child with
  // status 70 and no reply.
  using Serve = std::function<Reply(const std::string& request)>;

  // max_requests: how many requests one child serves before it is replaced
  // (0: unlimited). Forks nothing yet.
  ChildWorker(Serve serve, std::optional<std::uint64_t> memory_limit, int max_requests);
  // Ends the live child, if any: closes its request pipe, waits for it to exit
  // and sends SIGKILL to its process group if it has not after a short grace.
  ~ChildWorker();
  ChildWorker(const ChildWorker&) = delete;
  ChildWorker& operator=(const ChildWorker&) = delete;

  // Sends `request` to the live child (forking one first if none is alive; an
  // idle child that died is noticed and replaced) and waits until it replies
  // or dies. Calls started(pid) once the request is sent, and on_stderr_line
  // for each line the child writes to stderr meanwhile (either may be empty;
  // neither may throw).
  // Enforces limits.timeout (SIGTERM to the child's process group, so that the
  // job can clean up, then SIGKILL after limits.kill_grace) and limits.abandon
  // (asked every 50 ms; SIGKILL at once). limits.memory_limit is not used: the
  // worker's own was set at fork.
  //
  // The result: report = the reply's text if a whole reply came (it wins over
  // a timeout or an abandon that raced with it); wait_status when the child
  // ended during the call; timed_out (SIGTERM was sent), abandoned; and the
  // last 4 KiB the child wrote to stderr during this call (what an idle child
  // writes between calls counts towards the next). A child that crashed, timed
  // out, was abandoned, retired or has served max_requests is gone when run()
  // returns. Throws std::runtime_error only when no child can be started
  // (pipe, fork).
  ChildResult run(const std::string& request, const ChildLimits& limits,
                  const std::function<void(pid_t)>& started,
                  const std::function<void(std::string_view)>& on_stderr_line);

  // The live child's pid, if any.
  std::optional<pid_t> pid() const;
  // How many children this worker has forked so far.
  int children_started() const { return children_started_; }

 private:
  void start_child();
  bool send(const std::string& frame);
  // Closes the request pipe, waits up to `grace` for the child to exit, then
  // kills its process group; returns the wait status.
  int end_child(Duration grace);
  // After the child was reaped: closes its pipes and forgets it.
  void forget_child();
  void signal_child(int signal_number) const;

  Serve serve_;
  std::optional<std::uint64_t> memory_limit_;
  int max_requests_;
  pid_t pid_ = -1;
  int request_fd_ = -1;  // parent → child (write end)
  int reply_fd_ = -1;    // child → parent (read end, non-blocking)
  int stderr_fd_ = -1;   // the child's stderr (read end, non-blocking)
  int pidfd_ = -1;       // readable once the child has exited
  int served_ = 0;       // requests the live child has answered
  std::uint64_t sequence_ = 0;
  int children_started_ = 0;
};

}  // namespace jobrunner
