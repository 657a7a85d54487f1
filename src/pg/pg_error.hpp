#pragma once
// Turns libpqxx exceptions into jobrunner errors, in one place.

#include <exception>
#include <string_view>

namespace jobrunner::pg {

// Call from a catch block: rethrows the current exception as
// DatabaseUnavailable (connection trouble) or SqlError (a failed statement);
// anything else is rethrown unchanged. `context` prefixes the message.
[[noreturn]] void rethrow_translated(std::string_view context);

}  // namespace jobrunner::pg
