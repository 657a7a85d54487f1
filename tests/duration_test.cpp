// Durations as operators write them (pure, no database).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "jobrunner/core/duration.hpp"
#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;

// The BadInput message of parse_duration(text); fails the test if it parses.
std::string rejection_of(const std::string& text) {
  try {
    const auto parsed = parse_duration(text);
    ADD_FAILURE() << "'" << text << "' was accepted as " << parsed.count() << "ms";
  } catch (const BadInput& e) {
    return e.what();
  }
  return {};
}

TEST(Duration, parse_accepts_each_unit) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("5m"), 5min);
  EXPECT_EQ(parse_duration("3h"), 3h);
  EXPECT_EQ(parse_duration("2d"), 48h);
}

TEST(Duration, parse_adds_up_several_groups) {
  EXPECT_EQ(parse_duration("1h30m"), 90min);
  EXPECT_EQ(parse_duration("1d2h3m4s5ms"), 24h + 2h + 3min + 4s + 5ms);
}

TEST(Duration, a_bare_integer_means_seconds) {
  EXPECT_EQ(parse_duration("45"), 45s);
  EXPECT_EQ(parse_duration("0"), 0s);
}

TEST(Duration, zero_seconds_is_a_valid_duration) { EXPECT_EQ(parse_duration("0s"), Duration::zero()); }

TEST(Duration, parse_rejects_malformed_text) {
  for (const char* text : {"", "abc", "5x", "-5s", "5m3", "1.5s", "s", "5 s", "5S", "m5", "+5s"}) {
    SCOPED_TRACE(std::string("input '") + text + "'");
    EXPECT_THROW(parse_duration(text), BadInput);
  }
}

TEST(Duration, parse_rejects_overflowing_values) {
  EXPECT_THROW(parse_duration("99999999999999999999d"), BadInput);
  EXPECT_THROW(parse_duration("9223372036854775807d"), BadInput);
  // Each group fits, but their sum does not.
  EXPECT_THROW(parse_duration("9223372036854775807ms1ms"), BadInput);
}

TEST(Duration, the_largest_representable_value_is_accepted) {
  EXPECT_EQ(parse_duration("9223372036854775807ms").count(), 9223372036854775807LL);
}

TEST(Duration, a_rejection_quotes_the_input_and_shows_an_example) {
  for (const std::string text : {"abc", "5x", "-5s", "5m3", "1.5s", "99999999999999999999d"}) {
    const auto message = rejection_of(text);
    EXPECT_NE(message.find("'" + text + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("1h30m"), std::string::npos) << message;
  }
}

TEST(Duration, an_empty_input_is_rejected_with_an_example) {
  const auto message = rejection_of("");
  EXPECT_NE(message.find("''"), std::string::npos) << message;
  EXPECT_NE(message.find("30s"), std::string::npos) << message;
}

TEST(Duration, format_gives_the_shortest_exact_spelling) {
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(48h), "2d");
  EXPECT_EQ(format_duration(1s + 500ms), "1s500ms");
}

TEST(Duration, format_then_parse_round_trips) {
  for (const Duration d : {Duration(0ms), Duration(1ms), Duration(250ms), Duration(30s),
                           Duration(5min), Duration(90min), Duration(48h),
                           Duration(24h + 1h + 1min + 1s + 1ms), Duration(61s)}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
}

TEST(Duration, parse_then_format_round_trips_canonical_text) {
  for (const char* text : {"250ms", "30s", "5m", "1h30m", "2d", "0s", "1d1h1m1s1ms"}) {
    EXPECT_EQ(format_duration(parse_duration(text)), text);
  }
}

}  // namespace
}  // namespace jobrunner
