// decide(): what happens to a job after a run ends (pure, no database).
#include <gtest/gtest.h>

#include <chrono>
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

}  // namespace
}  // namespace jobrunner
