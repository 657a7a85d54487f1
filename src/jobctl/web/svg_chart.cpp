#include "svg_chart.hpp"

#include <algorithm>
#include <cmath>

#include <spdlog/fmt/fmt.h>

#include "html.hpp"

namespace jobrunner::jobctl::web {
namespace {

std::string number(double value) {
  if (value == std::floor(value)) return fmt::format("{:.0f}", value);
  return fmt::format("{:.1f}", value);
}

}  // namespace

std::string render_svg(const BarChart& chart) {
  constexpr int kLeft = 44, kRight = 8, kTop = 22, kBottom = 20;
  const int plot_w = std::max(chart.width - kLeft - kRight, 10);
  const int plot_h = std::max(chart.height - kTop - kBottom, 10);
  double most = 0;
  for (const auto& bar : chart.values) {
    double sum = 0;
    for (const double v : bar) sum += std::max(v, 0.0);
    most = std::max(most, sum);
  }
  std::string out = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
      chart.width, chart.height, chart.width, chart.height, escape(chart.title),
      escape(chart.title));
  // The legend.
  int x = kLeft;
  for (const auto& s : chart.series) {
    out += fmt::format("<rect x=\"{}\" y=\"6\" width=\"10\" height=\"10\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"15\" font-size=\"11\">{}</text>",
                       x, escape(s.color), x + 14, escape(s.name));
    x += 24 + static_cast<int>(s.name.size()) * 7;
  }
  // The axes: 0 and the largest stack.
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#8891a3\"/>"
                     "<line x1=\"{0}\" y1=\"{2}\" x2=\"{3}\" y2=\"{2}\" stroke=\"#8891a3\"/>",
                     kLeft, kTop, kTop + plot_h, kLeft + plot_w);
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
                     kLeft - 4, kTop + 8, number(most));
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">0</text>",
                     kLeft - 4, kTop + plot_h);
  const auto bars = chart.values.size();
  if (most <= 0 || bars == 0) {
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#6b7385\" "
                       "text-anchor=\"middle\">none</text>",
                       kLeft + plot_w / 2, kTop + plot_h / 2);
  } else {
    const double slot = static_cast<double>(plot_w) / static_cast<double>(bars);
    const double bar_w = std::max(slot - 1.0, 1.0);
    for (std::size_t i = 0; i < bars; ++i) {
      double base = kTop + plot_h;
      std::string tip = i < chart.labels.size() ? chart.labels[i] : std::string();
      for (std::size_t k = 0; k < chart.values[i].size() && k < chart.series.size(); ++k) {
        tip += "\n" + chart.series[k].name + ": " + number(chart.values[i][k]);
      }
      out += "<g><title>" + escape(tip) + "</title>";
      for (std::size_t k = 0; k < chart.values[i].size() && k < chart.series.size(); ++k) {
        const double v = std::max(chart.values[i][k], 0.0);
        if (v <= 0) continue;
        const double h = v / most * plot_h;
        base -= h;
        out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                           "fill=\"{}\"/>",
                           kLeft + slot * static_cast<double>(i), base, bar_w, h,
                           escape(chart.series[k].color));
      }
      out += "</g>";
    }
  }
  if (!chart.labels.empty()) {
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">{}</text>", kLeft,
                       chart.height - 5, escape(chart.labels.front()));
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
                       kLeft + plot_w, chart.height - 5, escape(chart.labels.back()));
  }
  out += "</svg>";
  return out;
}

}  // namespace jobrunner::jobctl::web
