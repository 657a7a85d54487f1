// jobctl web: the dashboard (docs/dashboard.md).
#include <spdlog/spdlog.h>

#include "../command.hpp"
#include "app/metrics_server.hpp"  // parse_listen_address
#include "jobrunner/app/cli_support.hpp"
#include "server.hpp"

namespace jobrunner::jobctl {

void add_web_command(CLI::App& app, Context& ctx) {
  struct WebOptions {
    std::string listen = "127.0.0.1:8080";
    bool allow_actions = false;
    std::optional<std::string> token_file;
  };
  auto o = std::make_shared<WebOptions>();
  auto* web = app.add_subcommand(
      "web",
      "Serve the dashboard: server-rendered HTML pages of every registered type's queue (depth, "
      "lag, throughput per minute, runners alive, pauses), the jobs with filters, each job with "
      "its log, error reports and notices, the error reports and the runner runs; with "
      "--allow-actions, retry, cancel, suspend, resume, pause and unpause as forms. No script, "
      "no external asset. Runs until SIGINT or SIGTERM.");
  web->add_option("--listen", o->listen,
                  "ADDR:PORT to serve on (port 0: a free one, named in the log); a non-loopback "
                  "address without --token-file is served with a warning")
      ->type_name("ADDR:PORT")
      ->capture_default_str();
  web->add_flag("--allow-actions", o->allow_actions,
                "Show the action forms and accept them (POST with the page's CSRF token); "
                "without it the dashboard is read-only and refuses every POST (403)");
  web->add_option("--token-file", o->token_file,
                  "Require a token: lines 'name:token' (or one token), each at least 16 "
                  "characters; requests send 'Authorization: Bearer TOKEN', or log in with a "
                  "form that keeps it in a cookie. The name is recorded with each action.")
      ->type_name("FILE");
  web->footer(
      "\nWho acted is the token's name, or else the client's address: it is written to the "
      "job's log ('moved from FAILED to WAITING by alice via jobctl web (retry)') and to this "
      "log. Connected as a role that may only read, the pages work and the actions are "
      "refused with a message (403).\n"
      "\nExit codes: 0 after SIGINT or SIGTERM; 64 bad options (a malformed --listen); 75 "
      "database unreachable at start; 78 the port is taken or the address is not this host's, "
      "or the token file cannot be read, holds no token or a token shorter than 16 "
      "characters.\n"
      "\nExamples:\n"
      "  jobctl web\n"
      "  jobctl web --listen 127.0.0.1:0 --allow-actions\n"
      "  jobctl web --listen 0.0.0.0:8080 --token-file /etc/jobrunner/web-tokens --allow-actions");
  web->callback([&ctx, o] {
    app::ListenAddress address;
    try {
      address = app::parse_listen_address(o->listen);
    } catch (const BadInput& e) {
      throw CLI::ValidationError("--listen", e.what());
    }
    ctx.action = [&ctx, o, address](pg::Connection& conn) {
      web::ServerOptions options;
      options.conninfo = app::resolve_conninfo(ctx.db);
      options.host = address.host;
      options.port = address.port;
      options.allow_actions = o->allow_actions;
      if (o->token_file) options.tokens = web::read_token_file(*o->token_file);
      return web::serve(std::move(conn), options);
    };
  });
}

}  // namespace jobrunner::jobctl
