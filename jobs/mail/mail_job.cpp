#include "mail_job.hpp"

#include <set>
#include <stdexcept>

#include "jobrunner/core/outcome.hpp"

namespace jobrunner::mail {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::set<std::string> kFields = {"to", "cc", "reply_to", "subject", "body", "notice"};

std::string address_of(const json& value, const std::string& field) {
  if (!value.is_string()) {
    throw UserError("mail metadata: \"" + field + "\" must hold addresses as strings, not " +
                    value.dump());
  }
  const auto text = value.get<std::string>();
  if (text.find_first_of("\r\n") != std::string::npos) {
    throw UserError("mail metadata: \"" + field +
                    "\" holds a line break (a header injection); nothing was sent");
  }
  if (!is_address(text)) {
    throw UserError("mail metadata: \"" + field + "\": '" + text +
                    "' is not a plain mail address (local@domain); nothing was sent");
  }
  return text;
}

std::vector<std::string> addresses_of(const json& meta, const std::string& field) {
  const auto& value = meta[field];
  std::vector<std::string> out;
  if (value.is_array()) {
    for (const auto& a : value) out.push_back(address_of(a, field));
  } else {
    out.push_back(address_of(value, field));
  }
  if (out.size() > kMaxRecipients) {
    throw UserError("mail metadata: \"" + field + "\" has " + std::to_string(out.size()) +
                    " addresses; at most " + std::to_string(kMaxRecipients));
  }
  return out;
}

std::string text_of(const json& meta, const std::string& field) {
  if (!meta.contains(field)) throw UserError("mail metadata: no \"" + field + "\"; nothing was sent");
  const auto& value = meta[field];
  if (!value.is_string()) {
    throw UserError("mail metadata: \"" + field + "\" must be a string, not " + value.dump());
  }
  auto text = value.get<std::string>();
  if (text.find('\0') != std::string::npos) {
    throw UserError("mail metadata: \"" + field + "\" holds NUL");
  }
  if (!is_utf8(text)) throw UserError("mail metadata: \"" + field + "\" is not UTF-8");
  return text;
}

std::string joined(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& a : list) out += (out.empty() ? "" : ", ") + a;
  return out;
}

std::string message_id_for(const Job& job, const Relay& relay) {
  return message_id_of(job.id, job.date_created, relay.message_id_domain);
}

}  // namespace

Message message_of(const json& meta) {
  if (!meta.is_object()) {
    throw UserError("mail metadata must be an object with \"to\", \"subject\" and \"body\", not " +
                    meta.dump());
  }
  for (const auto& [field, value] : meta.items()) {
    (void)value;
    if (!kFields.contains(field)) {
      throw UserError("mail metadata: unknown field '" + field +
                      "' (known: to, cc, reply_to, subject, body); nothing was sent");
    }
  }
  Message m;
  if (!meta.contains("to")) throw UserError("mail metadata: no \"to\"; nothing was sent");
  m.to = addresses_of(meta, "to");
  if (m.to.empty()) throw UserError("mail metadata: \"to\" is empty; nothing was sent");
  if (meta.contains("cc")) m.cc = addresses_of(meta, "cc");
  if (m.to.size() + m.cc.size() > kMaxRecipients) {
    throw UserError("mail metadata: more than " + std::to_string(kMaxRecipients) + " recipients");
  }
  if (meta.contains("reply_to")) m.reply_to = address_of(meta["reply_to"], "reply_to");
  m.subject = text_of(meta, "subject");
  for (const char c : m.subject) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n') {
      throw UserError("mail metadata: \"subject\" holds a line break (a header injection); "
                      "nothing was sent");
    }
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      throw UserError("mail metadata: \"subject\" holds a control character");
    }
  }
  if (m.subject.size() > kMaxSubject) {
    throw UserError("mail metadata: \"subject\" has " + std::to_string(m.subject.size()) +
                    " bytes; at most " + std::to_string(kMaxSubject));
  }
  m.body = text_of(meta, "body");
  if (m.body.size() > kMaxBody) {
    throw UserError("mail metadata: \"body\" has " + std::to_string(m.body.size()) +
                    " bytes; at most " + std::to_string(kMaxBody));
  }
  return m;
}

