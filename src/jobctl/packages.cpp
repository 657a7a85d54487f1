#include "packages.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "jobrunner/core/errors.hpp"

#ifndef JOBRUNNER_DATADIR_FROM_BINDIR
#define JOBRUNNER_DATADIR_FROM_BINDIR "../share"
#endif
#ifndef JOBRUNNER_INSTALL_DATADIR
#define JOBRUNNER_INSTALL_DATADIR "/usr/local/share"
#endif

namespace jobrunner::jobctl {

std::filesystem::path data_dir() {
  if (const char* dir = std::getenv("JOBRUNNER_DATA_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return std::filesystem::path(JOBRUNNER_INSTALL_DATADIR) / "jobrunner";
  // The install's own layout (CMAKE_INSTALL_BINDIR to CMAKE_INSTALL_DATADIR),
  // so a relocated install finds its own packages, and a jobctl in a build
  // tree finds none.
  return (exe.parent_path() / JOBRUNNER_DATADIR_FROM_BINDIR / "jobrunner").lexically_normal();
}

std::vector<pg::Package> packages(const std::vector<std::string>& migrations_dirs) {
  std::map<std::string, pg::Package> by_name;
  for (auto& package : pg::installed_packages(data_dir())) {
    by_name.emplace(package.name, std::move(package));
  }
  std::map<std::string, std::string> given;  // name -> the --migrations-dir that gave it
  for (const auto& dir : migrations_dirs) {
    const std::filesystem::path path(dir);
    if (!std::filesystem::is_directory(path)) {
      throw ConfigError("--migrations-dir " + dir + ": no such directory");
    }
    auto package = pg::load_package(path, path / "security.cfg");
    if (const auto it = given.find(package.name); it != given.end()) {
      throw ConfigError("--migrations-dir " + it->second + " and " + dir +
                        " both name package " + package.name);
    }
    given[package.name] = dir;
    by_name.insert_or_assign(package.name, std::move(package));
  }
  std::vector<pg::Package> out;
  for (auto& [name, package] : by_name) out.push_back(std::move(package));
  return out;
}

}  // namespace jobrunner::jobctl
