#include "webhook_job.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "jobrunner/core/outcome.hpp"
#include "signature.hpp"

namespace jobrunner::webhook {
namespace {

using namespace std::chrono_literals;

// Retry-After beyond this is read as this (a year): honoured, without
// overflowing the arithmetic of a scheduled start.
constexpr std::int64_t kMaxRetryAfterSeconds = 365LL * 24 * 3600;

std::int64_t unix_seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// The start of a body for a log line: one line, printable ASCII only
// (anything else becomes '.'), at most kLoggedBody bytes.
std::string printable(const std::string& body, std::size_t total) {
  std::string out;
  const auto n = std::min(body.size(), kLoggedBody);
  out.reserve(n + 32);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
  }
  if (total > n) out += "... (" + std::to_string(total) + " bytes)";
  return out;
}

// A value of the job's metadata for a message: its start, as printable().
std::string excerpt(const nlohmann::json& value) {
  const auto text = value.dump();
  return printable(text, text.size());
}

std::string describe_answer(const Endpoint& endpoint, const HttpResponse& r) {
  std::string line = "webhook " + endpoint.name + ": " + endpoint.method + " answered " +
                     std::to_string(r.status) + " in " + format_duration(r.latency);
  if (r.body_size == 0) {
    line += ", empty body";
  } else {
    line += ", body: " + printable(r.body_head, r.body_size);
  }
  return line;
}

std::string text_field(const nlohmann::json& meta, const char* name) {
  const auto& value = meta[name];
  if (!value.is_string()) {
    throw UserError(std::string("webhook metadata: \"") + name + "\" must be a string, not " +
                    excerpt(value));
  }
  return value.get<std::string>();
}

std::string endpoint_name_of(const Job& job) {
  const auto& meta = job.metadata;
  if (!meta.is_object() || !meta.contains("endpoint")) {
    throw UserError("webhook metadata must be an object with \"endpoint\" (a name in the "
                    "runner's endpoints file) and \"body\" (the JSON to send), not " +
                    excerpt(meta));
  }
  // A key this type does not read is refused, not ignored: whoever wrote
  // {"url": ...} must not believe it was used.
  for (const auto& [key, value] : meta.items()) {
    if (key != "endpoint" && key != "body" && key != "idempotency_key") {
      throw UserError("webhook metadata: unknown key " + excerpt(key) +
                      " (only \"endpoint\", \"body\" and \"idempotency_key\"); nothing was sent");
    }
  }
  return text_field(meta, "endpoint");
}

}  // namespace

std::optional<Duration> parse_retry_after(const std::string& value, TimePoint now) {
  const auto first = value.find_first_not_of(" \t");
  if (first == std::string::npos) return std::nullopt;
  const auto last = value.find_last_not_of(" \t");
  const auto text = value.substr(first, last - first + 1);
  if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    std::int64_t seconds = 0;
    for (const char c : text) {
      seconds = std::min(seconds * 10 + (c - '0'), kMaxRetryAfterSeconds);
    }
    return std::chrono::seconds(seconds);
  }
  // An HTTP date (RFC 9110: IMF-fixdate, or the obsolete RFC 850 and asctime
  // forms), which curl_getdate reads; it returns -1 for anything else.
  const time_t at = curl_getdate(text.c_str(), nullptr);
  if (at == -1) return std::nullopt;
  const auto seconds =
      std::clamp<std::int64_t>(static_cast<std::int64_t>(at) - unix_seconds(now), 0,
                               kMaxRetryAfterSeconds);
  return std::chrono::seconds(seconds);
}

Verdict judge(const Endpoint& endpoint, const HttpResponse& r, TimePoint now) {
  using Kind = Verdict::Kind;
  using Failure = HttpResponse::Failure;
  if (r.failure != Failure::none) {
    const std::string line = "webhook " + endpoint.name + ": " + endpoint.method + " " +
                             to_string(r.failure) + " after " + format_duration(r.latency) +
                             ": " + r.error;
    switch (r.failure) {
      case Failure::connect:
      case Failure::timeout:
      case Failure::tls:
        return {Kind::retry, line, std::nullopt};
      case Failure::redirects:
        return {Kind::user_error, line + " (at most " + std::to_string(kMaxRedirects) + ")",
                std::nullopt};
      case Failure::none:
      case Failure::other:
        break;
    }
    return {Kind::unexpected, line, std::nullopt};
  }
  auto line = describe_answer(endpoint, r);
  const long s = r.status;
  if (s >= 200 && s < 300) return {Kind::completed, line, std::nullopt};
  if (s == 408 || s == 429 || (s >= 500 && s < 600)) {
    std::optional<Duration> delay;
    if (r.retry_after) {
      delay = parse_retry_after(*r.retry_after, now);
      line += delay ? "; Retry-After " + format_duration(*delay)
                    : "; Retry-After '" + printable(*r.retry_after, r.retry_after->size()) +
                          "' not understood, ignored";
    }
    return {Kind::retry, line, delay};
  }
  if (s >= 300 && s < 400) {
    line += r.location ? "; Location: " + printable(*r.location, r.location->size()) : "";
    line += endpoint.allow_redirects
                ? "; a redirect that could not be followed"
                : "; redirects are not followed unless the endpoint sets allow_redirects";
    return {Kind::user_error, line, std::nullopt};
  }
  if (s >= 400 && s < 500) return {Kind::user_error, line, std::nullopt};
  return {Kind::unexpected, line + "; not an HTTP status this runner knows", std::nullopt};
}