Verdict judge(const SmtpResult& r, const std::string& what) {
  using K = Verdict::Kind;
  using F = SmtpResult::Failure;
  const auto took = " in " + format_duration(r.latency);
  const auto answer = r.reply.empty() ? std::string() : ": '" + r.reply + "'";
  switch (r.failure) {
    case F::none:
      return {K::completed, what + ": relay answered" + answer + took};
    case F::connect:
    case F::timeout:
      return {K::retry, what + ": " + to_string(r.failure) + " after " +
                            format_duration(r.latency) + ": " + r.error};
    case F::tls:
      return {K::unexpected, what + ": TLS failed (check the relay's certificate and "
                                 "\"starttls\"): " + r.error};
    case F::login:
      return {K::unexpected, what + ": the relay refused the login (check \"username\" and the "
                                 "password)" + answer};
    case F::reply: {
      const auto line = what + ": relay refused " + r.command + " with " +
                        std::to_string(r.code) + answer + took;
      if (r.code >= 400 && r.code < 500) return {K::retry, line};
      // Our own sender or this host refused: the relay's configuration, not
      // the job.
      if (r.command == "MAIL") return {K::unexpected, line + " (check \"from\")"};
      if (r.command == "the connection") return {K::unexpected, line + " (check \"url\")"};
      return {K::user_error, line + "; nothing was delivered"};
    }
    case F::other:
      break;
  }
  return {K::unexpected, what + ": " + r.error + answer};
}

MailJob::MailJob(Job job, std::shared_ptr<const Relay> relay)
    : NonTransactionalJob(std::move(job)), relay_(std::move(relay)) {}

void MailJob::perform() {
  // Everything that can be refused is checked before anything is sent.
  const auto message = message_of(job().metadata);
  const auto message_id = message_id_for(job(), *relay_);
  SmtpRequest request;
  request.url = relay_->url;
  request.from = relay_->from;
  request.recipients = message.to;
  request.recipients.insert(request.recipients.end(), message.cc.begin(), message.cc.end());
  request.message = compose(message, relay_->from, message_id, std::chrono::system_clock::now());
  request.starttls = relay_->starttls;
  request.username = relay_->username;
  request.password = relay_->password;
  request.timeout = relay_->timeout;
  request.ca_file = relay_->ca_file;

  const auto result = send_mail(request);
  const auto verdict = judge(result, "mail " + message_id + " to " + joined(request.recipients));
  switch (verdict.kind) {
    case Verdict::Kind::completed:
      add_log("\n" + verdict.line);
      set_result({{"message_id", message_id},
                  {"recipients", request.recipients},
                  {"relay_answer", result.reply}});
      return;
    case Verdict::Kind::retry:
      throw RetryError(verdict.line);
    case Verdict::Kind::user_error:
      throw UserError(verdict.line);
    case Verdict::Kind::unexpected:
      throw std::runtime_error(verdict.line);
  }
}

json MailJob::oops_vars() const {
  auto vars = RunnableJob::oops_vars();
  const auto& meta = job().metadata;
  if (meta.is_object() && meta.contains("to")) vars["to"] = meta["to"];
  vars["message_id"] = message_id_for(job(), *relay_);
  return vars;
}

JobType mail_job_type(std::shared_ptr<const Relay> relay) {
  return JobType{
      JobTypeSpec{
          .name = "mail",
          .display_name = "MailJob",
          // No table, target column, target table or type code: its jobs
          // keep their metadata in job.json_data.
          // 30s, 1m, 2m, ... up to 1h (each between half and all of that).
          .retry = RetryPolicy{.retry_delay = 30s, .backoff = true, .max_retry_delay = 1h},
          .lease = std::chrono::minutes(5),
          .default_max_retries = 12,
          // Any number of mails may be pending.
          .one_pending_per_target = false,
          // No database work of their own: completions in batches.
          .batch_completions = true,
      },
      [relay = std::move(relay)](Job job) -> std::unique_ptr<RunnableJob> {
        return std::make_unique<MailJob>(std::move(job), relay);
      },
  };
}

}  // namespace jobrunner::mail
