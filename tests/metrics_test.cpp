// Metrics (docs/metrics.md): the runner's counters, its histogram of run
// durations and what they render to; jobctl metrics, a cron run's
// --metrics-file and a daemon's /metrics, each checked by Prometheus's own
// `promtool check metrics`; and the job fields of JSON log lines. No test
// measures time: each waits for a state.
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobrunner/app/metrics.hpp"
#include "jobrunner/core/prometheus_text.hpp"
#include "jobrunner/runtime/runner_metrics.hpp"
#include "runner_process_test.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;
using testing::bin;
using testing::eventually;
using testing::Program;
using testing::run_program;

constexpr int kUsage = 64;

// A file under the temporary directory, removed at the end of the test.
class TempPath {
 public:
  explicit TempPath(const std::string& name) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("jobrunner-metrics-" + std::to_string(getpid()) + "-" + std::to_string(counter++) +
             "-" + name);
  }
  ~TempPath() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  std::string str() const { return path_.string(); }
  std::string read() const {
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

 private:
  std::filesystem::path path_;
};

// `promtool check metrics` on `text`: passes when it exits 0 with nothing to
// say (a lint problem is printed and exits 1).
::testing::AssertionResult promtool_accepts(const std::string& text) {
  TempPath file("check.prom");
  std::ofstream(file.str(), std::ios::binary) << text;
  const auto result =
      run_program({"/bin/sh", "-c", "promtool check metrics < '" + file.str() + "'"});
  if (result.exit_code == 0 && result.out.empty() && result.err.empty()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "promtool check metrics exited " << result.exit_code
                                       << ":\n" << result.out << result.err << "--- input:\n"
                                       << text;
}

// The value of the sample `series` (name and labels exactly as rendered),
// or nullopt when the text has no such line.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// ---- The counters and what they render to (no database) ----------------------

TEST(RunnerMetricsTest, the_histogram_counts_each_run_in_its_bucket_cumulatively) {
  RunnerMetrics m;
  m.observe_run(500us);   // <= 0.001
  m.observe_run(20ms);    // <= 0.025
  m.observe_run(20ms);
  m.observe_run(2h);      // past the last bound: +Inf only
  const auto s = m.snapshot();
  EXPECT_EQ(s.runs, 4u);
  EXPECT_EQ(s.run_buckets.front(), 1u);                 // 0.001
  EXPECT_EQ(s.run_buckets[3], 3u);                      // 0.025
  EXPECT_EQ(s.run_buckets.back(), 3u);                  // 3600
  EXPECT_NEAR(s.run_seconds, 7200.0405, 1e-6);
}

TEST(RunnerMetricsTest, counts_add_up_and_the_last_pass_is_unset_until_one_committed) {
  RunnerMetrics m;
  EXPECT_FALSE(m.snapshot().last_pass_unix_seconds);
  m.add_claimed(100);
  m.add_ended(90, 4, 3, 2, 1);
  m.add_ended(1, 0, 0, 0, 0);
  m.add_rescued(5);
  m.passed();
  const auto s = m.snapshot();
  EXPECT_EQ(s.claimed, 100u);
  EXPECT_EQ(s.completed, 91u);
  EXPECT_EQ(s.failed, 4u);
  EXPECT_EQ(s.retried, 3u);
  EXPECT_EQ(s.suspended, 2u);
  EXPECT_EQ(s.lease_lost, 1u);
  EXPECT_EQ(s.rescued, 5u);
  ASSERT_TRUE(s.last_pass_unix_seconds);
  EXPECT_GT(*s.last_pass_unix_seconds, 1.6e9);
}

TEST(RunnerMetricsTest, every_family_renders_to_text_that_promtool_accepts) {
  RunnerMetrics m;
  m.add_claimed(3);
  m.add_ended(2, 1, 0, 0, 0);
  m.observe_run(3ms);
  m.passed();
  auto families = app::runner_families("foo", m.snapshot(), 1.7e9);
  const auto queue = app::queue_families(
      {{.job_type = "foo", .waiting = 5, .ready = 4, .oldest_ready_age = Duration(2500)},
       {.job_type = "we\"ird\\type"}},
      1.7e9);
  families.insert(families.end(), queue.begin(), queue.end());
  const auto text = metrics::render(families);
  EXPECT_TRUE(promtool_accepts(text));
  EXPECT_EQ(sample(text, "jobrunner_jobs_completed_total{job_type=\"foo\"}"), 2);
  EXPECT_EQ(sample(text, "jobrunner_jobs_failed_total{job_type=\"foo\"}"), 1);
  EXPECT_EQ(sample(text, "jobrunner_job_run_duration_seconds_bucket{job_type=\"foo\",le=\"0.005\"}"), 1);
  EXPECT_EQ(sample(text, "jobrunner_queue_jobs{job_type=\"foo\",status=\"WAITING\"}"), 5);
  EXPECT_EQ(sample(text, "jobrunner_queue_lag_seconds{job_type=\"foo\"}"), 2.5);
  EXPECT_EQ(sample(text, "jobrunner_queue_lag_seconds{job_type=\"we\\\"ird\\\\type\"}"), 0);

  const auto run = metrics::render(app::run_families("foo", m.snapshot(), {1.7e9, 1.7e9 + 3, 0}));
  EXPECT_TRUE(promtool_accepts(run));
  EXPECT_EQ(sample(run, "jobrunner_run_jobs_completed{job_type=\"foo\"}"), 2);
  EXPECT_NE(run.find("# TYPE jobrunner_run_jobs_completed gauge"), std::string::npos);
  EXPECT_EQ(run.find(" counter\n"), std::string::npos) << "a cron run's figures are gauges";
}

TEST(MetricsFileTest, is_replaced_whole_and_leaves_no_temporary_file) {
  TempPath path("run.prom");
  app::write_file_atomically(path.str(), "old 1\n");
  app::write_file_atomically(path.str(), "new 2\n");
  EXPECT_EQ(path.read(), "new 2\n");
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path())) {
    EXPECT_EQ(entry.path().string().rfind(path.str() + ".", 0), std::string::npos)
        << "left behind: " << entry.path();
  }
  EXPECT_THROW(app::write_file_atomically("/nonexistent-dir/x.prom", "x 1\n"), ConfigError);
}

