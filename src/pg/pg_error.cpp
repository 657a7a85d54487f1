#include "pg_error.hpp"

#include <pqxx/pqxx>

#include "jobrunner/pg/connection.hpp"

namespace jobrunner::pg {
namespace {

// libpq messages end in a newline and sometimes carry a LINE/caret excerpt;
// one line is what an operator's log wants.
std::string first_line(std::string_view message) {
  auto end = message.find('\n');
  return std::string(message.substr(0, end));
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

}  // namespace

void rethrow_translated(std::string_view context) {
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    throw DatabaseUnavailable(prefixed(context, e.what()));
  } catch (const pqxx::in_doubt_error& e) {
    throw DatabaseUnavailable(prefixed(context, e.what()));
  } catch (const pqxx::sql_error& e) {
    if (is_connection_state(e.sqlstate())) throw DatabaseUnavailable(prefixed(context, e.what()));
    throw SqlError(prefixed(context, e.what()), e.sqlstate());
  } catch (const pqxx::failure& e) {
    throw DatabaseUnavailable(prefixed(context, e.what()));
  }
}

}  // namespace jobrunner::pg
