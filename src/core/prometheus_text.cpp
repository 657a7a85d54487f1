#include "jobrunner/core/prometheus_text.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace jobrunner::metrics {
namespace {

bool name_char(char c, bool first, bool colon_allowed) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                      (colon_allowed && c == ':');
  return letter || (!first && c >= '0' && c <= '9');
}

// [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, [a-zA-Z_][a-zA-Z0-9_]* for labels.
void check_name(std::string_view name, bool metric) {
  bool ok = !name.empty();
  for (std::size_t i = 0; ok && i < name.size(); ++i) ok = name_char(name[i], i == 0, metric);
  if (!ok || (!metric && name.starts_with("__"))) {
    throw std::invalid_argument(std::string(metric ? "metric" : "label") + " name '" +
                                std::string(name) + "' is not a Prometheus name");
  }
}

void check_labels(const Labels& labels) {
  for (const auto& [name, value] : labels) {
    check_name(name, false);
    if (name == "le") throw std::invalid_argument("the label name 'le' is the buckets'");
  }
}

// {a="x",b="y"} plus `extra` (the bucket's le), or nothing when both are empty.
void append_labels(std::string& out, const Labels& labels, std::string_view extra = {}) {
  if (labels.empty() && extra.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    out += escape_label_value(value);
    out += '"';
  }
  if (!extra.empty()) {
    if (!first) out += ',';
    out += extra;
  }
  out += '}';
}

void append_line(std::string& out, std::string_view name, const Labels& labels, double value,
                 std::string_view extra = {}) {
  out += name;
  append_labels(out, labels, extra);
  out += ' ';
  out += format_value(value);
  out += '\n';
}

const char* type_name(Kind kind) {
  switch (kind) {
    case Kind::counter:
      return "counter";
    case Kind::gauge:
      return "gauge";
    case Kind::histogram:
      return "histogram";
  }
  return "untyped";
}

void append_histogram(std::string& out, const std::string& name, const HistogramSample& h) {
  check_labels(h.labels);
  double previous = -INFINITY;
  std::uint64_t previous_count = 0;
  for (const auto& [bound, count] : h.buckets) {
    if (!(bound > previous) || std::isinf(bound) || count < previous_count || count > h.count) {
      throw std::invalid_argument("the buckets of histogram '" + name +
                                  "' are not ascending and cumulative");
    }
    previous = bound;
    previous_count = count;
    append_line(out, name + "_bucket", h.labels, static_cast<double>(count),
                "le=\"" + format_value(bound) + "\"");
  }
  append_line(out, name + "_bucket", h.labels, static_cast<double>(h.count), "le=\"+Inf\"");
  append_line(out, name + "_sum", h.labels, h.sum);
  append_line(out, name + "_count", h.labels, static_cast<double>(h.count));
}

// \ and newline escaped, and " too in a label value.
std::string escaped(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view value) { return escaped(value, true); }

std::string escape_help(std::string_view help) { return escaped(help, false); }

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  std::to_chars_result result{};
  // Whole numbers up to 2^53 (counts, seconds since the epoch) as integers.
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {
    result = std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(value));
  } else {
    result = std::to_chars(buffer, buffer + sizeof buffer, value);
  }
  return std::string(buffer, result.ptr);
}

std::string render(const std::vector<Family>& families) {
  std::string out;
  for (const auto& family : families) {
    check_name(family.name, true);
    if (family.kind == Kind::counter && !family.name.ends_with("_total")) {
      throw std::invalid_argument("counter '" + family.name + "' does not end in _total");
    }
    out += "# HELP " + family.name + ' ' + escape_help(family.help) + '\n';
    out += "# TYPE " + family.name + ' ' + type_name(family.kind) + '\n';
    if (family.kind == Kind::histogram) {
      for (const auto& h : family.histograms) append_histogram(out, family.name, h);
    } else {
      for (const auto& sample : family.samples) {
        check_labels(sample.labels);
        append_line(out, family.name, sample.labels, sample.value);
      }
    }
  }
  return out;
}

}  // namespace jobrunner::metrics