// ---- Through the real executables -------------------------------------------

class MetricsProcessTest : public testing::RunnerProcessTest {
 protected:
  testing::ProcessResult jobctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {bin("jobctl"), "--db", db.conninfo()});
    return run_program(args);
  }
  // The port a daemon started with --metrics-listen ADDR:0 logged.
  static int metrics_port(const Program& daemon) {
    int port = 0;
    EXPECT_TRUE(eventually([&] {
      static const std::regex line(R"(serving metrics on http://127\.0\.0\.1:(\d+)/metrics)");
      std::smatch m;
      const auto err = daemon.stderr_so_far();
      if (!std::regex_search(err, m, line)) return false;
      port = std::stoi(m[1].str());
      return true;
    })) << daemon.stderr_so_far();
    return port;
  }
  void stop_daemon(Program& daemon) const {
    daemon.signal(SIGTERM);
    ASSERT_TRUE(daemon.exited_within(60s)) << "the daemon did not stop on SIGTERM";
    const auto result = daemon.wait();
    EXPECT_EQ(result.exit_code, 0) << result.err;
  }
  static std::string scrape(int port, int* status = nullptr,
                            std::string* content_type = nullptr) {
    httplib::Client client("127.0.0.1", port);
    const auto response = client.Get("/metrics");
    if (!response) return {};
    if (status != nullptr) *status = response->status;
    if (content_type != nullptr) *content_type = response->get_header_value("Content-Type");
    return response->body;
  }
};

