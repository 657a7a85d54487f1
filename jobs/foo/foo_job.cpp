#include "foo_job.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <vector>
#include <stdexcept>
#include <thread>

#include "jobrunner/core/outcome.hpp"

namespace jobrunner::foo {

void DoFooJob::run(pg::Statements& db) {
  const Job& j = job();
  if (!j.target_id) {
    throw std::runtime_error("job " + std::to_string(j.id) + " has no foojob row");
  }
  const auto& meta = j.metadata;
  if (meta.value("report_pid", false)) {
    // Which process ran the job (tests of isolated runners' children).
    std::fprintf(stderr, "foo job %lld ran in process %d\n", static_cast<long long>(j.id),
                 static_cast<int>(getpid()));
    std::fflush(stderr);
  }
  if (meta.contains("stderr")) {
    std::fprintf(stderr, "%s\n", meta.value("stderr", std::string()).c_str());
    std::fflush(stderr);
  }
  if (const auto mib = meta.value("allocate_mb", 0); mib > 0) {
    std::vector<char> block(static_cast<std::size_t>(mib) << 20);
    std::memset(block.data(), 1, block.size());  // touch it, so it is really used
  }
  if (const auto crash = meta.value("crash", std::string()); !crash.empty()) {
    if (crash == "segv") std::raise(SIGSEGV);
    if (crash == "abort") std::abort();
    if (crash == "exit") std::_Exit(3);
  }
  if (const auto work_ms = meta.value("work_ms", 0); work_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(work_ms));
  }
  // The job's own work, in the job's transaction.
  db.exec("INSERT INTO foo_frozzle (foo, job) VALUES ($1, $2)", *j.target_id, j.id);

  const auto outcome = meta.value("outcome", std::string("success"));
  const auto message = meta.value("message", "requested by the job's metadata (" + outcome + ")");
  if (outcome == "success") return;
  if (outcome == "retry") {
    const int succeed_on = meta.value("succeed_on_attempt", 0);
    if (succeed_on > 0 && j.attempt_count >= succeed_on) return;
    throw RetryError(message);
  }
  if (outcome == "user_error") throw UserError(message);
  if (outcome == "suspend") throw SuspendJob(message);
  if (outcome == "error") throw std::logic_error(message);
  throw UserError("unknown outcome '" + outcome +
                  "' in metadata (use success, retry, user_error, error or suspend)");
}

nlohmann::json DoFooJob::oops_vars() const {
  auto vars = RunnableJob::oops_vars();
  if (job().target_id) vars["foo_id"] = *job().target_id;
  vars["foo_job_type"] = "DO_FOO";
  return vars;
}

const JobType& foo_job_type() {
  static const JobType type{
      JobTypeSpec{
          .name = "foo",
          .display_name = "FooJob",
          .table = "foojob",
          .target_column = "foo",
          .target_table = "foo",
          .type_code = static_cast<int>(FooJobType::do_foo),
          .retry = RetryPolicy{.retry_delay = std::chrono::seconds(30)},
          .lease = std::chrono::minutes(5),
          .default_max_retries = 3,
          .one_pending_per_target = true,
      },
      [](Job job) -> std::unique_ptr<RunnableJob> {
        return std::make_unique<DoFooJob>(std::move(job));
      },
  };
  return type;
}

}  // namespace jobrunner::foo
