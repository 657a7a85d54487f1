#pragma once
// IANA time zones ("Europe/Berlin"), read from the system's tzdata
// (/usr/share/zoneinfo, Debian's tzdata package) by Howard Hinnant's date
// library (libhowardhinnant-date-dev, built with USE_OS_TZDB: it never
// downloads anything). The first lookup in a process reads the whole
// directory once; a TimeZone is then a cheap handle, valid for the process.

#include <chrono>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace jobrunner {

class TimeZone {
 public:
  // The zone called `name` (an IANA name or one of its links, e.g.
  // "US/Eastern"). Throws BadSchedule naming it when the system's tzdata has
  // no such zone.
  static TimeZone named(std::string_view name);
  static TimeZone utc();

  // The IANA name, as the tzdata spells it.
  std::string name() const;

  // `instant` as a local wall-clock time with its UTC offset and the zone's
  // abbreviation: "2025-03-30 03:00:00+02:00 CEST".
  std::string format(std::chrono::sys_seconds instant) const;

  // For CronSchedule, which resolves local times (src/core only).
  const date::time_zone& zone() const noexcept { return *zone_; }

  friend bool operator==(const TimeZone& a, const TimeZone& b) { return a.zone_ == b.zone_; }

 private:
  explicit TimeZone(const date::time_zone* zone) : zone_(zone) {}
  const date::time_zone* zone_;
};

}  // namespace jobrunner
