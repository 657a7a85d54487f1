#include "jobrunner/runtime/notification_hook.hpp"

#include <spdlog/spdlog.h>

#include "job_log.hpp"
#include "jobrunner/pg/job_store.hpp"

namespace jobrunner {

void RecordingNotificationHook::notify_user_error(pg::Statements& db, const Job& job,
                                                  const std::string& message) {
  const std::string subject = "Job " + std::to_string(job.id) + " (" + job.job_type + ") failed";
  const auto id = pg::record_notification(db, job, subject, message);
  log_job(spdlog::level::info, job,
          fmt::format("notified requester {} (notice {}): {}", job.requester.value_or("(none)"),
                      id, message));
}

}  // namespace jobrunner
