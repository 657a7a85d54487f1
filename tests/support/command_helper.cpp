// command-test-helper: the program that the command job tests allowlist
// (tests/command_job_test.cpp). Its first argument says what it does:
//
//   argv ARG...             prints {"argv": [ARG, ...]} (its arguments, as it got them)
//   exit N [MESSAGE]        writes MESSAGE to stderr, exits with status N
//   signal N                kills itself with signal N
//   grandchild FILE [ignore-term]
//                           starts a child that writes its pid to FILE, then
//                           both wait for ever (ignoring SIGTERM if asked)
//   alloc MIB               allocates and touches MIB MiB
//   print BYTES             writes BYTES bytes of numbered lines to stdout and
//                           to stderr, then {"printed": BYTES} on stdout
//   binary                  writes bytes that are not UTF-8, and a NUL
//   env                     prints {"env": {...}, "cwd": ..., "uid": ...,
//                           "gid": ..., "groups": [...], "stdin_bytes": N,
//                           "fds": [...]}
//   last-line TEXT          prints "output\n" then TEXT (no newline)
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

[[noreturn]] void wait_for_ever() {
  for (;;) pause();
}

void print_json(const nlohmann::json& value) {
  std::cout << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return 2;
  const auto& mode = args[0];
  if (mode == "argv") {
    print_json({{"argv", std::vector<std::string>(args.begin() + 1, args.end())}});
    return 0;
  }
  if (mode == "exit" && args.size() >= 2) {
    if (args.size() >= 3) std::cerr << args[2] << '\n';
    return std::atoi(args[1].c_str());
  }
  if (mode == "signal" && args.size() == 2) {
    std::cout << "about to die" << std::endl;
    raise(std::atoi(args[1].c_str()));
    return 3;
  }
  if (mode == "grandchild" && args.size() >= 2) {
    const bool ignore_term = args.size() >= 3 && args[2] == "ignore-term";
    if (ignore_term) signal(SIGTERM, SIG_IGN);
    const pid_t pid = fork();
    if (pid < 0) return 4;
    if (pid == 0) {
      // Written whole, then renamed: the test never reads half a pid.
      const auto tmp = args[1] + ".tmp";
      std::ofstream(tmp) << getpid() << '\n';
      std::rename(tmp.c_str(), args[1].c_str());
      wait_for_ever();
    }
    std::cout << "started grandchild " << pid << std::endl;
    wait_for_ever();
  }
  if (mode == "alloc" && args.size() == 2) {
    const std::size_t bytes = std::stoul(args[1]) << 20;
    auto* block = new char[bytes];
    std::memset(block, 1, bytes);
    std::cout << "allocated " << args[1] << " MiB" << std::endl;
    delete[] block;
    return 0;
  }
  if (mode == "print" && args.size() == 2) {
    const std::size_t bytes = std::stoul(args[1]);
    std::string text;
    for (std::size_t line = 1; text.size() < bytes; ++line) {
      text += "line " + std::to_string(line) + " of the output of command-test-helper\n";
    }
    text.resize(bytes);
    if (!text.empty()) text.back() = '\n';
    std::cout << text;
    std::cerr << text;
    print_json({{"printed", bytes}});
    return 0;
  }
  if (mode == "binary") {
    const char bytes[] = "\xff\xfe not utf-8 \xc3\x28 and a NUL: \0 end\n";
    std::fwrite(bytes, 1, sizeof bytes - 1, stdout);
    std::fwrite(bytes, 1, sizeof bytes - 1, stderr);
    return 0;
  }
  if (mode == "env") {
    nlohmann::json env = nlohmann::json::object();
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      const auto eq = entry.find('=');
      env[entry.substr(0, eq)] = eq == std::string::npos ? "" : entry.substr(eq + 1);
    }
    char cwd[4096] = {};
    if (getcwd(cwd, sizeof cwd) == nullptr) cwd[0] = '\0';
    std::vector<gid_t> groups(static_cast<std::size_t>(getgroups(0, nullptr)));
    groups.resize(static_cast<std::size_t>(getgroups(static_cast<int>(groups.size()), groups.data())));
    std::size_t stdin_bytes = 0;
    char buffer[256];
    for (ssize_t n; (n = read(STDIN_FILENO, buffer, sizeof buffer)) > 0;) {
      stdin_bytes += static_cast<std::size_t>(n);
    }
    std::vector<int> fds;
    if (DIR* dir = opendir("/proc/self/fd")) {
      const int own = dirfd(dir);
      while (const dirent* entry = readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        const int fd = std::atoi(entry->d_name);
        if (fd != own) fds.push_back(fd);
      }
      closedir(dir);
    }
    print_json({{"env", env},
                {"cwd", cwd},
                {"uid", getuid()},
                {"gid", getgid()},
                {"groups", groups},
                {"stdin_bytes", stdin_bytes},
                {"fds", fds}});
    return 0;
  }
  if (mode == "last-line" && args.size() == 2) {
    std::cout << "output\n" << args[1];
    return 0;
  }
  std::cerr << "command-test-helper: unknown mode " << mode << '\n';
  return 2;
}
