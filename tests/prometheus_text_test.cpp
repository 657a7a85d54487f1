// The Prometheus text format renderer (core/prometheus_text.hpp): names,
// HELP and TYPE lines, label escaping, values, histograms, and what it
// refuses. Pure: no database.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "jobrunner/core/prometheus_text.hpp"

namespace jobrunner::metrics {
namespace {

TEST(PrometheusTextTest, a_counter_has_help_and_type_lines_then_its_labelled_samples) {
  const Family completed{"jobrunner_jobs_completed_total", "Jobs recorded COMPLETED.",
                         Kind::counter,
                         {{{{"job_type", "foo"}}, 3}, {{{"job_type", "bar"}}, 0}},
                         {}};
  EXPECT_EQ(render({completed}),
            "# HELP jobrunner_jobs_completed_total Jobs recorded COMPLETED.\n"
            "# TYPE jobrunner_jobs_completed_total counter\n"
            "jobrunner_jobs_completed_total{job_type=\"foo\"} 3\n"
            "jobrunner_jobs_completed_total{job_type=\"bar\"} 0\n");
}

TEST(PrometheusTextTest, a_gauge_without_labels_has_no_braces_and_several_labels_keep_their_order) {
  const Family read{"jobrunner_queue_read_timestamp_seconds", "When.", Kind::gauge,
                    {{{}, 1700000000.25}}, {}};
  const Family jobs{"jobrunner_queue_jobs", "Jobs.", Kind::gauge,
                    {{{{"job_type", "foo"}, {"status", "WAITING"}}, 12}}, {}};
  EXPECT_EQ(render({read, jobs}),
            "# HELP jobrunner_queue_read_timestamp_seconds When.\n"
            "# TYPE jobrunner_queue_read_timestamp_seconds gauge\n"
            "jobrunner_queue_read_timestamp_seconds 1700000000.25\n"
            "# HELP jobrunner_queue_jobs Jobs.\n"
            "# TYPE jobrunner_queue_jobs gauge\n"
            "jobrunner_queue_jobs{job_type=\"foo\",status=\"WAITING\"} 12\n");
}

TEST(PrometheusTextTest, label_values_escape_backslash_quote_and_newline) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)" "\n" "d"), R"(a\\b\"c\nd)");
  const Family f{"x", "h", Kind::gauge, {{{{"job_type", "we\"ird\\\n"}}, 1}}, {}};
  EXPECT_NE(render({f}).find(R"(x{job_type="we\"ird\\\n"} 1)"), std::string::npos) << render({f});
}

TEST(PrometheusTextTest, help_escapes_backslash_and_newline_but_not_quotes) {
  EXPECT_EQ(escape_help("two\nlines \\ and \"quotes\""), "two\\nlines \\\\ and \"quotes\"");
}

TEST(PrometheusTextTest, values_are_integers_when_whole_and_shortest_round_trip_otherwise) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(-0.0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(1e15), "1000000000000000");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(2.5e-7), "2.5e-07");
  EXPECT_EQ(format_value(1e300), "1e+300");
  EXPECT_EQ(format_value(INFINITY), "+Inf");
  EXPECT_EQ(format_value(-INFINITY), "-Inf");
  EXPECT_EQ(format_value(NAN), "NaN");
}

TEST(PrometheusTextTest, a_histogram_has_cumulative_buckets_an_inf_bucket_a_sum_and_a_count) {
  const Family runs{"jobrunner_job_run_duration_seconds", "How long.", Kind::histogram, {},
                    {{{{"job_type", "foo"}}, {{0.5, 1}, {1, 3}}, 4.75, 5}}};
  EXPECT_EQ(render({runs}),
            "# HELP jobrunner_job_run_duration_seconds How long.\n"
            "# TYPE jobrunner_job_run_duration_seconds histogram\n"
            "jobrunner_job_run_duration_seconds_bucket{job_type=\"foo\",le=\"0.5\"} 1\n"
            "jobrunner_job_run_duration_seconds_bucket{job_type=\"foo\",le=\"1\"} 3\n"
            "jobrunner_job_run_duration_seconds_bucket{job_type=\"foo\",le=\"+Inf\"} 5\n"
            "jobrunner_job_run_duration_seconds_sum{job_type=\"foo\"} 4.75\n"
            "jobrunner_job_run_duration_seconds_count{job_type=\"foo\"} 5\n");
}

TEST(PrometheusTextTest, a_histogram_without_labels_has_only_le) {
  const Family h{"h_seconds", "h", Kind::histogram, {}, {{{}, {{1, 0}}, 0, 0}}};
  EXPECT_NE(render({h}).find("h_seconds_bucket{le=\"1\"} 0\n"), std::string::npos);
}

TEST(PrometheusTextTest, refuses_names_that_are_not_prometheus_names) {
  for (const char* bad : {"", "1abc", "has-dash", "has space", "é"}) {
    EXPECT_THROW(render({{bad, "h", Kind::gauge, {}, {}}}), std::invalid_argument) << bad;
  }
  EXPECT_NO_THROW(render({{"ok:with_colon9", "h", Kind::gauge, {}, {}}}));
  for (const char* bad : {"", "9x", "a:b", "__reserved", "le"}) {
    EXPECT_THROW(render({{"g", "h", Kind::gauge, {{{{bad, "v"}}, 1}}, {}}}),
                 std::invalid_argument)
        << bad;
  }
}

TEST(PrometheusTextTest, refuses_a_counter_whose_name_does_not_end_in_total) {
  EXPECT_THROW(render({{"jobrunner_jobs_completed", "h", Kind::counter, {}, {}}}),
               std::invalid_argument);
}

TEST(PrometheusTextTest, refuses_buckets_out_of_order_or_above_the_count) {
  const auto with = [](std::vector<std::pair<double, std::uint64_t>> buckets) {
    return Family{"h_seconds", "h", Kind::histogram, {}, {{{}, std::move(buckets), 1, 2}}};
  };
  EXPECT_THROW(render({with({{1, 1}, {0.5, 1}})}), std::invalid_argument);   // bounds descend
  EXPECT_THROW(render({with({{0.5, 2}, {1, 1}})}), std::invalid_argument);   // counts descend
  EXPECT_THROW(render({with({{0.5, 3}})}), std::invalid_argument);           // above the count
  EXPECT_THROW(render({with({{INFINITY, 2}})}), std::invalid_argument);      // +Inf is implied
  EXPECT_NO_THROW(render({with({{0.5, 1}, {1, 2}})}));
}

}  // namespace
}  // namespace jobrunner::metrics
