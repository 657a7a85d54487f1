#pragma once
// Sizes as operators write them: "512M", "2G", "65536" (bytes), "64K".

#include <cstdint>
#include <string_view>

namespace jobrunner {

// Accepts an integer with an optional K, M, G or T suffix (powers of 1024,
// optionally followed by "B" or "iB"). Throws BadInput otherwise.
std::uint64_t parse_byte_size(std::string_view text);

}  // namespace jobrunner
