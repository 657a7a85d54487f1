#include "server.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "jobrunner/app/cli_support.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/admin.hpp"
#include "jobrunner/pg/registry.hpp"
#include "jobrunner/runtime/stop_signal.hpp"
#include "html.hpp"
#include "pages.hpp"

namespace jobrunner::jobctl::web {
namespace {

constexpr std::string_view kCookie = "jobctl_web_token";
constexpr std::string_view kHtml = "text/html; charset=utf-8";

// Idle connections, taken by one request at a time; one that threw is
// dropped (it may be broken) and the next request opens a new one.
class ConnectionPool {
 public:
  ConnectionPool(std::string conninfo, pg::Connection first) : conninfo_(std::move(conninfo)) {
    idle_.push_back(std::move(first));
  }
  template <typename F>
  auto with(F&& f) {
    auto conn = take();
    auto result = f(conn);  // an exception drops conn
    give(std::move(conn));
    return result;
  }

 private:
  pg::Connection take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        if (conn.idle_and_open()) return conn;
      }
    }
    return pg::Connection::open(conninfo_);
  }
  void give(pg::Connection conn) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < 4) idle_.push_back(std::move(conn));
  }
  const std::string conninfo_;
  std::mutex mutex_;
  std::vector<pg::Connection> idle_;
};

// The host part of a Host header ("127.0.0.1:8080", "[::1]:8080").
std::string host_of(const std::string& header) {
  if (!header.empty() && header.front() == '[') {
    const auto end = header.find(']');
    return end == std::string::npos ? header : header.substr(1, end - 1);
  }
  return header.substr(0, header.find(':'));
}

Query query_of(const httplib::Request& req) {
  Query q;
  for (const auto& [k, v] : req.params) q.emplace(k, v);
  return q;
}

// The fields of a form POST (application/x-www-form-urlencoded), with the
// query string's.
Query form_of(const httplib::Request& req) {
  auto q = query_of(req);
  httplib::Params fields;
  httplib::detail::parse_query_text(req.body, fields);
  for (const auto& [k, v] : fields) q.emplace(k, v);
  return q;
}

void send_html(httplib::Response& res, int status, const std::string& html) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  // No script, no external asset: a policy that allows neither.
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                 "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  res.set_content(html, std::string(kHtml));
}

void redirect(httplib::Response& res, const std::string& to) {
  res.status = 303;
  res.set_header("Location", to);
  res.set_header("Cache-Control", "no-store");
}

class Dashboard {
 public:
  Dashboard(pg::Connection first, const ServerOptions& options)
      : options_(options),
        pool_(options.conninfo, std::move(first)),
        csrf_(random_hex(32)),
        loopback_(is_loopback_host(options.host)) {}

