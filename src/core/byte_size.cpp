#include "jobrunner/core/byte_size.hpp"

#include <charconv>
#include <limits>
#include <string>

#include "jobrunner/core/errors.hpp"

namespace jobrunner {

std::uint64_t parse_byte_size(std::string_view text) {
  auto reject = [&](std::string_view why) -> std::uint64_t {
    throw BadInput("invalid size '" + std::string(text) + "': " + std::string(why) +
                   " (examples: 65536, 64K, 512M, 2G)");
  };
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return reject("expected a non-negative integer");
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (unit.ends_with("iB")) {
    unit.remove_suffix(2);
  } else if (unit.size() > 1 && unit.ends_with("B")) {
    unit.remove_suffix(1);
  }
  int shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "K" || unit == "k") {
    shift = 10;
  } else if (unit == "M") {
    shift = 20;
  } else if (unit == "G") {
    shift = 30;
  } else if (unit == "T") {
    shift = 40;
  } else {
    return reject("unknown unit '" + std::string(unit) + "'");
  }
  if (value > (std::numeric_limits<std::uint64_t>::max() >> shift)) return reject("too large");
  return value << shift;
}

}  // namespace jobrunner
