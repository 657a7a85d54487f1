#pragma once
// Database roles and their grants, declared in one file (sql/security.cfg,
// after Launchpad's security.cfg) and applied by `jobctl db permissions`.

#include <string>
#include <string_view>
#include <vector>

#include "jobrunner/pg/connection.hpp"

namespace jobrunner::pg {

struct TableGrant {
  std::string schema;
  std::string table;
  std::vector<std::string> privileges;  // SELECT, INSERT, UPDATE, DELETE
};

// `function schema.name = EXECUTE`: every function of that name (all its
// signatures), e.g. public.jobrunner_enqueue.
struct FunctionGrant {
  std::string schema;
  std::string name;
  std::vector<std::string> privileges;  // EXECUTE
};

struct RoleGrants {
  std::string role;
  std::vector<TableGrant> tables;
  std::vector<FunctionGrant> functions;
};

// Parses the security.cfg format; throws ConfigError naming the line.
std::vector<RoleGrants> parse_security_config(std::string_view text);

// Joins several files' grants (jobrunner's security.cfg and each package's
// fragment): a role declared in several files gets the grants of all of
// them, in order.
std::vector<RoleGrants> merge_security_configs(const std::vector<std::vector<RoleGrants>>& configs);

// The sql/security.cfg built into this binary.
std::string embedded_security_config();

struct PermissionsReport {
  std::vector<std::string> created_roles;
  int grants = 0;
};

// In one transaction: creates missing roles (LOGIN, no password), revokes
// every table, sequence and function privilege of each declared role in the
// schemas the file names, then grants what is declared (plus USAGE on those
// schemas). A function grant names no function that exists: ConfigError.
PermissionsReport apply_permissions(Connection& conn, const std::vector<RoleGrants>& config);

}  // namespace jobrunner::pg