  void install(httplib::Server& server) {
    server.Get("/", page([this](pg::Transaction& tx, const httplib::Request&, const View& v) {
      return overview_page(tx, v);
    }));
    server.Get("/jobs", page([](pg::Transaction& tx, const httplib::Request& req, const View& v) {
      return jobs_page(tx, v, query_of(req));
    }));
    server.Get(R"(/jobs/(\d+))",
               page([](pg::Transaction& tx, const httplib::Request& req, const View& v) {
                 return job_page(tx, v, id_of(req.matches[1].str()));
               }));
    server.Get("/oops", page([](pg::Transaction& tx, const httplib::Request& req, const View& v) {
      return error_reports_page(tx, v, query_of(req));
    }));
    server.Get("/runs", page([](pg::Transaction& tx, const httplib::Request& req, const View& v) {
      return runs_page(tx, v, query_of(req));
    }));
    server.Post(R"(/jobs/(\d+)/(retry|cancel|suspend|resume))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  action(req, res, [&](pg::Connection& conn, const std::string& who,
                                       const Query& form) { return move(conn, req, who, form); });
                });
    server.Post(R"(/types/([a-z][a-z0-9_]*)/(pause|unpause))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  action(req, res, [&](pg::Connection& conn, const std::string& who,
                                       const Query& form) { return pause(conn, req, who, form); });
                });
    server.Post("/login", [this](const httplib::Request& req, httplib::Response& res) {
      login(req, res);
    });
    server.Get("/logout", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Set-Cookie", std::string(kCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
      redirect(res, "/");
    });
    server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      send_html(res, res.status,
                error_page(res.status == 404 ? "Not found" : "Error " + std::to_string(res.status),
                           res.status == 404 ? "There is no such page." : "The request failed."));
    });
  }

 private:
  using Render =
      std::function<std::string(pg::Transaction&, const httplib::Request&, const View&)>;
  using Act = std::function<std::string(pg::Connection&, const std::string&, const Query&)>;

  static std::int64_t id_of(const std::string& digits) {
    try {
      return std::stoll(digits);
    } catch (const std::exception&) {
      throw NotFound("no job with id " + digits);
    }
  }

  // The Host check and the token: who asks, or nullopt after answering.
  std::optional<std::string> admit(const httplib::Request& req, httplib::Response& res) const {
    // On loopback, a page from elsewhere that resolves its own name to
    // 127.0.0.1 (DNS rebinding) must not read the dashboard.
    if (loopback_ && req.has_header("Host") && !is_loopback_host(host_of(req.get_header_value("Host")))) {
      spdlog::warn("web: refused a request for Host '{}' from {} (bound to loopback)",
                   req.get_header_value("Host"), req.remote_addr);
      send_html(res, 403, error_page("Forbidden", "This dashboard answers requests for its "
                                                  "loopback address only."));
      return std::nullopt;
    }
    if (options_.tokens.empty()) return req.remote_addr;
    std::optional<std::string> presented = bearer_of(req.get_header_value("Authorization"));
    if (!presented) presented = cookie_of(req.get_header_value("Cookie"), kCookie);
    if (presented) {
      if (auto name = match_token(options_.tokens, *presented)) return name;
    }
    res.set_header("WWW-Authenticate", "Bearer realm=\"jobctl web\"");
    send_html(res, 401, login_page(presented ? "That token is not valid." : ""));
    return std::nullopt;
  }

  View view(const Query& q) const {
    View v{options_.allow_actions, csrf_, {}};
    if (auto it = q.find("done"); it != q.end()) v.message = it->second;
    return v;
  }

  // Runs `f`, turning the error classes into pages with their status.
  template <typename F>
  void guarded(httplib::Response& res, F&& f) {
    try {
      f();
    } catch (const NotFound& e) {
      send_html(res, 404, error_page("Not found", e.what()));
    } catch (const InvalidTransition& e) {
      send_html(res, 409, error_page("Refused", e.what()));
    } catch (const DuplicateJob& e) {
      send_html(res, 409, error_page("Refused", e.what()));
    } catch (const BadInput& e) {
      send_html(res, 400, error_page("Bad request", e.what()));
    } catch (const pg::SqlError& e) {
      if (e.sqlstate() == app::kInsufficientPrivilege) {
        send_html(res, 403,
                  error_page("Not permitted",
                             std::string("The database role that jobctl web connects as may not "
                                         "do this (") +
                                 e.what() +
                                 "). The pages work with a role that may only read; the "
                                 "actions need one with jobctl's grants (docs/dashboard.md)."));
        return;
      }
      spdlog::error("web: {}", e.what());
      send_html(res, 500, error_page("Database error", e.what()));
    } catch (const DatabaseUnavailable& e) {
      spdlog::warn("web: {}", e.what());
      send_html(res, 503, error_page("Database unavailable", e.what()));
    } catch (const std::exception& e) {
      spdlog::error("web: {}", e.what());
      send_html(res, 500, error_page("Internal error", e.what()));
    }
  }

  httplib::Server::Handler page(Render render) {
    return [this, render = std::move(render)](const httplib::Request& req, httplib::Response& res) {
      if (!admit(req, res)) return;
      guarded(res, [&] {
        const auto html = pool_.with([&](pg::Connection& conn) {
          auto tx = conn.begin();
          auto out = render(tx, req, view(query_of(req)));
          tx.commit();
          return out;
        });
        send_html(res, 200, html);
      });
    };
  }

  // A POST action: allowed, CSRF token checked, then `act` (which returns
  // where to go next).
  void action(const httplib::Request& req, httplib::Response& res, const Act& act) {
    const auto who = admit(req, res);
    if (!who) return;
    const auto what = req.path;
    if (!options_.allow_actions) {
      spdlog::warn("web: refused {} by {} ({}): actions are off (jobctl web --allow-actions)",
                   what, *who, req.remote_addr);
      send_html(res, 403, error_page("Forbidden", "This dashboard is read-only: start it with "
                                                  "--allow-actions to allow actions."));
      return;
    }
    const auto form = form_of(req);
    const auto csrf = form.find("csrf");
    if (csrf == form.end() || !equal_in_constant_time(csrf->second, csrf_)) {
      spdlog::warn("web: refused {} by {} ({}): {} CSRF token", what, *who, req.remote_addr,
                   csrf == form.end() ? "no" : "a wrong");
      send_html(res, 403, error_page("Forbidden", "The form's CSRF token is missing or wrong "
                                                  "(reload the page and try again)."));
      return;
    }
    guarded(res, [&] {
      const auto next = pool_.with([&](pg::Connection& conn) { return act(conn, *who, form); });
      redirect(res, next);
    });
  }

  static std::optional<std::string> reason_of(const Query& form) {
    const auto it = form.find("reason");
    if (it == form.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }

  // retry, cancel, suspend, resume: pg::move_jobs, as jobctl's commands.
  std::string move(pg::Connection& conn, const httplib::Request& req, const std::string& who,
                   const Query& form) {
    const auto id = id_of(req.matches[1].str());
    const auto verb = req.matches[2].str();
    auto request = *pg::operator_move(verb);
    request.reason = reason_of(form);
    request.by = who + " via jobctl web";
    pg::JobMatch match;
    match.ids = {id};
    auto tx = conn.begin();
    std::vector<pg::JobMove> moves;
    try {
      moves = pg::move_jobs(tx, match, request);
    } catch (const InvalidTransition& e) {
      spdlog::warn("web: {} ({}) {} job {}: refused: {}", who, req.remote_addr, verb, id, e.what());
      throw;
    }
    tx.commit();
    const auto& m = moves.front();
    spdlog::info("web: {} ({}) {} job {} ({}): {} -> {}{}", who, req.remote_addr, verb, id,
                 m.job_type, to_string(m.from), to_string(m.to),
                 request.reason ? ": " + *request.reason : "");
    return "/jobs/" + std::to_string(id) + "?done=" +
           url_encode(verb + ": job " + std::to_string(id) + " is now " +
                      std::string(to_string(m.to)));
  }

  // pause, unpause: as jobctl pause and unpause.
  std::string pause(pg::Connection& conn, const httplib::Request& req, const std::string& who,
                    const Query& form) {
    const auto type = req.matches[1].str();
    const auto verb = req.matches[2].str();
    find_type_or_throw(conn, type);
    auto tx = conn.begin();
    std::string done;
    if (verb == "pause") {
      const auto made = pg::pause_job_type(tx, type, who + " via jobctl web", reason_of(form));
      done = "job type " + type + " is " + pg::describe_pause(made);
    } else {
      pg::unpause_job_type(tx, type);
      done = "job type " + type + " is no longer paused";
    }
    tx.commit();
    spdlog::info("web: {} ({}) {} job type {}", who, req.remote_addr, verb, type);
    return "/?done=" + url_encode(done);
  }

  static void find_type_or_throw(pg::Connection& conn, const std::string& type) {
    auto tx = conn.begin();
    if (!pg::find_registered_type(tx, type)) throw NotFound("no job type '" + type + "'");
    tx.commit();
  }

  void login(const httplib::Request& req, httplib::Response& res) {
    if (options_.tokens.empty()) {
      redirect(res, "/");
      return;
    }
    const auto form = form_of(req);
    const auto it = form.find("token");
    const auto name = it == form.end() ? std::nullopt : match_token(options_.tokens, it->second);
    if (!name) {
      spdlog::warn("web: a failed login from {}", req.remote_addr);
      send_html(res, 401, login_page("That token is not valid."));
      return;
    }
    spdlog::info("web: {} logged in from {}", *name, req.remote_addr);
    res.set_header("Set-Cookie", std::string(kCookie) + "=" + it->second +
                                     "; Path=/; HttpOnly; SameSite=Strict");
    redirect(res, "/");
  }

  const ServerOptions options_;
  ConnectionPool pool_;
  const std::string csrf_;
  const bool loopback_;
};

}  // namespace

