#pragma once
// The job type registry: table job_type (patch 0010), written by each type's
// migration through jobrunner_register_type(). jobctl learns every type
// here; a runner reads its own type's row at start.

#include <optional>
#include <string>
#include <vector>

#include "jobrunner/core/job_type_spec.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner::pg {

struct RegisteredType {
  // A type without a table of its own (its registry row's type_table,
  // target_column, target_table and type_code are NULL) has empty table,
  // target_column and target_table, and type_code 0: spec.has_table() is
  // false.
  JobTypeSpec spec;
  std::string package;  // whose migration registered it
  bool has_table() const noexcept { return spec.has_table(); }
};

// Every registered type, in name order. A database without the registry
// (not migrated) fails with the undefined-table SqlError that executables
// report as "run jobctl db upgrade".
std::vector<RegisteredType> registered_types(Transaction& tx);
// The registered type of that name, if any.
std::optional<RegisteredType> find_registered_type(Transaction& tx, const std::string& name);

// Who hears of a type's error reports (patch 0016, docs/mail-jobs.md): a
// mail job to operator_mail, a webhook job to operator_webhook.
struct TypeNotices {
  std::vector<std::string> operator_mail;
  std::optional<std::string> operator_webhook;
};
// nullopt for an unknown type.
std::optional<TypeNotices> type_notices(Transaction& tx, const std::string& name);
// Replaces them. Throws NotFound for an unknown type and BadInput for a
// malformed address or endpoint name, writing nothing then.
void set_type_notices(Transaction& tx, const std::string& name, const TypeNotices& notices);

}  // namespace jobrunner::pg
