// jobctl type notices: who hears of a job type's error reports (core patch
// 0016, docs/mail-jobs.md#notices).
#include <iostream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "common.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/pg/registry.hpp"

namespace jobrunner::jobctl {
namespace {

void print_notices(const std::string& type, const pg::TypeNotices& n, bool json) {
  if (json) {
    print_json({{"job_type", type},
                {"operator_mail", n.operator_mail},
                {"operator_webhook", or_null(n.operator_webhook)}});
    return;
  }
  std::string mail;
  for (const auto& a : n.operator_mail) mail += (mail.empty() ? "" : ", ") + a;
  std::cout << "job type " << type << ": error reports mail "
            << (mail.empty() ? "nobody" : mail) << "; webhook "
            << n.operator_webhook.value_or("none") << '\n';
}

}  // namespace

void add_type_commands(CLI::App& app, Context& ctx) {
  struct NoticeOptions {
    std::string type;
    std::vector<std::string> mail;
    std::optional<std::string> webhook;
    bool none = false;
  };
  auto o = std::make_shared<NoticeOptions>();
  auto* type = app.add_subcommand("type", "Settings of a job type in the registry");
  type->require_subcommand(1);
  auto* notices = type->add_subcommand(
      "notices",
      "Show or set who hears of the type's error reports: each enqueues a mail job to the "
      "operators' addresses and a webhook job to an endpoint of run-webhook-jobs, in the "
      "transaction that files it (docs/mail-jobs.md). With --mail or --webhook the settings "
      "are replaced; without options they are shown");
  notices->add_option("TYPE", o->type, "The job type, e.g. foo")->required();
  notices->add_option("--mail", o->mail, "An operator's address (repeat for more)")
      ->type_name("ADDRESS");
  notices->add_option("--webhook", o->webhook,
                      "An endpoint name of run-webhook-jobs' endpoints file")
      ->type_name("NAME");
  auto* none = notices->add_flag("--none", o->none, "Notify nobody of the type's error reports");
  none->excludes(notices->get_option("--mail"))->excludes(notices->get_option("--webhook"));
  notices->add_flag("--json", ctx.json, "Print the settings as a JSON object");
  notices->footer(
      "\nA malformed address or endpoint name is refused (exit 65) and changes nothing.\n"
      "\nExamples:\n  jobctl type notices foo --mail ops@example.com --mail oncall@example.com "
      "--webhook alerts\n  jobctl type notices foo\n  jobctl type notices foo --none");
  notices->callback([&ctx, o] {
    ctx.action = [&ctx, o](pg::Connection& conn) {
      find_type(conn, o->type);
      auto tx = conn.begin();
      if (o->none || !o->mail.empty() || o->webhook) {
        pg::set_type_notices(tx, o->type, {.operator_mail = o->mail, .operator_webhook = o->webhook});
        spdlog::info("set the notices of job type '{}'", o->type);
      }
      const auto now = pg::type_notices(tx, o->type);
      tx.commit();
      print_notices(o->type, now.value_or(pg::TypeNotices{}), ctx.json);
      return exit_code::ok;
    };
  });
}

}  // namespace jobrunner::jobctl