TEST_F(MetricsProcessTest, jobctl_metrics_prints_the_depths_of_every_registered_type) {
  enqueue();
  enqueue();
  const auto suspended = enqueue();
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    testing::move_job(tx, suspended, JobStatus::suspended);
    tx.commit();
  }
  const auto result = jobctl({"metrics"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(promtool_accepts(result.out));
  const auto& out = result.out;
  EXPECT_EQ(sample(out, R"(jobrunner_queue_jobs{job_type="foo",status="WAITING"})"), 2);
  EXPECT_EQ(sample(out, R"(jobrunner_queue_jobs{job_type="foo",status="SUSPENDED"})"), 1);
  EXPECT_EQ(sample(out, R"(jobrunner_queue_jobs{job_type="foo",status="RUNNING"})"), 0);
  EXPECT_EQ(sample(out, R"(jobrunner_queue_ready_jobs{job_type="foo"})"), 2);
  EXPECT_GE(sample(out, R"(jobrunner_queue_lag_seconds{job_type="foo"})").value_or(-1), 0);
  // Registered types with no job show zeros.
  EXPECT_EQ(sample(out, R"(jobrunner_queue_jobs{job_type="noop",status="WAITING"})"), 0);
  EXPECT_EQ(sample(out, R"(jobrunner_queue_lag_seconds{job_type="noop"})"), 0);

  const auto one = jobctl({"metrics", "--type", "noop"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out.find("job_type=\"foo\""), std::string::npos) << one.out;
  EXPECT_EQ(jobctl({"metrics", "--type", "nosuchtype"}).exit_code, 65);
}

TEST_F(MetricsProcessTest, jobctl_metrics_file_is_written_atomically) {
  enqueue();
  TempPath file("queue.prom");
  const auto result = jobctl({"metrics", "--file", file.str()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_TRUE(promtool_accepts(file.read()));
  EXPECT_EQ(sample(file.read(), R"(jobrunner_queue_jobs{job_type="foo",status="WAITING"})"), 1);
}

TEST_F(MetricsProcessTest, a_cron_run_writes_its_figures_as_gauges_and_the_queue_to_its_file) {
  enqueue();
  enqueue();
  enqueue({{"outcome", "error"}});
  enqueue({{"outcome", "suspend"}});
  enqueue({{"outcome", "retry"}}, 3);  // retried once in this run (retry delay 1h)
  const auto left = enqueue();
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    testing::move_job(tx, left, JobStatus::suspended);
    tx.commit();
  }
  TempPath file("run.prom");
  const auto result =
      run_program(runner_argv({"--metrics-file", file.str(), "--retry-delay", "1h"}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto text = file.read();
  EXPECT_TRUE(promtool_accepts(text));
  EXPECT_EQ(sample(text, R"(jobrunner_run_jobs_claimed{job_type="foo"})"), 5);
  EXPECT_EQ(sample(text, R"(jobrunner_run_jobs_completed{job_type="foo"})"), 2);
  EXPECT_EQ(sample(text, R"(jobrunner_run_jobs_failed{job_type="foo"})"), 1);
  EXPECT_EQ(sample(text, R"(jobrunner_run_jobs_suspended{job_type="foo"})"), 1);
  EXPECT_EQ(sample(text, R"(jobrunner_run_jobs_retried{job_type="foo"})"), 1);
  EXPECT_EQ(sample(text, R"(jobrunner_run_jobs_lease_lost{job_type="foo"})"), 0);
  EXPECT_EQ(sample(text, R"(jobrunner_run_exit_code{job_type="foo"})"), 0);
  EXPECT_TRUE(sample(text, R"(jobrunner_runner_last_pass_timestamp_seconds{job_type="foo"})"));
  // The queue as the run left it: the retry waits, two jobs are suspended.
  EXPECT_EQ(sample(text, R"(jobrunner_queue_jobs{job_type="foo",status="WAITING"})"), 1);
  EXPECT_EQ(sample(text, R"(jobrunner_queue_jobs{job_type="foo",status="SUSPENDED"})"), 2);
  EXPECT_EQ(sample(text, R"(jobrunner_queue_ready_jobs{job_type="foo"})"), 0);
  EXPECT_EQ(text.find("_total"), std::string::npos) << "no counter in a cron run's file";
}

TEST_F(MetricsProcessTest, a_cron_run_that_finds_the_lock_held_records_its_exit_code) {
  auto conn = db.connect();
  {
    auto tx = conn.begin();
    ASSERT_TRUE(store.try_lock_type(tx, "someone-else:1", 1h).token);
    tx.commit();
  }
  TempPath file("locked.prom");
  const auto result = run_program(runner_argv({"--metrics-file", file.str()}));
  ASSERT_EQ(result.exit_code, 69) << result.err;
  EXPECT_TRUE(promtool_accepts(file.read()));
  EXPECT_EQ(sample(file.read(), R"(jobrunner_run_exit_code{job_type="foo"})"), 69);
}

TEST_F(MetricsProcessTest, a_daemon_serves_its_counters_and_the_queue_on_a_port_it_picked) {
  Program daemon(runner_argv({"--daemon", "--metrics-listen", "127.0.0.1:0",
                              "--metrics-interval", "1h", "--poll-interval", "200ms"}));
  const int port = metrics_port(daemon);
  ASSERT_GT(port, 0);
  const auto first = enqueue();
  enqueue({{"outcome", "user_error"}});
  ASSERT_TRUE(eventually([&] {
    return db.scalar("SELECT count(*) FROM job WHERE status IN (2, 3)") == 2;
  }));
  std::string text;
  ASSERT_TRUE(eventually([&] {
    text = scrape(port);
    return sample(text, R"(jobrunner_jobs_completed_total{job_type="foo"})") == 1 &&
           sample(text, R"(jobrunner_jobs_failed_total{job_type="foo"})") == 1;
  })) << text;
  int status = 0;
  std::string content_type;
  text = scrape(port, &status, &content_type);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_TRUE(promtool_accepts(text));
  EXPECT_EQ(sample(text, R"(jobrunner_jobs_claimed_total{job_type="foo"})"), 2);
  EXPECT_EQ(sample(text, R"(jobrunner_job_run_duration_seconds_count{job_type="foo"})"), 2);
  EXPECT_TRUE(sample(text, R"(jobrunner_runner_last_pass_timestamp_seconds{job_type="foo"})"));
  // The queue was read once, at the first scrape, and not again within
  // --metrics-interval (1h), whatever the scrape rate.
  const auto read_at = sample(text, "jobrunner_queue_read_timestamp_seconds");
  ASSERT_TRUE(read_at) << text;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sample(scrape(port), "jobrunner_queue_read_timestamp_seconds"), read_at);
  }
  EXPECT_EQ(status_of(first), kCompleted);
  stop_daemon(daemon);
}

TEST_F(MetricsProcessTest, the_queue_families_are_read_again_after_the_interval) {
  Program daemon(runner_argv({"--daemon", "--metrics-listen", "127.0.0.1:0",
                              "--metrics-interval", "1s", "--poll-interval", "200ms"}));
  const int port = metrics_port(daemon);
  std::optional<double> first;
  ASSERT_TRUE(eventually([&] {
    first = sample(scrape(port), "jobrunner_queue_read_timestamp_seconds");
    return first.has_value();
  }));
  EXPECT_TRUE(eventually([&] {
    const auto later = sample(scrape(port), "jobrunner_queue_read_timestamp_seconds");
    return later && *later >= *first + 1;
  }));
  stop_daemon(daemon);
}

TEST_F(MetricsProcessTest, metrics_options_are_refused_where_they_do_not_apply) {
  const auto cron = run_program(runner_argv({"--metrics-listen", "127.0.0.1:0"}));
  EXPECT_EQ(cron.exit_code, kUsage) << cron.err;
  EXPECT_NE(cron.err.find("--daemon"), std::string::npos) << cron.err;
  const auto file = run_program(runner_argv({"--daemon", "--metrics-file", "/tmp/x.prom"}));
  EXPECT_EQ(file.exit_code, kUsage) << file.err;
  for (const char* bad : {"127.0.0.1", "127.0.0.1:99999", ":80", "::1:80", "host:port"}) {
    const auto result = run_program(runner_argv({"--daemon", "--metrics-listen", bad}));
    EXPECT_EQ(result.exit_code, kUsage) << bad << ": " << result.err;
  }
  const auto interval = run_program(
      runner_argv({"--daemon", "--metrics-listen", "127.0.0.1:0", "--metrics-interval", "10ms"}));
  EXPECT_EQ(interval.exit_code, kUsage) << interval.err;
}

TEST_F(MetricsProcessTest, a_port_in_use_is_a_configuration_error) {
  Program first(runner_argv({"--daemon", "--metrics-listen", "127.0.0.1:0"}));
  const int port = metrics_port(first);
  // (--max-runtime: should it bind after all, it ends and the test fails
  // instead of waiting for ever.)
  const auto second = run_program(runner_argv({"--daemon", "--metrics-listen",
                                               "127.0.0.1:" + std::to_string(port),
                                               "--max-runtime", "20s"}));
  EXPECT_EQ(second.exit_code, 78) << second.err;
  EXPECT_NE(second.err.find("cannot listen on 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << second.err;
  stop_daemon(first);
}

// ---- JSON log lines about a job carry its id, type and attempt ---------------

TEST_F(MetricsProcessTest, json_log_lines_about_a_job_carry_its_id_type_and_attempt) {
  const auto ok = enqueue();
  const auto retried = enqueue({{"outcome", "retry"}, {"succeed_on_attempt", 2}}, 3);
  const auto result = run_program(
      runner_argv({"--log-format", "json", "--retry-delay", "0s", "--log-level", "debug"}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  int about_jobs = 0;
  bool saw_second_attempt = false;
  std::istringstream in(result.err);
  for (std::string line; std::getline(in, line);) {
    const auto json = nlohmann::json::parse(line);
    const auto msg = json.at("msg").get<std::string>();
    std::smatch m;
    if (!std::regex_search(msg, m, std::regex(R"(^job (\d+): )"))) {
      EXPECT_FALSE(json.contains("job_id")) << line;
      continue;
    }
    ++about_jobs;
    ASSERT_TRUE(json.contains("job_id")) << line;
    EXPECT_EQ(json.at("job_id").get<std::int64_t>(), std::stoll(m[1].str())) << line;
    EXPECT_EQ(json.at("job_type"), "foo") << line;
    const auto id = json.at("job_id").get<std::int64_t>();
    EXPECT_TRUE(id == ok || id == retried) << line;
    EXPECT_GE(json.at("attempt").get<int>(), 1) << line;
    if (id == retried && json.at("attempt") == 2) saw_second_attempt = true;
  }
  EXPECT_GE(about_jobs, 4) << result.err;  // two starts and two ends at least
  EXPECT_TRUE(saw_second_attempt) << result.err;
}

}  // namespace
}  // namespace jobrunner
