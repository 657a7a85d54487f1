#include "jobrunner/pg/registry.hpp"

#include <nlohmann/json.hpp>

#include "jobrunner/core/errors.hpp"
#include "queries.hpp"
#include "sqlstate.hpp"

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

std::optional<TypeNotices> type_notices(Transaction& tx, const std::string& name) {
  const auto rows = tx.exec(query("job_type_notices_get"), name);
  if (rows.empty()) return std::nullopt;
  const auto& row = rows.front();
  TypeNotices notices;
  notices.operator_mail =
      nlohmann::json::parse(row.text("operator_mail")).get<std::vector<std::string>>();
  notices.operator_webhook = row.opt_text("operator_webhook");
  return notices;
}

void set_type_notices(Transaction& tx, const std::string& name, const TypeNotices& notices) {
  try {
    (void)tx.exec(query("job_type_notices_set"), name,
                  nlohmann::json(notices.operator_mail).dump(), notices.operator_webhook);
  } catch (const SqlError& e) {
    std::string message = e.what();
    if (const auto at = message.find("ERROR:  "); at != std::string::npos) message.erase(0, at + 8);
    if (const auto end = message.find('\n'); end != std::string::npos) message.erase(end);
    if (e.sqlstate() == sqlstate::undefined_object) throw NotFound(message);
    if (e.sqlstate() == "22023") throw BadInput(message);
    throw;
  }
}

}  // namespace jobrunner::pg
