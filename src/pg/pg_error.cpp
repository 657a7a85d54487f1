#include "pg_error.hpp"

#include <pqxx/pqxx>

#include "jobrunner/pg/connection.hpp"

namespace jobrunner::pg {
namespace {

// libpq messages end in a newline and sometimes carry a LINE/caret excerpt
// or a CONTEXT; one line is what an operator's log wants, with the server's
// DETAIL when it sent one (often the only line that says what was wrong:
// "\u0000 cannot be converted to text.").
std::string first_line(std::string_view message) {
  const auto end = message.find('\n');
  std::string line(message.substr(0, end));
  constexpr std::string_view kDetail = "\nDETAIL:  ";
  if (const auto at = message.find(kDetail); at != std::string_view::npos) {
    const auto start = at + kDetail.size();
    line += " (" + std::string(message.substr(start, message.find('\n', start) - start)) + ")";
  }
  return line;
}

std::string prefixed(std::string_view context, std::string_view message) {
  if (context.empty()) return first_line(message);
  return std::string(context) + ": " + first_line(message);
}

// Class 08 is connection_exception; 57P01..57P03 are the server shutting down
// or refusing connections.
bool is_connection_state(const std::string& state) {
  return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03";
}

// libpqxx 6.4 throws some of its specific exceptions without the SQLSTATE;
// the exception's class still says which it is.
std::string sqlstate_of(const pqxx::sql_error& e) {
  if (!e.sqlstate().empty()) return e.sqlstate();
  if (dynamic_cast<const pqxx::insufficient_privilege*>(&e)) return "42501";
  if (dynamic_cast<const pqxx::undefined_table*>(&e)) return "42P01";
  if (dynamic_cast<const pqxx::undefined_column*>(&e)) return "42703";
  if (dynamic_cast<const pqxx::undefined_function*>(&e)) return "42883";
  if (dynamic_cast<const pqxx::unique_violation*>(&e)) return "23505";
  if (dynamic_cast<const pqxx::foreign_key_violation*>(&e)) return "23503";
  if (dynamic_cast<const pqxx::not_null_violation*>(&e)) return "23502";
  if (dynamic_cast<const pqxx::check_violation*>(&e)) return "23514";
  return {};
}

}  // namespace

void rethrow_translated(std::string_view context, std::string_view server_said) {
  const auto unavailable = [&](const std::exception& e) {
    auto message = prefixed(context, e.what());
    // libpqxx 6.4 masks libpq's reason when the connection died in a
    // statement: it then fails to read the client encoding.
    if (message.find("Could not obtain client encoding") != std::string::npos) {
      message = "the connection was lost (a dead link gives up after tcp_user_timeout or the "
                "keepalives; libpqxx: " + message + ")";
    }
    if (!server_said.empty() && message.find(server_said) == std::string::npos) {
      message += " (the server said: " + std::string(server_said) + ")";
    }
    return DatabaseUnavailable(message);
  };
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    throw unavailable(e);
  } catch (const pqxx::in_doubt_error& e) {
    throw unavailable(e);
  } catch (const pqxx::sql_error& e) {
    // Every error the server reports has a SQLSTATE; one without is libpq's
    // own, on the client side: "server closed the connection unexpectedly"
    // after a crash, while libpq still thinks the connection is open.
    const auto state = sqlstate_of(e);
    if (is_connection_state(state) || state.empty()) throw unavailable(e);
    throw SqlError(prefixed(context, e.what()), state);
  } catch (const pqxx::statement_completion_unknown& e) {
    throw unavailable(e);
  } catch (const pqxx::serialization_failure& e) {
    throw SqlError(prefixed(context, e.what()), "40001");
  } catch (const pqxx::deadlock_detected& e) {
    throw SqlError(prefixed(context, e.what()), "40P01");
  } catch (const pqxx::transaction_rollback& e) {
    throw SqlError(prefixed(context, e.what()), "40000");
  } catch (const pqxx::failure& e) {
    throw unavailable(e);
  }
}

}  // namespace jobrunner::pg
