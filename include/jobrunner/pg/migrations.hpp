#pragma once
// Numbered schema patches (sql/migrations/NNNN-name.sql), applied in order,
// each in its own transaction and recorded in database_revision with the time
// it was applied and the SHA-256 of its text (Launchpad's
// LaunchpadDatabaseRevision).

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner::pg {

struct Patch {
  int number = 0;
  std::string name;  // file name, e.g. "0001-job.sql"
  std::string text;
};

// The patches built into this binary.
std::vector<Patch> embedded_patches();
// The *.sql patches of a directory; throws ConfigError for a misnamed file or
// a duplicated number.
std::vector<Patch> load_patches(const std::filesystem::path& directory);

struct PatchStatus {
  enum class State { applied, pending, changed };
  Patch patch;
  State state = State::pending;
  std::optional<TimePoint> date_applied;
};

// Every known patch and whether it is applied, pending or was edited after it
// was applied. Patches recorded in the database but unknown here are listed
// as applied with empty text.
std::vector<PatchStatus> migration_status(Connection& conn, const std::vector<Patch>& patches);

// Applies the pending patches in order and returns them. If any applied patch
// has changed, throws ConfigError naming it and applies nothing. Running it
// again is a no-op. Concurrent upgrades serialise on an advisory lock.
std::vector<Patch> upgrade(Connection& conn, const std::vector<Patch>& patches);

}  // namespace jobrunner::pg
