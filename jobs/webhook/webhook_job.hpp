#pragma once
// WebhookJob: delivers one JSON body to one endpoint of the runner's
// allowlist (endpoints.hpp), signed, with an idempotency key that stays the
// same across retries (docs/webhook-jobs.md). A type without a table of its
// own: no target, its metadata in job.json_data, any number pending.
//
// Metadata (job.json_data):
//   "endpoint": "billing"          required: a name in the endpoints file
//   "body": <any JSON>             required: sent as compact JSON
//   "idempotency_key": "evt_123"   optional: the Idempotency-Key header
//                                  (default "job-<id>-<created, unix µs>")
//   "notice": {...}                set by core patch 0016 on the webhooks it
//                                  enqueues for error reports; not sent
//
// Outcomes: 2xx COMPLETED; 408, 429, 5xx, no answer (connection, timeout,
// TLS) a retry with backoff, never sooner than Retry-After; 3xx (not
// followed, or still one after following) and other 4xx a user error; an
// unknown endpoint or malformed metadata a user error with nothing sent.
// Each attempt's status, latency and the start of the answer's body go into
// job.log.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "endpoints.hpp"
#include "http_client.hpp"
#include "jobrunner/core/job.hpp"
#include "jobrunner/runtime/runnable_job.hpp"

namespace jobrunner::webhook {

// How many bytes of an answer's body the log keeps.
inline constexpr std::size_t kLoggedBody = 200;
// The largest body a job may send.
inline constexpr std::size_t kMaxBody = 1024 * 1024;

// The delay a Retry-After value asks for at `now`: delay-seconds ("120") or
// an HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT"; a date past is 0). nullopt
// for a value that is neither.
std::optional<Duration> parse_retry_after(const std::string& value, TimePoint now);

// What an answer (or its absence) means for the job: the log line, and the
// outcome's kind. Pure: webhook_job.cpp throws what it says.
struct Verdict {
  enum class Kind { completed, retry, user_error, unexpected };
  Kind kind = Kind::completed;
  std::string line;                   // "webhook billing: POST answered 503 in 12ms ..."
  std::optional<Duration> min_delay;  // retry: Retry-After
};
Verdict judge(const Endpoint& endpoint, const HttpResponse& response, TimePoint now);

// The Idempotency-Key of a job: its metadata's "idempotency_key", else one
// derived from its id and creation time (the same for every attempt, and not
// repeated by a new database whose ids start again at 1).
std::string idempotency_key(const Job& job);

class WebhookJob : public RunnableJob {
 public:
  WebhookJob(Job job, std::shared_ptr<const Endpoints> endpoints);
  void run(pg::Statements& db) override;
  // Adds the endpoint's name.
  nlohmann::json oops_vars() const override;

 private:
  std::shared_ptr<const Endpoints> endpoints_;
};

// The type as runners know it: name "webhook", no table, backoff on; its
// jobs look their endpoints up in `endpoints`, which the runner fills from
// its --endpoints file before the first job runs.
JobType webhook_job_type(std::shared_ptr<const Endpoints> endpoints);

}  // namespace jobrunner::webhook
