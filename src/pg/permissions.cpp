#include "jobrunner/pg/permissions.hpp"

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include "embedded_sql.hpp"

namespace jobrunner::pg {
namespace {

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return std::string(s.substr(first, last - first + 1));
}

[[noreturn]] void reject(int line_number, const std::string& why) {
  throw ConfigError("permissions file, line " + std::to_string(line_number) + ": " + why);
}

const std::regex kName("[a-z_][a-z0-9_]*");
const std::set<std::string> kPrivileges = {"SELECT", "INSERT", "UPDATE", "DELETE"};

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

// `function schema.name = EXECUTE`
FunctionGrant parse_function_grant(int number, const std::string& target,
                                   const std::string& privileges) {
  const auto dot = target.find('.');
  if (dot == std::string::npos) reject(number, "'function " + target + "' must be function schema.name");
  FunctionGrant grant{target.substr(0, dot), target.substr(dot + 1), {}};
  if (!std::regex_match(grant.schema, kName) || !std::regex_match(grant.name, kName)) {
    reject(number, "'" + target + "' is not a valid schema.function name");
  }
  std::istringstream in(privileges);
  std::string privilege;
  while (std::getline(in, privilege, ',')) {
    privilege = upper(trim(privilege));
    if (privilege != "EXECUTE") {
      reject(number, "unknown function privilege '" + privilege + "' (use EXECUTE)");
    }
    grant.privileges.push_back(privilege);
  }
  if (grant.privileges.empty()) reject(number, "no privileges listed for function " + target);
  return grant;
}

}  // namespace

std::vector<RoleGrants> parse_security_config(std::string_view text) {
  std::vector<RoleGrants> roles;
  std::istringstream in{std::string(text)};
  std::string raw;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    const auto line = trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') reject(number, "a section header must look like [role_name]");
      auto role = trim(std::string_view(line).substr(1, line.size() - 2));
      if (!std::regex_match(role, kName)) reject(number, "'" + role + "' is not a valid role name");
      roles.push_back(RoleGrants{role, {}});
      continue;
    }
    if (roles.empty()) reject(number, "a grant must follow a [role] header");
    const auto eq = line.find('=');
    if (eq == std::string::npos) reject(number, "expected schema.table = PRIVILEGE, ...");
    auto target = trim(std::string_view(line).substr(0, eq));
    if (target.starts_with("function ")) {
      roles.back().functions.push_back(parse_function_grant(
          number, trim(std::string_view(target).substr(9)), line.substr(eq + 1)));
      continue;
    }
    const auto dot = target.find('.');
    if (dot == std::string::npos) reject(number, "'" + target + "' must be schema.table");
    TableGrant grant{target.substr(0, dot), target.substr(dot + 1), {}};
    if (!std::regex_match(grant.schema, kName) || !std::regex_match(grant.table, kName)) {
      reject(number, "'" + target + "' is not a valid schema.table name");
    }
    std::istringstream privileges(line.substr(eq + 1));
    std::string privilege;
    while (std::getline(privileges, privilege, ',')) {
      privilege = upper(trim(privilege));
      if (!kPrivileges.contains(privilege)) {
        reject(number, "unknown privilege '" + privilege + "' (use SELECT, INSERT, UPDATE, DELETE)");
      }
      grant.privileges.push_back(privilege);
    }
    if (grant.privileges.empty()) reject(number, "no privileges listed for " + target);
    roles.back().tables.push_back(std::move(grant));
  }
  return roles;
}

std::vector<RoleGrants> merge_security_configs(
    const std::vector<std::vector<RoleGrants>>& configs) {
  std::vector<RoleGrants> out;
  for (const auto& config : configs) {
    for (const auto& role : config) {
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const RoleGrants& r) { return r.role == role.role; });
      if (it == out.end()) {
        out.push_back(role);
      } else {
        it->tables.insert(it->tables.end(), role.tables.begin(), role.tables.end());
        it->functions.insert(it->functions.end(), role.functions.begin(), role.functions.end());
      }
    }
  }
  return out;
}

std::string embedded_security_config() { return std::string(embedded::security_config()); }

