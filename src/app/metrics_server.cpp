#include "metrics_server.hpp"

#include <atomic>
#include <charconv>
#include <chrono>
#include <thread>

#include <httplib.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include "jobrunner/core/errors.hpp"

namespace jobrunner::app {

ListenAddress parse_listen_address(const std::string& text) {
  const auto refuse = [&]() -> ListenAddress {
    throw BadInput("'" + text + "' is not ADDR:PORT (e.g. 127.0.0.1:9464, [::1]:9464; port 0 "
                   "picks a free one)");
  };
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return refuse();
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return refuse();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return refuse();  // an IPv6 address needs its brackets
  }
  const auto digits = std::string_view(text).substr(colon + 1);
  int port = -1;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (error != std::errc() || end != digits.data() + digits.size() || port < 0 || port > 65535) {
    return refuse();
  }
  return {host, port};
}

struct MetricsServer::Impl {
  httplib::Server server;
  std::atomic<bool> ended{false};
  std::thread thread;
};

MetricsServer::MetricsServer(const ListenAddress& address, std::function<std::string()> render)
    : impl_(std::make_unique<Impl>()) {
  auto& server = impl_->server;
  // Two threads: scrapes are rare and each takes a lock anyway.
  server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  server.set_keep_alive_max_count(100);
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // daemon bind the same port and share the scrapes with the first: only
  // SO_REUSEADDR (a restart may bind at once after the last one's exit).
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.Get("/metrics", [render = std::move(render)](const httplib::Request&,
                                                       httplib::Response& response) {
    try {
      response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
    } catch (const std::exception& e) {
      spdlog::error("metrics: cannot render /metrics: {}", e.what());
      response.status = 500;
      response.set_content(std::string("cannot render the metrics: ") + e.what() + "\n",
                           "text/plain; charset=utf-8");
    }
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("jobrunner: see /metrics\n", "text/plain; charset=utf-8");
  });
  if (address.port == 0) {
    port_ = server.bind_to_any_port(address.host);
  } else {
    port_ = server.bind_to_port(address.host, address.port) ? address.port : -1;
  }
  if (port_ < 0) {
    throw ConfigError("cannot listen on " + address.host + ":" + std::to_string(address.port) +
                      " for --metrics-listen (in use, or not an address of this host)");
  }
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->ended = true;
  });
  // stop() does nothing to a server not yet running: wait until it runs.
  while (!server.is_running() && !impl_->ended) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

MetricsServer::~MetricsServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace jobrunner::app
