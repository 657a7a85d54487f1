#pragma once
// A daemon's /metrics endpoint (--metrics-listen), served by cpp-httplib
// (Debian's libcpp-httplib-dev) on a thread pool of its own. Private to the
// app library: the rest of jobrunner never sees httplib.

#include <functional>
#include <memory>
#include <string>

namespace jobrunner::app {

// "127.0.0.1:9464", "[::1]:9464", "localhost:0" (0: any free port). Throws
// BadInput for anything else.
struct ListenAddress {
  std::string host;
  int port = 0;
};
ListenAddress parse_listen_address(const std::string& text);

class MetricsServer {
 public:
  // Binds at once (ConfigError when it cannot, naming the address and the
  // reason) and serves GET /metrics with what `render` returns, until
  // destroyed. `render` is called on the server's threads.
  MetricsServer(const ListenAddress& address, std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port bound (the one picked, for port 0).
  int port() const noexcept { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace jobrunner::app
