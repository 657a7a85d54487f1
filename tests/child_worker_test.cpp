// ChildWorker, the long-lived child process of isolated jobs: one child
// serves many requests, is recycled, and is replaced after a crash, a
// timeout, a memory-limit breach or an abandon; no child outlives its worker
// or its parent. No database: the serve function below plays the job.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "child_signals.hpp"
#include "child_worker.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kMiB = 1024 * 1024;

// The file the SIGTERM handler of "install-cleanup" writes.
char g_marker[4096];

extern "C" void clean_up_and_exit(int) {
  const int fd = open(g_marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    constexpr char kText[] = "cleaned up";
    (void)!write(fd, kText, sizeof kText - 1);
    close(fd);
  }
  _exit(3);
}

[[noreturn]] void sleep_for_ever() {
  for (;;) pause();
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// What the tests' job does, by request:
//   "pid"                  "<pid> <requests served by this child>"
//   "echo:<text>"          <text>
//   "stderr:<text>"        writes <text> to stderr, replies "written"
//   "crash"                raises SIGSEGV
//   "throw"                throws std::runtime_error("boom")
//   "sleep"                sleeps until killed
//   "ignore-term"          ignores SIGTERM from now on, replies "ignoring"
//   "install-cleanup:<f>"  on SIGTERM, writes "cleaned up" to <f> and exits 3
//   "grandchild"           forks a process that sleeps, replies its pid
//   "allocate:<MiB>"       allocates that much; "bad_alloc" and retire if it fails
ChildWorker::Serve test_serve() {
  return [served = 0](const std::string& request) mutable -> ChildWorker::Reply {
    ++served;
    if (request == "pid") return {std::to_string(getpid()) + " " + std::to_string(served)};
    if (starts_with(request, "echo:")) return {request.substr(5)};
    if (starts_with(request, "stderr:")) {
      std::fputs(request.substr(7).c_str(), stderr);
      return {"written"};
    }
    if (request == "crash") {
      const rlimit no_core{0, 0};
      setrlimit(RLIMIT_CORE, &no_core);
      raise(SIGSEGV);
    }
    if (request == "throw") throw std::runtime_error("boom");
    if (request == "sleep") sleep_for_ever();
    if (request == "ignore-term") {
      signal(SIGTERM, SIG_IGN);
      return {"ignoring"};
    }
    if (starts_with(request, "install-cleanup:")) {
      std::snprintf(g_marker, sizeof g_marker, "%s", request.substr(16).c_str());
      signal(SIGTERM, clean_up_and_exit);
      return {"installed"};
    }
    if (request == "grandchild") {
      const pid_t pid = fork();
      if (pid == 0) sleep_for_ever();
      return {std::to_string(pid)};
    }
    if (starts_with(request, "allocate:")) {
      const auto size = std::stoull(request.substr(9)) * kMiB;
      try {
        // Not a new-expression, which the compiler may elide.
        void* volatile memory = ::operator new(size);
        std::memset(memory, 1, size);
        ::operator delete(memory);
        return {"allocated"};
      } catch (const std::bad_alloc&) {
        return {"bad_alloc", true};
      }
    }
    return {"unknown request " + request};
  };
}

// The pid in a "pid" reply.
pid_t pid_in(const ChildResult& result) {
  return result.report ? static_cast<pid_t>(std::stol(*result.report)) : -1;
}

ChildResult run(ChildWorker& worker, const std::string& request, const ChildLimits& limits = {}) {
  return worker.run(request, limits, {}, {});
}

// No process `pid` exists any more, not even as a zombie of this one.
void expect_gone(pid_t pid) {
  errno = 0;
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  errno = 0;
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// Waits for child `pid` to end, without reaping it (its worker does).
siginfo_t wait_without_reaping(pid_t pid) {
  siginfo_t info{};
  while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  return info;
}

std::string marker_path(const std::string& name) {
  const auto path = std::filesystem::path(::testing::TempDir()) /
                    ("child_worker_test." + std::to_string(getpid()) + "." + name);
  std::filesystem::remove(path);
  return path.string();
}

std::string contents_of(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- One child, many requests -----------------------------------------------

TEST(ChildWorkerTest, one_child_serves_several_requests_and_keeps_its_state) {
  ChildWorker worker(test_serve(), std::nullopt, 0);
  EXPECT_FALSE(worker.pid());

  const auto first = run(worker, "pid");
  const auto second = run(worker, "pid");
  const auto third = run(worker, "pid");

  ASSERT_TRUE(first.report && second.report && third.report);
  const auto pid = pid_in(first);
  EXPECT_EQ(*first.report, std::to_string(pid) + " 1");
  EXPECT_EQ(*second.report, std::to_string(pid) + " 2");
  EXPECT_EQ(*third.report, std::to_string(pid) + " 3");
  EXPECT_NE(pid, getpid());
  EXPECT_EQ(worker.pid(), pid);
  EXPECT_EQ(worker.children_started(), 1);
  EXPECT_FALSE(first.timed_out || first.abandoned);
}

TEST(ChildWorkerTest, requests_and_replies_larger_than_a_pipe_buffer_arrive_whole) {
  ChildWorker worker(test_serve(), std::nullopt, 0);
  std::string text(3 * kMiB, 'x');
  for (std::size_t i = 0; i < text.size(); i += 4093) text[i] = static_cast<char>('a' + i % 26);

  const auto result = run(worker, "echo:" + text);
  const auto empty = run(worker, "echo:");

  ASSERT_TRUE(result.report);
  EXPECT_EQ(*result.report, text);
  ASSERT_TRUE(empty.report);
  EXPECT_EQ(*empty.report, "");
  EXPECT_EQ(worker.children_started(), 1);
}

TEST(ChildWorkerTest, started_gets_the_pid_of_the_child_that_serves_the_request) {
  ChildWorker worker(test_serve(), std::nullopt, 0);
  std::vector<pid_t> started;

  const auto result = worker.run("pid", {}, [&](pid_t pid) { started.push_back(pid); }, {});

  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0], pid_in(result));
}

TEST(ChildWorkerTest, max_requests_recycles_the_child) {
  ChildWorker worker(test_serve(), std::nullopt, 2);
  std::vector<pid_t> pids;
  std::vector<bool> alive_after;

  for (int i = 0; i < 5; ++i) {
    const auto result = run(worker, "pid");
    ASSERT_TRUE(result.report);
    pids.push_back(pid_in(result));
    alive_after.push_back(worker.pid().has_value());
  }

  EXPECT_EQ(pids[0], pids[1]);
  EXPECT_NE(pids[1], pids[2]);
  EXPECT_EQ(pids[2], pids[3]);
  EXPECT_NE(pids[3], pids[4]);
  EXPECT_EQ(alive_after, (std::vector<bool>{true, false, true, false, true}));
  EXPECT_EQ(worker.children_started(), 3);
  expect_gone(pids[0]);
  expect_gone(pids[2]);
}

// ---- What costs a child -----------------------------------------------------

TEST(ChildWorkerTest, a_crash_costs_that_request_only_and_the_next_gets_a_new_child) {
  ChildWorker worker(test_serve(), std::nullopt, 0);
  const auto before = pid_in(run(worker, "pid"));

  const auto crashed = run(worker, "crash");

  EXPECT_FALSE(crashed.report);
  ASSERT_TRUE(WIFSIGNALED(crashed.wait_status));
  EXPECT_EQ(WTERMSIG(crashed.wait_status), SIGSEGV);
  EXPECT_FALSE(crashed.timed_out);
  EXPECT_FALSE(worker.pid());
  expect_gone(before);

  const auto after = run(worker, "pid");
  ASSERT_TRUE(after.report);
  EXPECT_EQ(*after.report, std::to_string(pid_in(after)) + " 1");
  EXPECT_NE(pid_in(after), before);
  EXPECT_EQ(worker.children_started(), 2);
}

TEST(ChildWorkerTest, an_exception_escaping_serve_ends_the_child_with_status_70) {
  ChildWorker worker(test_serve(), std::nullopt, 0);

  const auto result = run(worker, "throw");

  EXPECT_FALSE(result.report);
  ASSERT_TRUE(WIFEXITED(result.wait_status));
  EXPECT_EQ(WEXITSTATUS(result.wait_status), 70);
  EXPECT_NE(result.stderr_tail.find("uncaught exception: boom"), std::string::npos)
      << result.stderr_tail;
  EXPECT_TRUE(run(worker, "pid").report);
  EXPECT_EQ(worker.children_started(), 2);
}

TEST(ChildWorkerTest, a_timeout_sends_sigterm_first_so_that_the_job_can_clean_up) {
  ChildWorker worker(test_serve(), std::nullopt, 0);
  const auto marker = marker_path("cleanup");
  ASSERT_EQ(run(worker, "install-cleanup:" + marker).report, "installed");
  const auto pid = *worker.pid();

  // The grace is far longer than the test: the child ends on its own.
  const auto result = run(worker, "sleep", {.timeout = 50ms, .kill_grace = 1h});

  EXPECT_TRUE(result.timed_out);
  EXPECT_FALSE(result.report);
  ASSERT_TRUE(WIFEXITED(result.wait_status)) << describe_wait_status(result.wait_status);
  EXPECT_EQ(WEXITSTATUS(result.wait_status), 3);
  EXPECT_EQ(contents_of(marker), "cleaned up");
  EXPECT_FALSE(worker.pid());
  expect_gone(pid);
  std::filesystem::remove(marker);
}

TEST(ChildWorkerTest, a_timeout_ends_a_job_that_does_not_handle_sigterm_with_sigterm) {
  ChildWorker worker(test_serve(), std::nullopt, 0);

  const auto result = run(worker, "sleep", {.timeout = 50ms, .kill_grace = 1h});

  EXPECT_TRUE(result.timed_out);
  ASSERT_TRUE(WIFSIGNALED(result.wait_status));
  EXPECT_EQ(WTERMSIG(result.wait_status), SIGTERM);
  EXPECT_TRUE(run(worker, "pid").report);
  EXPECT_EQ(worker.children_started(), 2);
}

TEST(ChildWorkerTest, a_job_that_ignores_sigterm_is_killed_after_the_grace) {
  ChildWorker worker(test_serve(), std::nullopt, 0);
  ASSERT_EQ(run(worker, "ignore-term").report, "ignoring");

  const auto result = run(worker, "sleep", {.timeout = 50ms, .kill_grace = 100ms});

  EXPECT_TRUE(result.timed_out);
  EXPECT_FALSE(result.abandoned);
  ASSERT_TRUE(WIFSIGNALED(result.wait_status));
  EXPECT_EQ(WTERMSIG(result.wait_status), SIGKILL);
  EXPECT_FALSE(worker.pid());
}

TEST(ChildWorkerTest, the_timeout_signals_the_whole_process_group_of_the_child) {
  // Orphans of this process's descendants become its children, so the test
  // can see how the grandchild ended.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  ChildWorker worker(test_serve(), std::nullopt, 0);
  const auto grandchild = run(worker, "grandchild");
  ASSERT_TRUE(grandchild.report);
  const auto grandchild_pid = static_cast<pid_t>(std::stol(*grandchild.report));

  const auto result = run(worker, "sleep", {.timeout = 50ms, .kill_grace = 1h});

  EXPECT_TRUE(result.timed_out);
  int status = 0;
  ASSERT_EQ(waitpid(grandchild_pid, &status, 0), grandchild_pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(ChildWorkerTest, abandon_kills_the_child_at_once) {
  ChildWorker worker(test_serve(), std::nullopt, 0);
  ASSERT_EQ(run(worker, "ignore-term").report, "ignoring");

  const auto result = run(worker, "sleep", {.abandon = [] { return true; }});

  EXPECT_TRUE(result.abandoned);
  EXPECT_FALSE(result.timed_out);
  EXPECT_FALSE(result.report);
  ASSERT_TRUE(WIFSIGNALED(result.wait_status));
  EXPECT_EQ(WTERMSIG(result.wait_status), SIGKILL);
  EXPECT_FALSE(worker.pid());
  EXPECT_TRUE(run(worker, "pid").report);
}

TEST(ChildWorkerTest, a_memory_limit_breach_retires_the_child_and_leaves_the_parent_unlimited) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &before), 0);
  if (before.rlim_cur != RLIM_INFINITY) {
    GTEST_SKIP() << "this test process already has an address-space limit";
  }
  ChildWorker worker(test_serve(), 256 * kMiB, 0);
  const auto pid = pid_in(run(worker, "pid"));
  ASSERT_EQ(run(worker, "allocate:50").report, "allocated");
  ASSERT_EQ(worker.pid(), pid);

  const auto breach = run(worker, "allocate:1024");

  EXPECT_EQ(breach.report, "bad_alloc");
  EXPECT_FALSE(worker.pid());
  expect_gone(pid);
  const auto after = run(worker, "pid");
  ASSERT_TRUE(after.report);
  EXPECT_NE(pid_in(after), pid);
  EXPECT_EQ(worker.children_started(), 2);
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &now), 0);
  EXPECT_EQ(now.rlim_cur, RLIM_INFINITY);
  EXPECT_EQ(now.rlim_max, before.rlim_max);
}

