#pragma once
// Metric families and their rendering in the Prometheus text exposition
// format (version 0.0.4: what /metrics serves, what node_exporter's textfile
// collector reads, what `promtool check metrics` checks). Pure: no I/O, no
// clock. docs/metrics.md lists jobrunner's families.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobrunner::metrics {

enum class Kind { counter, gauge, histogram };

// Label name and value, in the order they are rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  Labels labels;
  double value = 0;
};

// One labelled histogram: the count of observations at or below each upper
// bound (cumulative, bounds ascending; the +Inf bucket is `count` and is
// rendered without being listed), their sum and their count.
struct HistogramSample {
  Labels labels;
  std::vector<std::pair<double, std::uint64_t>> buckets;
  double sum = 0;
  std::uint64_t count = 0;
};

struct Family {
  std::string name;  // with its unit and, for a counter, "_total"
  std::string help;
  Kind kind = Kind::gauge;
  std::vector<Sample> samples;                // counter, gauge
  std::vector<HistogramSample> histograms;    // histogram
};

// The families in order, each with its HELP and TYPE lines, then its
// samples. Throws std::invalid_argument for a metric or label name that is
// not a Prometheus name, a label named "le" outside the buckets, a counter
// whose name does not end in "_total", or buckets out of order.
std::string render(const std::vector<Family>& families);

// A label value with \, " and newline escaped (\\, \", \n).
std::string escape_label_value(std::string_view value);
// A HELP text with \ and newline escaped.
std::string escape_help(std::string_view help);
// A sample value: integers without a fraction ("42"), others in the
// shortest form that reads back the same, "+Inf", "-Inf", "NaN".
std::string format_value(double value);

}  // namespace jobrunner::metrics
