// NoopJob's start report (pure, no database): the line a NoopJob with
// "report_start" writes to stderr, which jobrunner-bench's latency measure
// parses back.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "noop/noop_job.hpp"

namespace jobrunner::noop {
namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

NoopJob job_with(std::int64_t id, nlohmann::json metadata) {
  Job job;
  job.id = id;
  job.metadata = std::move(metadata);
  return NoopJob(std::move(job));
}

TEST(NoopJob, test_report_start_writes_the_line_that_parse_start_report_reads) {
  auto job = job_with(42, {{"report_start", true}});
  const auto before = now_us();
  testing::internal::CaptureStderr();
  job.perform();
  const auto written = testing::internal::GetCapturedStderr();
  const auto after = now_us();

  ASSERT_FALSE(written.empty());
  ASSERT_EQ(written.back(), '\n');
  const auto report = parse_start_report(written.substr(0, written.size() - 1));
  ASSERT_TRUE(report.has_value()) << written;
  EXPECT_EQ(report->job_id, 42);
  EXPECT_GE(report->started_us, before);
  EXPECT_LE(report->started_us, after);
}

TEST(NoopJob, test_without_report_start_a_noop_job_writes_nothing) {
  for (const auto& metadata :
       {nlohmann::json::object(), nlohmann::json{{"report_start", false}}}) {
    auto job = job_with(7, metadata);
    testing::internal::CaptureStderr();
    job.perform();
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << metadata.dump();
  }
}

TEST(NoopJob, test_parse_start_report_refuses_other_lines) {
  EXPECT_FALSE(parse_start_report(""));
  EXPECT_FALSE(parse_start_report("noop job 1 started at"));
  EXPECT_FALSE(parse_start_report("noop job x started at 5"));
  EXPECT_FALSE(parse_start_report("noop job 1 started at 5 extra"));
  EXPECT_FALSE(parse_start_report("2026-12-01T12:00:00Z warn run-noop-jobs[1] noop job 1"));
  const auto ok = parse_start_report("noop job 12 started at 1764590400000000");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->job_id, 12);
  EXPECT_EQ(ok->started_us, 1764590400000000);
}

}  // namespace
}  // namespace jobrunner::noop
