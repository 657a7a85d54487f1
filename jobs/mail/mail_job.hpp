#pragma once
// MailJob: sends one mail through the runner's SMTP relay (relay.hpp), with
// a Message-ID that stays the same across retries (docs/mail-jobs.md). A
// type without a table of its own: no target, its metadata in
// job.json_data, any number pending. Core patch 0016 enqueues MailJobs as
// notices of user errors and error reports.
//
// Metadata (job.json_data):
//   "to": "a@example.com" or ["a@...", "b@..."]   required, 1 to 100
//   "subject": "..."                               required, one line, UTF-8
//   "body": "..."                                  required, UTF-8 text
//   "cc": address or list                          optional
//   "reply_to": "a@example.com"                    optional
//   "notice": {...}                                set by patch 0016's triggers
//
// Outcomes: the relay accepted the message → COMPLETED (its answer in
// job.log and job.result); no answer (connection, timeout) or a 4xx reply →
// a retry with backoff; a 5xx reply to a recipient or to the message → a
// user error; the relay refused our sender, the login or TLS → an error
// report (the relay's configuration is wrong, not the job); malformed
// metadata → a user error with nothing sent.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "jobrunner/core/job.hpp"
#include "jobrunner/runtime/runnable_job.hpp"
#include "message.hpp"
#include "relay.hpp"
#include "smtp_client.hpp"

namespace jobrunner::mail {

// The largest body a job may send, and the longest subject.
inline constexpr std::size_t kMaxBody = 1024 * 1024;
inline constexpr std::size_t kMaxSubject = 900;
inline constexpr std::size_t kMaxRecipients = 100;

// The message a job's metadata describes. Throws UserError naming the field
// for anything malformed: a missing or mistyped field, an unknown field, an
// address that is not one (or a CR/LF in it: a header injection), a subject
// with a line break or a control character, text that is not UTF-8 or holds
// NUL, too many recipients, a body too long.
Message message_of(const nlohmann::json& metadata);

// What the relay's answer (or its absence) means for the job. Pure:
// mail_job.cpp throws what it says.
struct Verdict {
  enum class Kind { completed, retry, user_error, unexpected };
  Kind kind = Kind::completed;
  std::string line;  // "mail <id> to a@x: relay answered 250 ... in 3ms"
};
Verdict judge(const SmtpResult& result, const std::string& what);

class MailJob : public NonTransactionalJob {
 public:
  MailJob(Job job, std::shared_ptr<const Relay> relay);
  void perform() override;
  // Adds the recipients and the Message-ID.
  nlohmann::json oops_vars() const override;

 private:
  std::shared_ptr<const Relay> relay_;
};

// The type as runners know it: name "mail", no table, backoff on; its jobs
// send through `relay`, which the runner fills from its --relay file before
// the first job runs.
JobType mail_job_type(std::shared_ptr<const Relay> relay);

}  // namespace jobrunner::mail