std::string idempotency_key(const Job& job) {
  const auto& meta = job.metadata;
  if (meta.is_object() && meta.contains("idempotency_key")) {
    auto key = text_field(meta, "idempotency_key");
    if (key.empty() || key.size() > 255 ||
        !std::all_of(key.begin(), key.end(),
                     [](unsigned char c) { return c > 0x20 && c < 0x7f; })) {
      throw UserError("webhook metadata: \"idempotency_key\" must be 1 to 255 printable ASCII "
                      "characters without spaces");
    }
    return key;
  }
  const auto created = std::chrono::duration_cast<std::chrono::microseconds>(
                           job.date_created.time_since_epoch())
                           .count();
  return "job-" + std::to_string(job.id) + "-" + std::to_string(created);
}

WebhookJob::WebhookJob(Job job, std::shared_ptr<const Endpoints> endpoints)
    : RunnableJob(std::move(job)), endpoints_(std::move(endpoints)) {}

void WebhookJob::run(pg::Statements& /*db*/) {
  // Everything that can be refused is checked before anything is sent.
  const auto name = endpoint_name_of(job());
  const auto found = endpoints_->find(name);
  if (found == endpoints_->end()) {
    std::string known;
    for (const auto& [n, e] : *endpoints_) known += (known.empty() ? "" : ", ") + n;
    throw UserError("webhook: unknown endpoint '" + name + "'; nothing was sent (the runner's "
                    "endpoints file names: " + (known.empty() ? "none" : known) + ")");
  }
  const auto& endpoint = found->second;
  if (!job().metadata.contains("body")) {
    throw UserError("webhook metadata: no \"body\" (the JSON to send to endpoint '" + name + "')");
  }
  const auto body = job().metadata["body"].dump();
  if (body.size() > kMaxBody) {
    throw UserError("webhook metadata: the body has " + std::to_string(body.size()) +
                    " bytes; at most " + std::to_string(kMaxBody) + " are sent");
  }
  HttpRequest request;
  request.method = endpoint.method;
  request.url = endpoint.url;
  request.headers = endpoint.headers;
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("Idempotency-Key", idempotency_key(job()));
  request.headers.emplace_back(
      kSignatureHeader,
      signature_header(endpoint.secrets, unix_seconds(std::chrono::system_clock::now()), body));
  request.body = body;
  request.timeout = endpoint.timeout;
  request.follow_redirects = endpoint.allow_redirects;
  request.ca_file = endpoint.ca_file;
  request.keep_body = kLoggedBody;

  const auto response = send(request);
  const auto verdict = judge(endpoint, response, std::chrono::system_clock::now());
  switch (verdict.kind) {
    case Verdict::Kind::completed:
      // A plain success writes no log line (the completer's rule); this one
      // says what the endpoint answered, written with the attempt's end.
      add_log("\n" + verdict.line);
      return;
    case Verdict::Kind::retry:
      if (verdict.min_delay) throw RetryError(verdict.line, *verdict.min_delay);
      throw RetryError(verdict.line);
    case Verdict::Kind::user_error:
      throw UserError(verdict.line);
    case Verdict::Kind::unexpected:
      throw std::runtime_error(verdict.line);
  }
}

nlohmann::json WebhookJob::oops_vars() const {
  auto vars = RunnableJob::oops_vars();
  const auto& meta = job().metadata;
  if (meta.is_object() && meta.contains("endpoint")) vars["endpoint"] = meta["endpoint"];
  return vars;
}

JobType webhook_job_type(std::shared_ptr<const Endpoints> endpoints) {
  return JobType{
      JobTypeSpec{
          .name = "webhook",
          .display_name = "WebhookJob",
          // No table, target column, target table or type code: its jobs
          // keep their metadata in job.json_data.
          // 10s, 20s, 40s, ... up to 1h (each between half and all of
          // that): ten retries span about 1.2 to 2.4 hours.
          .retry = RetryPolicy{.retry_delay = 10s, .backoff = true, .max_retry_delay = 1h},
          .lease = std::chrono::minutes(5),
          .default_max_retries = 10,
          // Any number of webhooks may be pending.
          .one_pending_per_target = false,
      },
      [endpoints = std::move(endpoints)](Job job) -> std::unique_ptr<RunnableJob> {
        return std::make_unique<WebhookJob>(std::move(job), endpoints);
      },
  };
}

}  // namespace jobrunner::webhook
