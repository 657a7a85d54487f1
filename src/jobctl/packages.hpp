#pragma once
// Job type packages for jobctl db: the patches and grants of every type that
// is not jobrunner's own, read at run time, so that a new type never needs
// a rebuild of jobctl.
//
// Installed packages live in the data directory (share/jobrunner, found
// from jobctl's own path: <bindir>/../share/jobrunner for the installed
// layout, or $JOBRUNNER_DATA_DIR):
//   migrations/<package>/NNNN-name.sql   the package's patches, from 0001
//   security.d/<package>.cfg             its grants (sql/security.cfg format)
// `--migrations-dir DIR` names one package's directory instead: the package
// is named after DIR, its patches are DIR/NNNN-name.sql and its grants
// DIR/security.cfg; it replaces an installed package of the same name.

#include <filesystem>
#include <string>
#include <vector>

#include "jobrunner/pg/migrations.hpp"

namespace jobrunner::jobctl {

// The data directory jobctl reads installed packages from.
std::filesystem::path data_dir();

// The installed packages, with those of `migrations_dirs` in place of (or
// besides) them, in name order. ConfigError for a malformed package.
std::vector<pg::Package> packages(const std::vector<std::string>& migrations_dirs);

}  // namespace jobrunner::jobctl
