// decide(): what happens to a job after a run ends (pure, no database).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "jobrunner/core/decision.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;
using Kind = Outcome::Kind;

const RetryPolicy kPolicy{.retry_delay = 42s};

Outcome outcome(Kind kind, std::string message = "something happened") {
  return Outcome{.kind = kind, .error_type = "SomeError", .message = std::move(message)};
}

TEST(Decide, success_completes_the_job) {
  const auto d = decide(outcome(Kind::success), 1, 3, kPolicy);
  EXPECT_EQ(d.next, JobStatus::completed);
  EXPECT_FALSE(d.retry_after.has_value());
  EXPECT_FALSE(d.file_error_report);
  EXPECT_FALSE(d.notify_requester);
}

TEST(Decide, success_on_the_last_attempt_still_completes) {
  const auto d = decide(outcome(Kind::success), 4, 3, kPolicy);
  EXPECT_EQ(d.next, JobStatus::completed);
  EXPECT_FALSE(d.file_error_report);
}

TEST(Decide, a_retry_error_requeues_while_attempts_remain) {
  for (int attempt = 1; attempt <= 3; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    const auto d = decide(outcome(Kind::retry), attempt, 3, kPolicy);
    EXPECT_EQ(d.next, JobStatus::waiting);
    ASSERT_TRUE(d.retry_after.has_value());
    EXPECT_EQ(*d.retry_after, Duration(42s));
    EXPECT_FALSE(d.file_error_report);
    EXPECT_FALSE(d.notify_requester);
  }
}

TEST(Decide, a_retry_error_uses_the_policys_delay) {
  const auto d = decide(outcome(Kind::retry), 1, 3, RetryPolicy{.retry_delay = 250ms});
  ASSERT_TRUE(d.retry_after.has_value());
  EXPECT_EQ(*d.retry_after, Duration(250ms));
}

TEST(Decide, a_retry_error_fails_with_a_report_once_retries_are_spent) {
  const auto d = decide(outcome(Kind::retry, "the network is down"), 4, 3, kPolicy);
  EXPECT_EQ(d.next, JobStatus::failed);
  EXPECT_FALSE(d.retry_after.has_value());
  EXPECT_TRUE(d.file_error_report);
  EXPECT_FALSE(d.notify_requester);
  EXPECT_NE(d.log_line.find("the network is down"), std::string::npos) << d.log_line;
}

TEST(Decide, with_max_retries_zero_the_first_retry_error_fails_the_job) {
  const auto d = decide(outcome(Kind::retry), 1, 0, kPolicy);
  EXPECT_EQ(d.next, JobStatus::failed);
  EXPECT_TRUE(d.file_error_report);
  EXPECT_FALSE(d.retry_after.has_value());
}

TEST(Decide, with_max_retries_zero_an_expired_lease_fails_the_job) {
  const auto d = decide(outcome(Kind::lease_expired), 1, 0, kPolicy);
  EXPECT_EQ(d.next, JobStatus::failed);
  EXPECT_TRUE(d.file_error_report);
}

TEST(Decide, with_max_retries_zero_success_completes) {
  EXPECT_EQ(decide(outcome(Kind::success), 1, 0, kPolicy).next, JobStatus::completed);
}

TEST(Decide, a_user_error_fails_and_notifies_the_requester_without_a_report) {
  const auto d = decide(outcome(Kind::user_error, "no such branch"), 1, 3, kPolicy);
  EXPECT_EQ(d.next, JobStatus::failed);
  EXPECT_TRUE(d.notify_requester);
  EXPECT_FALSE(d.file_error_report);
  EXPECT_FALSE(d.retry_after.has_value());
  EXPECT_NE(d.log_line.find("no such branch"), std::string::npos) << d.log_line;
}

TEST(Decide, a_suspend_request_suspends_the_job) {
  const auto d = decide(outcome(Kind::suspend), 1, 3, kPolicy);
  EXPECT_EQ(d.next, JobStatus::suspended);
  EXPECT_FALSE(d.file_error_report);
  EXPECT_FALSE(d.notify_requester);
  EXPECT_FALSE(d.retry_after.has_value());
}

TEST(Decide, an_unexpected_error_fails_with_a_report) {
  const auto d = decide(outcome(Kind::unexpected, "null pointer"), 1, 3, kPolicy);
  EXPECT_EQ(d.next, JobStatus::failed);
  EXPECT_TRUE(d.file_error_report);
  EXPECT_FALSE(d.notify_requester);
  EXPECT_FALSE(d.retry_after.has_value());
  EXPECT_NE(d.log_line.find("SomeError"), std::string::npos) << d.log_line;
  EXPECT_NE(d.log_line.find("null pointer"), std::string::npos) << d.log_line;
}

