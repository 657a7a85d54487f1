#pragma once
// Turns libpqxx exceptions into jobrunner errors, in one place.

#include <exception>
#include <string_view>

namespace jobrunner::pg {

// Call from a catch block: rethrows the current exception as
// DatabaseUnavailable (connection trouble) or SqlError (a failed statement);
// anything else is rethrown unchanged. `context` prefixes the message.
// `connection_open` is false when the connection is known to be gone: then
// any failure is DatabaseUnavailable (libpq reports "server closed the
// connection unexpectedly" as a statement error without a SQLSTATE).
// `server_said` is the FATAL message the server sent before it closed the
// connection, if any; a DatabaseUnavailable quotes it, since libpqxx 6.4
// often says only "Connection to database failed".
[[noreturn]] void rethrow_translated(std::string_view context, bool connection_open = true,
                                     std::string_view server_said = {});

}  // namespace jobrunner::pg
