#include "jobrunner/core/time_zone.hpp"

#include <date/tz.h>

#include <stdexcept>

#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

// Reads the database once per process (the library keeps it); a missing
// database is a broken installation, not an unknown zone.
void require_system_tzdb() {
  try {
    date::get_tzdb();
  } catch (const std::exception& e) {
    throw ConfigError(std::string("cannot read the system's time zone database ") +
                      "(/usr/share/zoneinfo, Debian package tzdata): " + e.what());
  }
}

}  // namespace

TimeZone TimeZone::named(std::string_view name) {
  require_system_tzdb();
  try {
    return TimeZone(date::locate_zone(name));
  } catch (const std::runtime_error&) {
    throw BadSchedule("unknown time zone \"" + std::string(name) +
                      "\": not in the system's tzdata (/usr/share/zoneinfo); give an IANA name " +
                      "such as Europe/Berlin, America/New_York or UTC");
  }
}

TimeZone TimeZone::utc() { return named("UTC"); }

std::string TimeZone::name() const { return std::string(zone_->name()); }

std::string TimeZone::format(std::chrono::sys_seconds instant) const {
  return date::format("%F %T%Ez %Z", date::make_zoned(zone_, instant));
}

}  // namespace jobrunner
