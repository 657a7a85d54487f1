#pragma once
// Turns libpqxx exceptions into jobrunner errors, in one place.

#include <exception>
#include <string_view>

namespace jobrunner::pg {

// Call from a catch block: rethrows the current exception as
// DatabaseUnavailable (connection trouble) or SqlError (a failed statement);
// anything else is rethrown unchanged. `context` prefixes the message.
// A statement error without a SQLSTATE is libpq's own (e.g. "server closed
// the connection unexpectedly", also while libpq still deems the connection
// open): DatabaseUnavailable.
// `server_said` is the FATAL message the server sent before it closed the
// connection, if any; a DatabaseUnavailable quotes it, since libpqxx 6.4
// often says only "Connection to database failed".
[[noreturn]] void rethrow_translated(std::string_view context, std::string_view server_said = {});

}  // namespace jobrunner::pg
