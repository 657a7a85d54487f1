#pragma once
// An inline SVG stacked bar chart (the overview's throughput per minute):
// pure code, no I/O, no script; every text in it (labels, series names,
// the title) goes through escape().

#include <string>
#include <vector>

namespace jobrunner::jobctl::web {

struct ChartSeries {
  std::string name;   // in the legend and each bar's tooltip
  std::string color;  // a CSS colour, e.g. "#3b7d4f"
};

struct BarChart {
  std::string title;                        // the SVG's aria-label and <title>
  std::vector<ChartSeries> series;          // stacked bottom up, in this order
  std::vector<std::string> labels;          // one per bar (its tooltip); x axis: first, last
  std::vector<std::vector<double>> values;  // values[bar][series], each >= 0
  int width = 640;
  int height = 150;
};

// <svg ...>...</svg>: one bar per label, scaled to the largest stack (the
// axis shows it), an empty chart saying "none" when every value is 0.
std::string render_svg(const BarChart& chart);

}  // namespace jobrunner::jobctl::web
