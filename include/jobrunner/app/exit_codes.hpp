#pragma once
// Exit codes of every jobrunner executable (sysexits.h, as cron and systemd
// users expect). docs/exit-codes.md lists them for operators.

namespace jobrunner::exit_code {

inline constexpr int ok = 0;
inline constexpr int usage = 64;         // EX_USAGE: bad options or arguments
inline constexpr int data_error = 65;    // EX_DATAERR: bad input (JSON, ids, times)
inline constexpr int locked = 69;        // EX_UNAVAILABLE: another run holds the type's lock
inline constexpr int software = 70;      // EX_SOFTWARE: an internal error (a bug)
inline constexpr int temp_failure = 75;  // EX_TEMPFAIL: database unreachable; try again
inline constexpr int config = 78;        // EX_CONFIG: schema not migrated, edited patch, ...

}  // namespace jobrunner::exit_code
