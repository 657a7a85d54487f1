#include "jobrunner/pg/migrations.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "embedded_sql.hpp"

namespace jobrunner::pg {
namespace {

// The revision table is the one object created outside the numbered patches:
// it must exist before any patch can be recorded. Patch 0010 adds its
// package column, so a database of any age is upgraded in place.
constexpr std::string_view kCreateRevisionTable = R"sql(
CREATE TABLE IF NOT EXISTS database_revision (
    number       integer     PRIMARY KEY,
    name         text        NOT NULL,
    checksum     text        NOT NULL,
    date_applied timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE database_revision IS 'One row per applied schema patch (sql/migrations), written by jobctl db upgrade.';
COMMENT ON COLUMN database_revision.number IS 'The patch number, the leading digits of its file name.';
COMMENT ON COLUMN database_revision.name IS 'The patch file name.';
COMMENT ON COLUMN database_revision.checksum IS 'SHA-256 of the patch text as applied; a patch edited afterwards is refused.';
COMMENT ON COLUMN database_revision.date_applied IS 'When the patch was applied.';
)sql";

// Held for the whole upgrade, so two upgrades never interleave.
constexpr std::string_view kUpgradeLock = "SELECT pg_advisory_lock(1785686642, 0)";
constexpr std::string_view kUpgradeUnlock = "SELECT pg_advisory_unlock(1785686642, 0)";

const std::regex kPackageName("[a-z][a-z0-9_-]{0,62}");
const std::regex kRequiresLine(R"(--\s*requires:\s*(.*?)\s*)");
const std::regex kRequirement(R"(([a-z][a-z0-9_-]{0,62})\s+0*([1-9][0-9]{0,8}))");

std::string number_text(int number) {
  auto text = std::to_string(number);
  return std::string(text.size() < 4 ? 4 - text.size() : 0, '0') + text;
}

std::string where(const Patch& patch) {
  return patch.package == kCorePackage ? patch.name : "package " + patch.package + ", " + patch.name;
}

Patch make_patch(const std::string& name, std::string text, const std::string& package) {
  int number = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (ec != std::errc() || end == name.data() || *end != '-' || number <= 0 ||
      !name.ends_with(".sql")) {
    throw ConfigError("schema patch '" + name + "'" +
                      (package == kCorePackage ? "" : " of package " + package) +
                      " is not named NNNN-description.sql");
  }
  return Patch{number, name, std::move(text), package};
}

// Core first, then packages by name; each by number.
auto apply_order(const Patch& p) {
  return std::make_tuple(p.package != kCorePackage, std::cref(p.package), p.number);
}

void sort_and_check(std::vector<Patch>& patches) {
  std::sort(patches.begin(), patches.end(),
            [](const Patch& a, const Patch& b) { return apply_order(a) < apply_order(b); });
  for (std::size_t i = 1; i < patches.size(); ++i) {
    if (patches[i].package == patches[i - 1].package &&
        patches[i].number == patches[i - 1].number) {
      throw ConfigError("schema patches '" + patches[i - 1].name + "' and '" + patches[i].name +
                        "'" +
                        (patches[i].package == kCorePackage ? ""
                                                            : " of package " + patches[i].package) +
                        " have the same number");
    }
  }
}

std::string slurp(const std::filesystem::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw ConfigError("cannot read " + what + " '" + path.string() + "'");
  return text.str();
}

struct Recorded {
  std::string name;
  std::string checksum;
  std::optional<TimePoint> date_applied;
};
using Key = std::pair<std::string, int>;  // package, number

bool has_package_column(Transaction& tx) {
  return !tx.exec("SELECT 1 FROM pg_attribute WHERE attrelid = 'database_revision'::regclass "
                  "AND attname = 'package' AND NOT attisdropped")
              .empty();
}

std::map<Key, Recorded> recorded_patches(Transaction& tx) {
  tx.exec_script(kCreateRevisionTable);
  // Before patch 0010 every row is a core patch.
  const std::string package = has_package_column(tx) ? "package" : "'jobrunner'::text";
  std::map<Key, Recorded> out;
  for (const auto& row : tx.exec(
           "SELECT " + package + " AS package, number, name, checksum, "
           "(extract(epoch FROM date_applied) * 1000000)::bigint AS date_applied_us "
           "FROM database_revision")) {
    out[{row.text("package"), static_cast<int>(row.integer("number"))}] =
        Recorded{row.text("name"), row.text("checksum"), row.opt_time_us("date_applied_us")};
  }
  return out;
}

std::string checksum(Transaction& tx, const std::string& text) {
  return tx.exec("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') AS sum", text)
      .front()
      .text("sum");
}

std::vector<PatchStatus> status_in(Transaction& tx, const std::vector<Patch>& patches) {
  auto recorded = recorded_patches(tx);
  std::vector<PatchStatus> out;
  for (const auto& patch : patches) {
    PatchStatus s{patch, PatchStatus::State::pending, std::nullopt};
    if (auto it = recorded.find({patch.package, patch.number}); it != recorded.end()) {
      s.date_applied = it->second.date_applied;
      s.state = checksum(tx, patch.text) == it->second.checksum ? PatchStatus::State::applied
                                                                 : PatchStatus::State::changed;
      recorded.erase(it);
    }
    out.push_back(std::move(s));
  }
  for (const auto& [key, r] : recorded) {
    out.push_back(PatchStatus{Patch{key.second, r.name, "", key.first},
                              PatchStatus::State::applied, r.date_applied});
  }
  std::stable_sort(out.begin(), out.end(), [](const PatchStatus& a, const PatchStatus& b) {
    return apply_order(a.patch) < apply_order(b.patch);
  });
  return out;
}

// Every requirement of a pending patch must be applied already, or pending
// and earlier in the apply order. Throws ConfigError for the first that is not.
}  // namespace

std::optional<std::string> unmet_requirement(const std::vector<PatchStatus>& statuses) {
  std::set<Key> done;  // applied, or applied before the patch at hand
  std::map<std::string, int> highest;
  for (const auto& s : statuses) {
    if (s.state != PatchStatus::State::pending) done.insert({s.patch.package, s.patch.number});
    auto& top = highest[s.patch.package];
    top = std::max(top, s.patch.number);
  }
  for (const auto& s : statuses) {
    if (s.state != PatchStatus::State::pending) continue;
    auto needs = requirements_of(s.patch);
    if (s.patch.package != kCorePackage) {
      needs.push_back({std::string(kCorePackage), kFirstPackageCoreRevision});
    }
    for (const auto& need : needs) {
      if (done.contains({need.package, need.number})) continue;
      std::string known;
      if (const auto it = highest.find(need.package); it == highest.end()) {
        known = "no patch of package " + need.package + " is applied or known here";
      } else {
        known = "package " + need.package + " goes up to " + number_text(it->second) +
                " here" + (need.package > s.patch.package && need.package != kCorePackage
                               ? " and applies after " + s.patch.package
                               : "");
      }
      return "schema patch " + where(s.patch) + " requires patch " + number_text(need.number) +
             " of package " + need.package + ", which is not applied (" + known + "); " +
             (need.package == kCorePackage ? "upgrade jobrunner (jobctl) first"
                                           : "install that package first") +
             ".";
    }
    done.insert({s.patch.package, s.patch.number});
  }
  return std::nullopt;
}

std::vector<Requirement> requirements_of(const Patch& patch) {
  std::vector<Requirement> out;
  std::istringstream in(patch.text);
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!std::regex_match(line, m, kRequiresLine)) continue;
    const std::string value = m[1];
    std::smatch r;
    if (!std::regex_match(value, r, kRequirement)) {
      throw ConfigError("schema patch " + where(patch) + ": malformed line '" + line +
                        "' (write: -- requires: PACKAGE NNNN, e.g. -- requires: jobrunner 0010)");
    }
    out.push_back({r[1], std::stoi(r[2])});
  }
  return out;
}