int serve(pg::Connection first, const ServerOptions& options) {
  Dashboard dashboard(std::move(first), options);
  httplib::Server server;
  server.new_task_queue = [] { return new httplib::ThreadPool(4); };
  // Only SO_REUSEADDR: httplib's default SO_REUSEPORT would let a second
  // dashboard share the port (as for --metrics-listen).
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  dashboard.install(server);
  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
  } else if (!server.bind_to_port(options.host, port)) {
    port = -1;
  }
  if (port < 0) {
    throw ConfigError("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                      " for jobctl web (in use, or not an address of this host)");
  }
  if (!is_loopback_host(options.host) && options.tokens.empty()) {
    spdlog::warn("web: listening on {}, not a loopback address, without --token-file: anyone "
                 "who can reach it reads the jobs{}",
                 options.host, options.allow_actions ? " and can act on them" : "");
  }
  install_stop_handlers();
  std::atomic<bool> ended{false};
  std::thread thread([&server, &ended] {
    server.listen_after_bind();
    ended = true;
  });
  const bool v6 = options.host.find(':') != std::string::npos;
  spdlog::info("listening on http://{}{}{}:{}/ (actions {}, {}); SIGINT or SIGTERM stops it",
               v6 ? "[" : "", options.host, v6 ? "]" : "", port,
               options.allow_actions ? "on" : "off",
               options.tokens.empty() ? "no token" : std::to_string(options.tokens.size()) + " token(s)");
  while (!stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // stop() does nothing to a server not yet running.
  while (!server.is_running() && !ended) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server.stop();
  thread.join();
  spdlog::info("stopped");
  return exit_code::ok;
}

}  // namespace jobrunner::jobctl::web
