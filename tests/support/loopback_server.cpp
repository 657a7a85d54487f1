#include "loopback_server.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

#include "test_database.hpp"

namespace jobrunner::testing {

LoopbackServer::LoopbackServer(std::vector<std::string> argv) {
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork");
  if (pid_ == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  // Wait for the condition: the line "PORT n" (or the end of its output).
  std::string line;
  char c = 0;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  close(out[0]);
  if (line.rfind("PORT ", 0) != 0) {
    stop();
    throw std::runtime_error("the server " + argv.at(1) + " did not start: '" + line + "'");
  }
  port_ = std::stoi(line.substr(5));
}

LoopbackServer::~LoopbackServer() { stop(); }

void LoopbackServer::stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

TestPki make_test_pki(const std::filesystem::path& dir) {
  const auto d = dir.string();
  const std::string script =
      "set -e; cd '" + d + "'\n"
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "  -keyout ca.key -out ca.pem -days 2 -subj /CN=jobrunner-test-ca "
      "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n"
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "  -keyout server.key -out server.csr -subj /CN=localhost\n"
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
      "extendedKeyUsage=serverAuth\\n' > ext.cnf\n"
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "  -out server.pem -days 2 -extfile ext.cnf\n";
  const auto r = run_program({"/bin/sh", "-c", script});
  if (r.exit_code != 0) {
    throw std::runtime_error("making the test CA failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.err);
  }
  return {d + "/ca.pem", d + "/server.pem", d + "/server.key"};
}

}  // namespace jobrunner::testing