std::vector<Patch> embedded_patches() {
  std::vector<Patch> patches;
  for (const auto& file : embedded::migrations()) {
    patches.push_back(make_patch(std::string(file.name), std::string(file.text),
                                 std::string(kCorePackage)));
  }
  sort_and_check(patches);
  return patches;
}

std::vector<Patch> load_patches(const std::filesystem::path& directory,
                                const std::string& package) {
  if (!std::filesystem::is_directory(directory)) {
    throw ConfigError("schema patch directory '" + directory.string() + "' does not exist");
  }
  std::vector<Patch> patches;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().extension() != ".sql") continue;
    patches.push_back(make_patch(entry.path().filename().string(),
                                 slurp(entry.path(), "schema patch"), package));
  }
  sort_and_check(patches);
  return patches;
}

void check_package_name(const std::string& name) {
  if (name == kCorePackage) {
    throw ConfigError("the package name 'jobrunner' is reserved for jobrunner's own patches, "
                      "which are built into jobctl");
  }
  if (!std::regex_match(name, kPackageName)) {
    throw ConfigError("'" + name + "' is not a valid package name (lower case letters, digits, "
                      "_ and -, starting with a letter)");
  }
}

Package load_package(const std::filesystem::path& directory,
                     const std::filesystem::path& security_file) {
  auto dir = directory;
  if (!dir.has_filename()) dir = dir.parent_path();  // "pkg/" names pkg
  Package package;
  package.name = dir.filename().string();
  package.directory = dir;
  try {
    check_package_name(package.name);
  } catch (const ConfigError& e) {
    throw ConfigError("package directory '" + dir.string() + "': " + e.what());
  }
  if (std::filesystem::is_directory(dir)) {
    package.patches = load_patches(dir, package.name);
  } else if (std::filesystem::exists(dir)) {
    throw ConfigError("package directory '" + dir.string() + "' is not a directory");
  } else if (!std::filesystem::exists(security_file)) {
    throw ConfigError("package directory '" + dir.string() + "' does not exist");
  }
  for (std::size_t i = 0; i < package.patches.size(); ++i) {
    const int expected = static_cast<int>(i) + 1;
    if (package.patches[i].number != expected) {
      throw ConfigError("package " + package.name + " ('" + dir.string() + "'): patch " +
                        number_text(expected) + " is missing" +
                        (i == 0 ? " (a package's patches are numbered from 0001)"
                                : " between " + package.patches[i - 1].name + " and " +
                                      package.patches[i].name) +
                        "; nothing was applied");
    }
  }
  if (std::filesystem::exists(security_file)) {
    package.security_file = security_file;
    package.security = slurp(security_file, "permissions file");
  }
  return package;
}