// ---- Stderr -----------------------------------------------------------------

TEST(ChildWorkerTest, the_stderr_tail_and_lines_are_those_of_each_request) {
  ChildWorker worker(test_serve(), std::nullopt, 0);
  std::vector<std::string> lines;
  const auto collect = [&](std::string_view line) { lines.emplace_back(line); };

  const auto first = worker.run("stderr:one\nuno\n", {}, {}, collect);
  const auto first_lines = lines;
  lines.clear();
  const auto second = worker.run("stderr:two", {}, {}, collect);

  EXPECT_EQ(first.stderr_tail, "one\nuno\n");
  EXPECT_EQ(first_lines, (std::vector<std::string>{"one", "uno"}));
  EXPECT_EQ(second.stderr_tail, "two");
  EXPECT_EQ(lines, (std::vector<std::string>{"two"}));
  EXPECT_EQ(worker.children_started(), 1);
}

// ---- No child left behind ---------------------------------------------------

TEST(ChildWorkerTest, the_destructor_leaves_no_child_behind) {
  pid_t pid = -1;
  {
    ChildWorker worker(test_serve(), std::nullopt, 0);
    pid = pid_in(run(worker, "pid"));
    ASSERT_GT(pid, 0);
    ASSERT_EQ(kill(pid, 0), 0);
  }
  expect_gone(pid);
}

