#pragma once
// jobctl web's HTTP server (cpp-httplib, Debian's libcpp-httplib-dev): the
// routes, access (loopback, tokens, the Host check), the CSRF check of the
// actions, and a small pool of database connections. See docs/dashboard.md.

#include <string>
#include <vector>

#include "jobrunner/pg/connection.hpp"
#include "security.hpp"

namespace jobrunner::jobctl::web {

struct ServerOptions {
  std::string conninfo;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (the log line says which)
  bool allow_actions = false;
  std::vector<Token> tokens;  // empty: no token needed
};

// Binds (ConfigError, exit 78, when it cannot), logs "listening on
// http://HOST:PORT/", serves until SIGINT or SIGTERM, and returns 0.
// `first` is the connection jobctl opened: it becomes the pool's first.
int serve(pg::Connection first, const ServerOptions& options);

}  // namespace jobrunner::jobctl::web
