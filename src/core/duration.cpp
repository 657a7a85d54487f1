#include "jobrunner/core/duration.hpp"

#include <cctype>
#include <charconv>
#include <limits>

#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

[[noreturn]] void reject(std::string_view text, std::string_view why) {
  throw BadInput("invalid duration '" + std::string(text) + "': " + std::string(why) +
                 " (examples: 250ms, 30s, 5m, 1h30m, 2d)");
}

// Milliseconds per unit, or 0 for an unknown unit.
std::int64_t unit_ms(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60 * 1000;
  if (unit == "h") return 60 * 60 * 1000;
  if (unit == "d") return 24 * 60 * 60 * 1000;
  return 0;
}

}  // namespace

Duration parse_duration(std::string_view text) {
  if (text.empty()) reject(text, "it is empty");
  std::int64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) reject(text, "the number is too large");
    if (ec != std::errc() || value < 0) reject(text, "expected a non-negative integer");
    pos = static_cast<std::size_t>(end - text.data());
    std::size_t unit_end = pos;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) {
      ++unit_end;
    }
    std::string_view unit = text.substr(pos, unit_end - pos);
    if (unit.empty()) {
      if (pos != text.size() || total != 0) reject(text, "a number without a unit");
      unit = "s";  // a bare integer means seconds
    }
    const std::int64_t ms = unit_ms(unit);
    if (ms == 0) reject(text, "unknown unit '" + std::string(unit) + "'");
    if (value > (std::numeric_limits<std::int64_t>::max() - total) / ms) {
      reject(text, "the duration is too long");
    }
    total += value * ms;
    pos = unit_end;
  }
  return Duration(total);
}

std::string format_duration(Duration duration) {
  std::int64_t ms = duration.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  constexpr std::pair<std::int64_t, const char*> kUnits[] = {
      {24LL * 60 * 60 * 1000, "d"}, {60LL * 60 * 1000, "h"}, {60LL * 1000, "m"}, {1000, "s"},
      {1, "ms"}};
  for (const auto& [size, name] : kUnits) {
    if (ms >= size) {
      out += std::to_string(ms / size) + name;
      ms %= size;
    }
  }
  return out;
}

}  // namespace jobrunner
