#pragma once
// What the figures depend on: the machine and the PostgreSQL server.

#include "jobrunner/pg/connection.hpp"
#include "results.hpp"

namespace jobrunner::bench {

// nproc, the CPU model (/proc/cpuinfo), RAM (/proc/meminfo), the kernel.
Machine read_machine();

// The server's version and the settings that move the figures most.
Server read_server(pg::Connection& conn);

}  // namespace jobrunner::bench