TEST(Decide, an_unexpected_error_is_not_retried_even_with_attempts_left) {
  EXPECT_EQ(decide(outcome(Kind::unexpected), 1, 100, kPolicy).next, JobStatus::failed);
}

TEST(Decide, an_expired_lease_requeues_at_once_while_attempts_remain) {
  const auto d = decide(outcome(Kind::lease_expired), 3, 3, kPolicy);
  EXPECT_EQ(d.next, JobStatus::waiting);
  ASSERT_TRUE(d.retry_after.has_value());
  EXPECT_EQ(*d.retry_after, Duration::zero());
  EXPECT_FALSE(d.file_error_report);
}

TEST(Decide, an_expired_lease_fails_with_a_report_once_retries_are_spent) {
  const auto d = decide(outcome(Kind::lease_expired), 4, 3, kPolicy);
  EXPECT_EQ(d.next, JobStatus::failed);
  EXPECT_TRUE(d.file_error_report);
  EXPECT_FALSE(d.retry_after.has_value());
}

TEST(Decide, every_decision_has_a_log_line) {
  for (const auto kind : {Kind::success, Kind::retry, Kind::user_error, Kind::suspend,
                          Kind::unexpected, Kind::lease_expired}) {
    EXPECT_FALSE(decide(outcome(kind), 1, 3, kPolicy).log_line.empty());
  }
}

// ---- Backoff and minimum delays (issue 12) ---------------------------------

const RetryPolicy kBackoff{.retry_delay = 10s, .backoff = true, .max_retry_delay = 1h};
const JitterSource kNoJitter = [] { return 1.0; };   // the whole ceiling
const JitterSource kLowest = [] { return 0.0; };     // half the ceiling
const JitterSource kMiddle = [] { return 0.5; };

Outcome retry_after(Duration min_delay) {
  auto o = outcome(Kind::retry, "503 Service Unavailable");
  o.min_delay = min_delay;
  return o;
}

TEST(Backoff, without_it_every_retry_waits_the_same_delay_whatever_the_jitter) {
  for (int attempt = 1; attempt <= 5; ++attempt) {
    EXPECT_EQ(retry_delay_for(kPolicy, attempt, kLowest), Duration(42s));
    EXPECT_EQ(*decide(outcome(Kind::retry), attempt, 9, kPolicy, kLowest).retry_after,
              Duration(42s));
  }
}

TEST(Backoff, the_ceiling_doubles_with_each_attempt_from_the_base_delay) {
  EXPECT_EQ(retry_delay_for(kBackoff, 1, kNoJitter), Duration(10s));
  EXPECT_EQ(retry_delay_for(kBackoff, 2, kNoJitter), Duration(20s));
  EXPECT_EQ(retry_delay_for(kBackoff, 3, kNoJitter), Duration(40s));
  EXPECT_EQ(retry_delay_for(kBackoff, 4, kNoJitter), Duration(80s));
  EXPECT_EQ(*decide(outcome(Kind::retry), 3, 9, kBackoff, kNoJitter).retry_after, Duration(40s));
}

TEST(Backoff, an_empty_jitter_source_means_the_whole_ceiling) {
  EXPECT_EQ(retry_delay_for(kBackoff, 3), Duration(40s));
  EXPECT_EQ(*decide(outcome(Kind::retry), 3, 9, kBackoff).retry_after, Duration(40s));
}

TEST(Backoff, is_capped_and_never_overflows_however_many_attempts) {
  EXPECT_EQ(retry_delay_for(kBackoff, 9, kNoJitter), Duration(2560s));  // 10s * 2^8
  EXPECT_EQ(retry_delay_for(kBackoff, 10, kNoJitter), Duration(1h));   // 10s * 2^9 > 1h
  EXPECT_EQ(retry_delay_for(kBackoff, 1000, kNoJitter), Duration(1h));
  EXPECT_EQ(retry_delay_for(kBackoff, std::numeric_limits<int>::max(), kNoJitter), Duration(1h));
  const RetryPolicy huge{.retry_delay = Duration(std::numeric_limits<Duration::rep>::max() / 3),
                         .backoff = true,
                         .max_retry_delay = Duration(std::numeric_limits<Duration::rep>::max())};
  EXPECT_EQ(retry_delay_for(huge, 5, kNoJitter), huge.max_retry_delay);
}

TEST(Backoff, equal_jitter_keeps_each_wait_between_half_and_all_of_its_ceiling) {
  EXPECT_EQ(retry_delay_for(kBackoff, 3, kLowest), Duration(20s));
  EXPECT_EQ(retry_delay_for(kBackoff, 3, kMiddle), Duration(30s));
  EXPECT_EQ(retry_delay_for(kBackoff, 10, kLowest), Duration(30min));
  // The lowest wait of an attempt is never below the lowest of the one before.
  for (int attempt = 2; attempt < 20; ++attempt) {
    EXPECT_GE(retry_delay_for(kBackoff, attempt, kLowest),
              retry_delay_for(kBackoff, attempt - 1, kLowest));
  }
}

