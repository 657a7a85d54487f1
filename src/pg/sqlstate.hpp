#pragma once
// The SQLSTATEs the store turns into its own errors, in one place.

#include <string_view>

namespace jobrunner::pg::sqlstate {

inline constexpr std::string_view foreign_key_violation = "23503";
inline constexpr std::string_view unique_violation = "23505";
inline constexpr std::string_view undefined_object = "42704";

// A time or interval PostgreSQL cannot read (--at, filters).
inline bool is_bad_time_input(std::string_view state) {
  return state == "22007"       // invalid_datetime_format
         || state == "22008"    // datetime_field_overflow
         || state == "22P02"    // invalid_text_representation
         || state == "22023";   // invalid_parameter_value
}

}  // namespace jobrunner::pg::sqlstate
