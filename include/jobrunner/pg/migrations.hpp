#pragma once
// Numbered schema patches (NNNN-name.sql), applied in order, each in its own
// transaction and recorded in database_revision with the time it was applied
// and the SHA-256 of its text (Launchpad's LaunchpadDatabaseRevision).
//
// Patches come in packages, each with its own sequence of numbers:
// jobrunner's own (the core patches of sql/migrations, built into the
// binaries; package "jobrunner") and any number of job type packages, read
// from directories at run time (docs/implementing-a-job-type.md). Core
// patches apply first, then the packages in name order, each in number order.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner::pg {

// The package of the core patches.
inline constexpr std::string_view kCorePackage = "jobrunner";
// Every package patch needs the core patch that created the registry and
// the revision table's package column.
inline constexpr int kFirstPackageCoreRevision = 10;

struct Patch {
  int number = 0;
  std::string name;  // file name, e.g. "0001-job.sql"
  std::string text;
  std::string package = std::string(kCorePackage);
};

// A patch's "-- requires: PACKAGE NNNN" lines: it applies only once patch
// NNNN of PACKAGE is applied (or applies before it in the same upgrade).
struct Requirement {
  std::string package;
  int number = 0;
};
// Throws ConfigError for a malformed "-- requires:" line.
std::vector<Requirement> requirements_of(const Patch& patch);

// The patches built into this binary (package "jobrunner").
std::vector<Patch> embedded_patches();
// The *.sql patches of a directory, as patches of `package`; throws
// ConfigError for a missing directory, a misnamed file or a duplicated number.
std::vector<Patch> load_patches(const std::filesystem::path& directory,
                                const std::string& package = std::string(kCorePackage));

// A job type package: its patches and its grants (security.cfg format).
struct Package {
  std::string name;
  std::filesystem::path directory;
  std::vector<Patch> patches;
  std::optional<std::string> security;  // the text of its grants file, if any
  std::filesystem::path security_file;
};
// Whether `name` may name a package: lower case letters, digits, _ and -,
// starting with a letter, and not "jobrunner".
void check_package_name(const std::string& name);
// Loads a package directory: its patches (numbered 0001 up without a gap)
// and `security_file` if it exists. The package is named after the
// directory. Throws ConfigError naming the directory or file.
Package load_package(const std::filesystem::path& directory,
                     const std::filesystem::path& security_file);
// The packages installed under a data directory (share/jobrunner):
// migrations/<package>/ and security.d/<package>.cfg, in name order; a
// security fragment without patches is a package too. None if the
// directory does not exist.
std::vector<Package> installed_packages(const std::filesystem::path& data_dir);

// All patches of the core and of `packages`, in the order they apply.
std::vector<Patch> all_patches(const std::vector<Patch>& core, const std::vector<Package>& packages);

struct PatchStatus {
  enum class State { applied, pending, changed };
  Patch patch;
  State state = State::pending;
  std::optional<TimePoint> date_applied;
};

// Every known patch and whether it is applied, pending or was edited after it
// was applied, in apply order. Patches recorded in the database but unknown
// here are listed as applied with empty text.
std::vector<PatchStatus> migration_status(Connection& conn, const std::vector<Patch>& patches);

// Why the pending patches of `statuses` cannot apply: the first that
// requires a patch neither applied nor applying before it, named with what
// is missing. None when every requirement is met.
std::optional<std::string> unmet_requirement(const std::vector<PatchStatus>& statuses);

// Applies the pending patches in order (core first, then packages in name
// order) and returns them. If any applied patch has changed, or a pending
// patch requires a patch that is neither applied nor applies before it,
// throws ConfigError naming it and applies nothing. Running it again is a
// no-op. Concurrent upgrades serialise on an advisory lock. Each patch runs
// with jobrunner.package set to its package (jobrunner_register_type's
// default package).
std::vector<Patch> upgrade(Connection& conn, const std::vector<Patch>& patches);

}  // namespace jobrunner::pg