TEST(ChildWorkerTest, an_idle_child_is_a_running_child_for_signals_and_is_replaced_once_killed) {
  ChildWorker worker(test_serve(), std::nullopt, 0);
  const auto pid = pid_in(run(worker, "pid"));

  kill_running_children();  // what a second stop signal does
  const auto info = wait_without_reaping(pid);

  EXPECT_EQ(info.si_code, CLD_KILLED);
  EXPECT_EQ(info.si_status, SIGKILL);
  const auto after = run(worker, "pid");
  ASSERT_TRUE(after.report);
  EXPECT_NE(pid_in(after), pid);
  EXPECT_EQ(worker.children_started(), 2);
  expect_gone(pid);
}

TEST(ChildWorkerTest, an_idle_child_dies_with_its_parent_even_one_killed_with_sigkill) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t parent = fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    // The runner: it starts a worker's child, says which, and waits. A
    // process of its own keeps the child's request pipe open, so that the
    // child cannot take the runner's death for the end of its requests.
    close(ready[0]);
    ChildWorker worker(test_serve(), std::nullopt, 0);
    pid_t pids[2] = {run(worker, "pid").report ? *worker.pid() : -1, fork()};
    if (pids[1] == 0) sleep_for_ever();
    (void)!write(ready[1], pids, sizeof pids);
    sleep_for_ever();
  }
  close(ready[1]);
  pid_t pids[2] = {-1, -1};
  ASSERT_EQ(read(ready[0], pids, sizeof pids), static_cast<ssize_t>(sizeof pids));
  close(ready[0]);
  const auto [child, holder] = pids;
  ASSERT_GT(child, 0);
  ASSERT_GT(holder, 0);

  ASSERT_EQ(kill(parent, SIGKILL), 0);
  ASSERT_EQ(waitpid(parent, nullptr, 0), parent);

  // Reparented to this process (the subreaper), then killed.
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << describe_wait_status(status);
  kill(holder, SIGKILL);
  ASSERT_EQ(waitpid(holder, nullptr, 0), holder);
}

// ---- run_in_child -----------------------------------------------------------

TEST(ChildWorkerTest, run_in_child_runs_each_body_in_a_child_of_its_own) {
  const auto body = [] { return std::to_string(getpid()); };

  const auto first = run_in_child(body, {}, {}, {});
  const auto second = run_in_child(body, {}, {}, {});

  ASSERT_TRUE(first.report && second.report);
  EXPECT_NE(*first.report, *second.report);
  EXPECT_NE(*first.report, std::to_string(getpid()));
  ASSERT_TRUE(WIFEXITED(first.wait_status));
  EXPECT_EQ(WEXITSTATUS(first.wait_status), 0);
  expect_gone(static_cast<pid_t>(std::stol(*first.report)));
  expect_gone(static_cast<pid_t>(std::stol(*second.report)));
}

}  // namespace
}  // namespace jobrunner
