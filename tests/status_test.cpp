// Job statuses and Launchpad's transition table (pure, no database).
#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <utility>

#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/status.hpp"

namespace jobrunner {
namespace {

using enum JobStatus;

constexpr std::array<JobStatus, 5> kAll = {waiting, running, completed, failed, suspended};

// Launchpad's five statuses and its table, written out edge by edge.
const std::set<std::pair<JobStatus, JobStatus>>& allowed() {
  static const std::set<std::pair<JobStatus, JobStatus>> edges = {
      {waiting, running},    {waiting, suspended},                           //
      {running, completed},  {running, failed},    {running, suspended},     //
      {running, waiting},                                                    //
      {failed, waiting},                                                     //
      {completed, waiting},                                                  //
      {suspended, waiting},                                                  //
  };
  return edges;
}

std::string pair_name(JobStatus from, JobStatus to) {
  return std::string(to_string(from)) + " -> " + std::string(to_string(to));
}

TEST(Status, can_transition_matches_launchpads_table_for_all_25_pairs) {
  int checked = 0;
  for (const auto from : kAll) {
    for (const auto to : kAll) {
      EXPECT_EQ(can_transition(from, to), allowed().contains({from, to})) << pair_name(from, to);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 25);
  EXPECT_EQ(allowed().size(), 9U);
}

TEST(Status, no_status_may_transition_to_itself) {
  for (const auto s : kAll) EXPECT_FALSE(can_transition(s, s)) << to_string(s);
}

TEST(Status, check_transition_accepts_exactly_the_allowed_pairs) {
  for (const auto from : kAll) {
    for (const auto to : kAll) {
      if (allowed().contains({from, to})) {
        EXPECT_NO_THROW(check_transition(from, to)) << pair_name(from, to);
      } else {
        EXPECT_THROW(check_transition(from, to), InvalidTransition) << pair_name(from, to);
      }
    }
  }
}

TEST(Status, an_invalid_transition_names_both_states) {
  for (const auto from : kAll) {
    for (const auto to : kAll) {
      if (allowed().contains({from, to})) continue;
      try {
        check_transition(from, to);
        ADD_FAILURE() << "no exception for " << pair_name(from, to);
      } catch (const InvalidTransition& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(to_string(from)), std::string::npos) << what;
        EXPECT_NE(what.find(to_string(to)), std::string::npos) << what;
        EXPECT_EQ(e.from(), from);
        EXPECT_EQ(e.to(), to);
      }
    }
  }
}

TEST(Status, completed_to_running_is_reported_with_both_names_in_order) {
  try {
    check_transition(completed, running);
    FAIL() << "COMPLETED -> RUNNING was accepted";
  } catch (const InvalidTransition& e) {
    const std::string what = e.what();
    const auto from_pos = what.find("COMPLETED");
    const auto to_pos = what.find("RUNNING");
    ASSERT_NE(from_pos, std::string::npos) << what;
    ASSERT_NE(to_pos, std::string::npos) << what;
    EXPECT_LT(from_pos, to_pos) << what;
  }
}

TEST(Status, invalid_transition_is_a_jobrunner_error) {
  EXPECT_THROW(check_transition(waiting, completed), Error);
}

TEST(Status, to_string_gives_launchpads_upper_case_names) {
  EXPECT_EQ(to_string(waiting), "WAITING");
  EXPECT_EQ(to_string(running), "RUNNING");
  EXPECT_EQ(to_string(completed), "COMPLETED");
  EXPECT_EQ(to_string(failed), "FAILED");
  EXPECT_EQ(to_string(suspended), "SUSPENDED");
}

TEST(Status, parse_status_round_trips_every_name) {
  for (const auto s : kAll) EXPECT_EQ(parse_status(to_string(s)), s) << to_string(s);
}

TEST(Status, parse_status_is_case_insensitive) {
  EXPECT_EQ(parse_status("waiting"), waiting);
  EXPECT_EQ(parse_status("Running"), running);
  EXPECT_EQ(parse_status("cOmPlEtEd"), completed);
  EXPECT_EQ(parse_status("failed"), failed);
  EXPECT_EQ(parse_status("Suspended"), suspended);
}

TEST(Status, parse_status_rejects_junk) {
  for (const char* junk : {"", "WAIT", "WAITINGS", " WAITING", "WAITING ", "done", "0", "RUN NING"}) {
    EXPECT_EQ(parse_status(junk), std::nullopt) << "'" << junk << "'";
  }
}

TEST(Status, values_are_launchpads) {
  EXPECT_EQ(static_cast<int>(waiting), 0);
  EXPECT_EQ(static_cast<int>(running), 1);
  EXPECT_EQ(static_cast<int>(completed), 2);
  EXPECT_EQ(static_cast<int>(failed), 3);
  EXPECT_EQ(static_cast<int>(suspended), 4);
}

TEST(Status, status_from_code_accepts_the_stored_values_and_nothing_else) {
  for (int code = 0; code <= 5; ++code) {
    ASSERT_TRUE(status_from_code(code).has_value()) << code;
    EXPECT_EQ(static_cast<int>(*status_from_code(code)), code);
  }
  EXPECT_EQ(status_from_code(5), cancelled);
  for (int code : {-1, 6, 7, 100, -32768, 2147483647}) {
    EXPECT_EQ(status_from_code(code), std::nullopt) << code;
  }
}

TEST(Status, only_completed_failed_and_cancelled_are_finished) {
  EXPECT_FALSE(is_finished(waiting));
  EXPECT_FALSE(is_finished(running));
  EXPECT_TRUE(is_finished(completed));
  EXPECT_TRUE(is_finished(failed));
  EXPECT_FALSE(is_finished(suspended));
  EXPECT_TRUE(is_finished(cancelled));
}

// CANCELLED is jobrunner's own status, beside Launchpad's table.
TEST(Status, cancelled_is_named_and_parsed_like_the_others) {
  EXPECT_EQ(to_string(cancelled), "CANCELLED");
  EXPECT_EQ(parse_status("cancelled"), cancelled);
  EXPECT_EQ(static_cast<int>(cancelled), 5);
}

TEST(Status, only_waiting_and_suspended_jobs_can_be_cancelled) {
  EXPECT_TRUE(can_transition(waiting, cancelled));
  EXPECT_TRUE(can_transition(suspended, cancelled));
  for (const auto from : {running, completed, failed, cancelled}) {
    EXPECT_FALSE(can_transition(from, cancelled)) << to_string(from);
    EXPECT_THROW(check_transition(from, cancelled), InvalidTransition) << to_string(from);
  }
}

TEST(Status, a_cancelled_job_can_only_go_back_to_waiting) {
  EXPECT_TRUE(can_transition(cancelled, waiting));
  for (const auto to : {running, completed, failed, suspended}) {
    EXPECT_FALSE(can_transition(cancelled, to)) << to_string(to);
  }
  try {
    check_transition(cancelled, running);
    FAIL() << "CANCELLED -> RUNNING was accepted";
  } catch (const InvalidTransition& e) {
    EXPECT_NE(std::string(e.what()).find("CANCELLED"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("RUNNING"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace jobrunner
