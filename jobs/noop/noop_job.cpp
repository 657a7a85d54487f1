#include "noop_job.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace jobrunner::noop {
namespace {

constexpr std::string_view kReportPrefix = "noop job ";
constexpr std::string_view kReportMiddle = " started at ";

// Parses a decimal integer at the front of `text` and drops it from there.
std::optional<std::int64_t> take_integer(std::string_view& text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end == text.data()) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return value;
}

}  // namespace

void NoopJob::perform() {
  const auto& meta = job().metadata;
  if (!meta.is_object() || !meta.value("report_start", false)) return;
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // One fprintf: stdio locks stderr for the call, so lines of jobs running
  // at once on other threads do not interleave.
  std::fprintf(stderr, "noop job %lld started at %lld\n", static_cast<long long>(job().id),
               static_cast<long long>(now_us));
  std::fflush(stderr);
}

std::optional<StartReport> parse_start_report(std::string_view line) {
  if (!line.starts_with(kReportPrefix)) return std::nullopt;
  line.remove_prefix(kReportPrefix.size());
  const auto id = take_integer(line);
  if (!id || !line.starts_with(kReportMiddle)) return std::nullopt;
  line.remove_prefix(kReportMiddle.size());
  const auto started = take_integer(line);
  if (!started || !line.empty()) return std::nullopt;
  return StartReport{.job_id = *id, .started_us = *started};
}

const JobType& noop_job_type() {
  static const JobType type{
      JobTypeSpec{
          .name = "noop",
          .display_name = "NoopJob",
          .table = "noopjob",
          .target_column = "foo",
          .target_table = "foo",
          .type_code = static_cast<int>(NoopJobType::noop),
          .retry = RetryPolicy{.retry_delay = std::chrono::seconds(30)},
          .lease = std::chrono::minutes(5),
          .default_max_retries = 3,
          // Benchmarks enqueue many jobs about one foo.
          .one_pending_per_target = false,
          .batch_completions = true,
      },
      [](Job job) -> std::unique_ptr<RunnableJob> {
        return std::make_unique<NoopJob>(std::move(job));
      },
  };
  return type;
}

}  // namespace jobrunner::noop
