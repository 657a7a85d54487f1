#pragma once
// How a requester hears that their job failed with a user error.

#include <string>

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner {

class NotificationHook {
 public:
  virtual ~NotificationHook() = default;
  // Called inside the transaction that marks the job FAILED, so the notice
  // exists exactly when the failure does.
  virtual void notify_user_error(pg::Transaction& tx, const Job& job, const std::string& message) = 0;
};

// The default: records the notice in job_notification (for a mailer to send)
// and logs it.
class RecordingNotificationHook : public NotificationHook {
 public:
  void notify_user_error(pg::Transaction& tx, const Job& job, const std::string& message) override;
};

}  // namespace jobrunner