std::vector<Package> installed_packages(const std::filesystem::path& data_dir) {
  std::set<std::string> names;
  const auto migrations = data_dir / "migrations";
  const auto security = data_dir / "security.d";
  if (std::filesystem::is_directory(migrations)) {
    for (const auto& entry : std::filesystem::directory_iterator(migrations)) {
      if (entry.is_directory()) names.insert(entry.path().filename().string());
    }
  }
  if (std::filesystem::is_directory(security)) {
    for (const auto& entry : std::filesystem::directory_iterator(security)) {
      if (entry.path().extension() == ".cfg") names.insert(entry.path().stem().string());
    }
  }
  std::vector<Package> out;
  for (const auto& name : names) {
    out.push_back(load_package(migrations / name, security / (name + ".cfg")));
  }
  return out;
}

std::vector<Patch> all_patches(const std::vector<Patch>& core,
                               const std::vector<Package>& packages) {
  auto out = core;
  for (const auto& package : packages) {
    out.insert(out.end(), package.patches.begin(), package.patches.end());
  }
  sort_and_check(out);
  return out;
}

std::vector<PatchStatus> migration_status(Connection& conn, const std::vector<Patch>& patches) {
  auto checked = patches;
  sort_and_check(checked);
  auto tx = conn.begin();
  auto out = status_in(tx, checked);
  tx.commit();  // keeps the revision table if this created it
  return out;
}

std::vector<Patch> upgrade(Connection& conn, const std::vector<Patch>& patches) {
  auto checked = patches;
  sort_and_check(checked);  // before anything is applied
  {
    auto tx = conn.begin();
    tx.exec(kUpgradeLock);
    tx.commit();
  }
  struct Unlock {
    Connection& conn;
    ~Unlock() {
      try {
        auto tx = conn.begin();
        tx.exec(kUpgradeUnlock);
        tx.commit();
      } catch (...) {
        // The lock dies with the session anyway.
      }
    }
  } unlock{conn};

  std::vector<Patch> pending;
  {
    auto tx = conn.begin();
    const auto statuses = status_in(tx, checked);
    for (const auto& s : statuses) {
      if (s.state == PatchStatus::State::changed) {
        throw ConfigError("schema patch " + where(s.patch) +
                          " was changed after it was applied; nothing was applied. Restore its "
                          "applied text and put the change in a new patch.");
      }
      if (s.state == PatchStatus::State::pending) pending.push_back(s.patch);
    }
    if (const auto unmet = unmet_requirement(statuses)) {
      throw ConfigError(*unmet + " Nothing was applied.");
    }
    tx.commit();
  }
  for (const auto& patch : pending) {
    auto tx = conn.begin();
    tx.exec("SELECT set_config('jobrunner.package', $1, true)", patch.package);
    try {
      tx.exec_script(patch.text);
    } catch (const SqlError& e) {
      throw ConfigError("schema patch " + where(patch) + " failed and was rolled back: " +
                        e.what());
    }
    if (has_package_column(tx)) {
      tx.exec("INSERT INTO database_revision (package, number, name, checksum) "
              "VALUES ($1, $2, $3, encode(sha256(convert_to($4, 'UTF8')), 'hex'))",
              patch.package, patch.number, patch.name, patch.text);
    } else {
      tx.exec("INSERT INTO database_revision (number, name, checksum) "
              "VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))",
              patch.number, patch.name, patch.text);
    }
    tx.commit();
  }
  return pending;
}

}  // namespace jobrunner::pg
