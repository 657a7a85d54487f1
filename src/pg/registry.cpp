#include "jobrunner/pg/registry.hpp"

#include "queries.hpp"

namespace jobrunner::pg {
namespace {

std::vector<RegisteredType> select_types(Transaction& tx, const std::optional<std::string>& name) {
  std::vector<RegisteredType> out;
  for (const auto& row : tx.exec(query("job_type_list"), name)) {
    RegisteredType type;
    auto& spec = type.spec;
    spec.name = row.text("name");
    spec.display_name = row.text("display_name");
    spec.table = row.opt_text("type_table").value_or("");
    spec.target_column = row.opt_text("target_column").value_or("");
    spec.target_table = row.opt_text("target_table").value_or("");
    spec.type_code = static_cast<int>(row.opt_int("type_code").value_or(0));
    spec.default_max_retries = static_cast<int>(row.integer("max_retries"));
    spec.retry.retry_delay = Duration(row.integer("retry_delay_ms"));
    spec.retry.backoff = row.boolean("retry_backoff");
    spec.retry.max_retry_delay = Duration(row.integer("max_retry_delay_ms"));
    spec.lease = Duration(row.integer("lease_ms"));
    spec.one_pending_per_target = row.boolean("one_pending");
    spec.batch_completions = row.boolean("batch_completions");
    type.package = row.text("package");
    out.push_back(std::move(type));
  }
  return out;
}

}  // namespace

std::vector<RegisteredType> registered_types(Transaction& tx) {
  return select_types(tx, std::nullopt);
}

std::optional<RegisteredType> find_registered_type(Transaction& tx, const std::string& name) {
  auto types = select_types(tx, name);
  if (types.empty()) return std::nullopt;
  return std::move(types.front());
}

}  // namespace jobrunner::pg