TEST(Backoff, a_jitter_source_out_of_range_is_clamped) {
  EXPECT_EQ(retry_delay_for(kBackoff, 3, [] { return -5.0; }), Duration(20s));
  EXPECT_EQ(retry_delay_for(kBackoff, 3, [] { return 7.0; }), Duration(40s));
  EXPECT_EQ(retry_delay_for(kBackoff, 3, [] { return std::nan(""); }), Duration(20s));
}

TEST(Backoff, the_random_source_stays_within_the_bounds) {
  const auto jitter = random_jitter();
  for (int i = 0; i < 1000; ++i) {
    const auto d = retry_delay_for(kBackoff, 4, jitter);
    EXPECT_GE(d, Duration(40s));
    EXPECT_LE(d, Duration(80s));
  }
}

TEST(Backoff, a_base_delay_above_the_cap_is_the_wait) {
  const RetryPolicy odd{.retry_delay = 2h, .backoff = true, .max_retry_delay = 1h};
  EXPECT_EQ(retry_delay_for(odd, 1, kNoJitter), Duration(2h));
  EXPECT_EQ(retry_delay_for(odd, 5, kNoJitter), Duration(2h));
}

TEST(Backoff, the_log_line_says_how_long_the_job_waits) {
  const auto d = decide(outcome(Kind::retry), 2, 9, kBackoff, kNoJitter);
  EXPECT_NE(d.log_line.find("will be retried in 20s"), std::string::npos) << d.log_line;
  // Without backoff or a minimum delay the line is today's.
  const auto plain = decide(outcome(Kind::retry), 2, 9, kPolicy, kNoJitter);
  EXPECT_NE(plain.log_line.find("will be retried: "), std::string::npos) << plain.log_line;
}

TEST(MinimumDelay, a_retry_never_comes_sooner_than_the_outcomes_minimum) {
  EXPECT_EQ(*decide(retry_after(5min), 1, 3, kPolicy).retry_after, Duration(5min));
  EXPECT_EQ(*decide(retry_after(5min), 1, 3, kBackoff, kNoJitter).retry_after, Duration(5min));
  EXPECT_NE(decide(retry_after(5min), 1, 3, kPolicy).log_line.find("retried in 5m"),
            std::string::npos);
}

TEST(MinimumDelay, a_shorter_minimum_leaves_the_policys_delay) {
  EXPECT_EQ(*decide(retry_after(1s), 1, 3, kPolicy).retry_after, Duration(42s));
  EXPECT_EQ(*decide(retry_after(1s), 4, 9, kBackoff, kNoJitter).retry_after, Duration(80s));
  EXPECT_EQ(*decide(retry_after(0s), 1, 3, kPolicy).retry_after, Duration(42s));
}

TEST(MinimumDelay, wins_over_the_cap_of_the_backoff) {
  EXPECT_EQ(*decide(retry_after(3h), 20, 30, kBackoff, kNoJitter).retry_after, Duration(3h));
}

TEST(MinimumDelay, does_not_keep_a_job_whose_retries_are_spent) {
  const auto d = decide(retry_after(1h), 4, 3, kBackoff, kNoJitter);
  EXPECT_EQ(d.next, JobStatus::failed);
  EXPECT_FALSE(d.retry_after.has_value());
  EXPECT_TRUE(d.file_error_report);
}

TEST(MinimumDelay, an_expired_lease_is_still_retried_at_once_with_backoff) {
  const auto d = decide(outcome(Kind::lease_expired), 3, 9, kBackoff, kNoJitter);
  EXPECT_EQ(*d.retry_after, Duration::zero());
}

TEST(MinimumDelay, a_timeout_backs_off_like_a_retry_error) {
  const auto d = decide(outcome(Kind::timeout), 3, 9, kBackoff, kLowest);
  EXPECT_EQ(*d.retry_after, Duration(20s));
  EXPECT_TRUE(d.file_error_report);
}

TEST(MinimumDelay, a_retry_error_carries_it_and_an_ordinary_one_has_none) {
  EXPECT_FALSE(RetryError("busy").min_delay().has_value());
  const RetryError e("busy", 90s);
  ASSERT_TRUE(e.min_delay().has_value());
  EXPECT_EQ(*e.min_delay(), Duration(90s));
  EXPECT_STREQ(e.what(), "busy");
}

}  // namespace
}  // namespace jobrunner
