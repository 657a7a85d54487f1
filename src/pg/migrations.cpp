#include "jobrunner/pg/migrations.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "embedded_sql.hpp"

namespace jobrunner::pg {
namespace {

// The revision table is the one object created outside the numbered patches:
// it must exist before any patch can be recorded.
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

Patch make_patch(const std::string& name, std::string text) {
  int number = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (ec != std::errc() || end == name.data() || *end != '-' || number <= 0 ||
      !name.ends_with(".sql")) {
    throw ConfigError("schema patch '" + name + "' is not named NNNN-description.sql");
  }
  return Patch{number, name, std::move(text)};
}

void sort_and_check(std::vector<Patch>& patches) {
  std::sort(patches.begin(), patches.end(),
            [](const Patch& a, const Patch& b) { return a.number < b.number; });
  for (std::size_t i = 1; i < patches.size(); ++i) {
    if (patches[i].number == patches[i - 1].number) {
      throw ConfigError("schema patches '" + patches[i - 1].name + "' and '" + patches[i].name +
                        "' have the same number");
    }
  }
}

struct Recorded {
  std::string name;
  std::string checksum;
  std::optional<TimePoint> date_applied;
};

std::map<int, Recorded> recorded_patches(Transaction& tx) {
  tx.exec_script(kCreateRevisionTable);
  std::map<int, Recorded> out;
  for (const auto& row : tx.exec(
           "SELECT number, name, checksum, "
           "(extract(epoch FROM date_applied) * 1000000)::bigint AS date_applied_us "
           "FROM database_revision")) {
    out[static_cast<int>(row.integer("number"))] =
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
    if (auto it = recorded.find(patch.number); it != recorded.end()) {
      s.date_applied = it->second.date_applied;
      s.state = checksum(tx, patch.text) == it->second.checksum ? PatchStatus::State::applied
                                                                 : PatchStatus::State::changed;
      recorded.erase(it);
    }
    out.push_back(std::move(s));
  }
  for (const auto& [number, r] : recorded) {
    out.push_back(PatchStatus{Patch{number, r.name, ""}, PatchStatus::State::applied, r.date_applied});
  }
  std::sort(out.begin(), out.end(), [](const PatchStatus& a, const PatchStatus& b) {
    return a.patch.number < b.patch.number;
  });
  return out;
}

}  // namespace

std::vector<Patch> embedded_patches() {
  std::vector<Patch> patches;
  for (const auto& file : embedded::migrations()) {
    patches.push_back(make_patch(std::string(file.name), std::string(file.text)));
  }
  sort_and_check(patches);
  return patches;
}

std::vector<Patch> load_patches(const std::filesystem::path& directory) {
  if (!std::filesystem::is_directory(directory)) {
    throw ConfigError("schema patch directory '" + directory.string() + "' does not exist");
  }
  std::vector<Patch> patches;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().extension() != ".sql") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw ConfigError("cannot read schema patch '" + entry.path().string() + "'");
    patches.push_back(make_patch(entry.path().filename().string(), text.str()));
  }
  sort_and_check(patches);
  return patches;
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
    for (const auto& s : status_in(tx, checked)) {
      if (s.state == PatchStatus::State::changed) {
        throw ConfigError("schema patch " + s.patch.name +
                          " was changed after it was applied; nothing was applied. Restore its "
                          "applied text and put the change in a new patch.");
      }
      if (s.state == PatchStatus::State::pending) pending.push_back(s.patch);
    }
    tx.commit();
  }
  for (const auto& patch : pending) {
    auto tx = conn.begin();
    try {
      tx.exec_script(patch.text);
    } catch (const SqlError& e) {
      throw ConfigError("schema patch " + patch.name + " failed and was rolled back: " + e.what());
    }
    tx.exec("INSERT INTO database_revision (number, name, checksum) "
            "VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))",
            patch.number, patch.name, patch.text);
    tx.commit();
  }
  return pending;
}

}  // namespace jobrunner::pg
