#pragma once
// How a requester hears that their job failed with a user error.

#include <string>

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner {

// The contract of a hook:
//  - notify_user_error() is called once per user error, inside the
//    transaction that marks the job FAILED, so a notice it writes there (a
//    row, or later a job enqueued for a mailer) exists exactly when the
//    failure does, and is rolled back with it.
//  - It runs in a savepoint of that transaction. If it throws, only its own
//    writes are rolled back (also after a statement of its failed), the
//    failure is logged and filed as an error report of the job
//    (error_type "NotificationHookFailed", with the user error's message and
//    the hook's), and the job's outcome commits unchanged: FAILED, the same
//    attempt_count, never run again because of the hook.
//  - It cannot commit (`db` has no commit), and must not keep `db` beyond the call. Work outside the
//    database (sending mail) belongs in a later job, not here: the
//    transaction may still roll back after the hook returned.
//  - Only a lost connection (the savepoint cannot be rolled back) ends the
//    recording, as any lost connection does: the job is rescued later.
class NotificationHook {
 public:
  virtual ~NotificationHook() = default;
  virtual void notify_user_error(pg::Statements& db, const Job& job, const std::string& message) = 0;
};

// The default: records the notice in job_notification (for a mailer to send)
// and logs it.
class RecordingNotificationHook : public NotificationHook {
 public:
  void notify_user_error(pg::Statements& db, const Job& job, const std::string& message) override;
};

}  // namespace jobrunner
