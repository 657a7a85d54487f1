// What a job gives back besides its outcome (RunnableJob::set_result and
// add_log, core/attempt_output.hpp; issue 12's job.result): the runtime
// writes it with the attempt's end, for every outcome, in process and in an
// isolated child, transactional or with batch completions.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "foo/foo_job.hpp"
#include "jobrunner/core/outcome.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/runtime/runner.hpp"
#include "noop/noop_job.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using nlohmann::json;

// A job that gives back a result and log text, then ends as `end` says.
class GivingJob : public NonTransactionalJob {
 public:
  GivingJob(Job job, std::function<void()> end) : NonTransactionalJob(std::move(job)), end_(std::move(end)) {}
  void perform() override {
    set_result({{"job", job().id}, {"attempt", job().attempt_count}});
    add_log("\nsaid: hello from job " + std::to_string(job().id));
    if (end_) end_();
  }

 private:
  std::function<void()> end_;
};

JobType giving_type(const JobTypeSpec& spec, std::function<void()> end = {}) {
  return JobType{spec, [end](Job job) -> std::unique_ptr<RunnableJob> {
                   return std::make_unique<GivingJob>(std::move(job), end);
                 }};
}

class JobResultTest : public testing::DatabaseTest {
 protected:
  std::int64_t enqueue(const JobTypeSpec& spec) {
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = pg::JobStore(spec).enqueue(tx, {.target_id = db.make_foo()});
    tx.commit();
    return id;
  }
  void run_once(const JobType& type, bool isolate = false) {
    auto conn = db.connect();
    RunnerOptions options;
    options.owner = "job-result-test";
    if (isolate) {
      options.conninfo = db.conninfo();
      options.isolate = true;
    }
    RecordingNotificationHook hook;
    Runner runner(conn, type, options, hook);
    (void)runner.run_once();
  }
  std::optional<json> result_of(std::int64_t id) {
    const auto rows = db.sql("SELECT result::text AS t FROM job WHERE id = $1", id);
    if (rows.front().is_null("t")) return std::nullopt;
    return json::parse(rows.front().text("t"));
  }
  std::string log_of(std::int64_t id) {
    return db.sql("SELECT coalesce(log, '') AS t FROM job WHERE id = $1", id).front().text("t");
  }
  std::int64_t status_of(std::int64_t id) { return db.scalar("SELECT status FROM job WHERE id = $1", id); }

  static constexpr std::int64_t kWaiting = 0, kCompleted = 2, kFailed = 3;
};

// FooJob's spec: a transactional type (COMPLETED commits in the job's own
// transaction); NoopJob's: batch completions.
const JobTypeSpec& transactional() { return foo::foo_job_type().spec; }
const JobTypeSpec& batched() { return noop::noop_job_type().spec; }

TEST_F(JobResultTest, a_transactional_job_that_completes_keeps_its_result_and_log_line) {
  for (const bool isolate : {false, true}) {
    const auto id = enqueue(transactional());
    run_once(giving_type(transactional()), isolate);
    EXPECT_EQ(status_of(id), kCompleted) << "isolate " << isolate;
    EXPECT_EQ(result_of(id), (json{{"job", id}, {"attempt", 1}})) << "isolate " << isolate;
    EXPECT_NE(log_of(id).find("attempt 1: completed on attempt 1\nsaid: hello from job " +
                              std::to_string(id)),
              std::string::npos)
        << log_of(id);
  }
}

TEST_F(JobResultTest, a_job_with_batch_completions_keeps_its_result_and_log_line) {
  for (const bool isolate : {false, true}) {
    const auto id = enqueue(batched());
    run_once(giving_type(batched()), isolate);
    EXPECT_EQ(status_of(id), kCompleted) << "isolate " << isolate;
    EXPECT_EQ(result_of(id), (json{{"job", id}, {"attempt", 1}})) << "isolate " << isolate;
    EXPECT_NE(log_of(id).find("said: hello"), std::string::npos) << log_of(id);
  }
}

TEST_F(JobResultTest, a_job_that_fails_or_is_retried_keeps_what_it_gave_too) {
  for (const bool isolate : {false, true}) {
    const auto failed = enqueue(transactional());
    run_once(giving_type(transactional(), [] { throw std::runtime_error("broke"); }), isolate);
    EXPECT_EQ(status_of(failed), kFailed);
    EXPECT_EQ(result_of(failed), (json{{"job", failed}, {"attempt", 1}}));
    EXPECT_NE(log_of(failed).find("failed: std::runtime_error: broke\nsaid: hello"), std::string::npos)
        << log_of(failed);

    const auto retried = enqueue(batched());
    run_once(giving_type(batched(), [] { throw RetryError("later"); }), isolate);
    EXPECT_EQ(status_of(retried), kWaiting);
    EXPECT_EQ(result_of(retried), (json{{"job", retried}, {"attempt", 1}}));
    EXPECT_NE(log_of(retried).find("will be retried: jobrunner::RetryError: later\nsaid: hello"),
              std::string::npos)
        << log_of(retried);
  }
}

TEST_F(JobResultTest, a_plain_success_writes_no_log_line_and_no_result) {
  const auto plain = enqueue(transactional());
  run_once(foo::foo_job_type());
  EXPECT_EQ(status_of(plain), kCompleted);
  EXPECT_FALSE(result_of(plain));
  EXPECT_EQ(log_of(plain), "");
}

TEST_F(JobResultTest, the_result_is_a_json_object_or_nothing) {
  Job job;
  GivingJob giving(job, nullptr);
  EXPECT_THROW(giving.set_result(json::array({1, 2})), std::invalid_argument);
  EXPECT_THROW(giving.set_result("text"), std::invalid_argument);
  EXPECT_FALSE(giving.output().result);
  const auto id = enqueue(transactional());
  EXPECT_THROW(db.sql("UPDATE job SET result = '[1]'::jsonb WHERE id = $1", id), std::exception);
}

}  // namespace
}  // namespace jobrunner
