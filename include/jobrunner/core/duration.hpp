#pragma once
// Durations as operators write them: "250ms", "30s", "5m", "1h30m", "2d".

#include <chrono>
#include <string>
#include <string_view>

namespace jobrunner {

using Duration = std::chrono::milliseconds;

// Parses one or more <integer><unit> groups (units ms, s, m, h, d), or a bare
// integer meaning seconds. Throws BadInput with an example of the format for
// anything else, including negative or overflowing values.
Duration parse_duration(std::string_view text);

// The shortest exact spelling, e.g. "1h30m", "250ms", "0s".
std::string format_duration(Duration duration);

}  // namespace jobrunner
