#pragma once
// Test servers on loopback (tests/servers/*.py): a program that prints
// "PORT <n>" on stdout once it accepts connections, started by a test and
// stopped (SIGTERM, then reaped) when the object goes, also when an
// assertion ends the test early. And a test CA with a certificate for
// localhost and 127.0.0.1, made with the openssl command line, for servers
// that speak TLS.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace jobrunner::testing {

class LoopbackServer {
 public:
  // Starts argv (argv[0] looked up on PATH) and returns once it printed its
  // port; throws std::runtime_error if it ended without.
  explicit LoopbackServer(std::vector<std::string> argv);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  // SIGTERM and wait: the port is free again once it returns.
  void stop();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

struct TestPki {
  std::string ca, cert, key;  // PEM files
};
// Makes ca.pem, server.pem and server.key in `dir`; throws on failure.
TestPki make_test_pki(const std::filesystem::path& dir);

}  // namespace jobrunner::testing