PermissionsReport apply_permissions(Connection& conn, const std::vector<RoleGrants>& config) {
  PermissionsReport report;
  auto tx = conn.begin();
  for (const auto& role : config) {
    // CREATE ROLE cannot take parameters; names were checked by the parser.
    const auto quoted_role = tx.quote_name(role.role);
    const bool exists =
        !tx.exec("SELECT 1 FROM pg_roles WHERE rolname = $1", role.role).empty();
    if (!exists) {
      // Roles are cluster-wide: another database's run may create it first.
      tx.exec_script("DO $$ BEGIN CREATE ROLE " + quoted_role +
                     " LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
      report.created_roles.push_back(role.role);
    }
    std::set<std::string> schemas;
    for (const auto& table : role.tables) schemas.insert(table.schema);
    for (const auto& function : role.functions) schemas.insert(function.schema);
    for (const auto& schema : schemas) {
      const auto quoted_schema = tx.quote_name(schema);
      tx.exec_script("REVOKE ALL ON ALL TABLES IN SCHEMA " + quoted_schema + " FROM " + quoted_role);
      tx.exec_script("REVOKE ALL ON ALL SEQUENCES IN SCHEMA " + quoted_schema + " FROM " + quoted_role);
      tx.exec_script("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA " + quoted_schema + " FROM " + quoted_role);
      tx.exec_script("GRANT USAGE ON SCHEMA " + quoted_schema + " TO " + quoted_role);
    }
    for (const auto& table : role.tables) {
      std::string privileges;
      for (const auto& p : table.privileges) privileges += (privileges.empty() ? "" : ", ") + p;
      try {
        tx.exec_script("GRANT " + privileges + " ON TABLE " + tx.quote_name(table.schema) + "." +
                       tx.quote_name(table.table) + " TO " + quoted_role);
      } catch (const SqlError& e) {
        throw ConfigError("cannot grant " + privileges + " on " + table.schema + "." + table.table +
                          " to " + role.role + ": " + e.what() +
                          " (run jobctl db upgrade first?)");
      }
      ++report.grants;
      const auto grants = [&](const char* privilege) {
        return std::find(table.privileges.begin(), table.privileges.end(), privilege) !=
               table.privileges.end();
      };
      if (grants("INSERT") || grants("UPDATE")) {
        // Bulk inserts draw ids with nextval() themselves (enqueue_many),
        // and claims draw lease tokens (job_lease_token_seq, owned by
        // job.lease_token): both need USAGE on the sequences that the
        // table's columns own.
        const auto sequences = tx.exec(
            "SELECT pg_get_serial_sequence(format('%I.%I', $1::text, $2::text), a.attname)"
            " AS sequence FROM pg_attribute AS a"
            " WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass"
            "   AND a.attnum > 0 AND NOT a.attisdropped"
            "   AND pg_get_serial_sequence(format('%I.%I', $1::text, $2::text), a.attname)"
            "       IS NOT NULL",
            table.schema, table.table);
        for (const auto& row : sequences) {
          // A name from the catalog, already quoted where it needs to be.
          tx.exec_script("GRANT USAGE ON SEQUENCE " + row.text("sequence") + " TO " + quoted_role);
        }
      }
    }
    for (const auto& function : role.functions) {
      // Every signature of the name; each as its regprocedure, which the
      // catalog quotes where it must.
      const auto signatures = tx.exec(
          "SELECT p.oid::regprocedure::text AS signature FROM pg_proc AS p"
          " JOIN pg_namespace AS n ON n.oid = p.pronamespace"
          " WHERE n.nspname = $1 AND p.proname = $2 ORDER BY p.oid",
          function.schema, function.name);
      if (signatures.empty()) {
        throw ConfigError("cannot grant EXECUTE on function " + function.schema + "." +
                          function.name + " to " + role.role +
                          ": there is no such function (run jobctl db upgrade first?)");
      }
      for (const auto& row : signatures) {
        tx.exec_script("GRANT EXECUTE ON FUNCTION " + row.text("signature") + " TO " + quoted_role);
      }
      ++report.grants;
    }
  }
  tx.commit();
  return report;
}

}  // namespace jobrunner::pg
