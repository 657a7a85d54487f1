#pragma once
// What jobrunner does to a connection string before libpq sees it.

#include <string>

namespace jobrunner::pg {

// Checks `conninfo` (key=value or postgresql:// URI) the way libpq would
// before it opens a socket, and returns it as key=value with jobrunner's
// network defaults added where it sets none:
//   keepalives_idle=5 keepalives_interval=2 keepalives_count=3
//     (an idle connection whose peer vanished fails within about 11 s)
//   tcp_user_timeout=10000
//     (a statement sent into a dead link fails within 10 s, not the
//      kernel's ~15 minutes of retransmissions)
// They apply to TCP only; a unix socket ignores them.
// Throws ConfigError, naming the option and never quoting a password, when
// libpq would refuse the string itself: a syntax error, an unknown option,
// a value that is not an integer where one is needed (port=notaport), an
// unknown sslmode, ports that cannot be matched to the hosts. Such a string
// never works, however often it is retried: it is a configuration error
// (exit 78), not an unreachable database (75).
std::string conninfo_with_defaults(const std::string& conninfo);

}  // namespace jobrunner::pg
