#include "html.hpp"

#include <array>

namespace jobrunner::jobctl::web {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '_' || u == '.' || u == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Html& Html::raw(std::string_view markup) {
  out_ += markup;
  return *this;
}

Html& Html::text(std::string_view value) {
  out_ += escape(value);
  return *this;
}

void Html::attributes(const Attrs& attrs) {
  for (const auto& [name, value] : attrs) {
    out_ += ' ';
    out_ += name;
    out_ += "=\"";
    out_ += escape(value);
    out_ += '"';
  }
}

Html& Html::open(std::string_view tag, const Attrs& attrs) {
  out_ += '<';
  out_ += tag;
  attributes(attrs);
  out_ += '>';
  return *this;
}

Html& Html::close(std::string_view tag) {
  out_ += "</";
  out_ += tag;
  out_ += '>';
  return *this;
}

Html& Html::element(std::string_view tag, std::string_view text, const Attrs& attrs) {
  return open(tag, attrs).text(text).close(tag);
}

Html& Html::link(const std::string& href, std::string_view text, const Attrs& attrs) {
  Attrs all{{"href", href}};
  all.insert(all.end(), attrs.begin(), attrs.end());
  return element("a", text, all);
}

Html& Html::hidden(std::string_view name, const std::string& value) {
  return open("input", {{"type", "hidden"}, {"name", std::string(name)}, {"value", value}});
}

namespace {

constexpr std::string_view kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
nav{background:#1d2330;padding:.6em 1.2em}nav a{color:#cfd6e4;margin-right:1.2em;text-decoration:none}
nav a.active{color:#fff;font-weight:600}nav .brand{color:#fff;font-weight:700;margin-right:1.6em}
main{padding:1em 1.5em}h1{font-size:1.4em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.2em 0 .4em}
table{border-collapse:collapse;background:#fff;margin-bottom:1em}
th,td{border:1px solid #d8dce3;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef0f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#fff;border:1px solid #d8dce3;padding:.6em;overflow:auto;max-width:100%;white-space:pre-wrap}
.st{padding:.05em .4em;border-radius:3px;font-size:.9em}
.WAITING{background:#e3ecfb}.RUNNING{background:#fff1c2}.COMPLETED{background:#dcf3e0}
.FAILED{background:#f9d7d7}.SUSPENDED{background:#ece0f7}.CANCELLED{background:#e6e6e6}
.msg{background:#dcf3e0;border:1px solid #9fd3a9;padding:.5em;margin-bottom:1em}
.err{background:#f9d7d7;border:1px solid #e09a9a;padding:.5em;margin-bottom:1em}
form.inline{display:inline;margin-right:.4em}form.filters input,form.filters select{margin-right:.6em}
button{cursor:pointer}.muted{color:#6b7385}.chart{background:#fff;border:1px solid #d8dce3}
)";

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kNav{{
    {"/", "Overview"}, {"/jobs", "Jobs"}, {"/oops", "Error reports"}, {"/runs", "Runner runs"}}};

}  // namespace

std::string page(std::string_view title, const std::string& body, std::string_view active) {
  Html h;
  h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
  h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
  h.element("title", std::string(title) + " · jobrunner");
  h.raw("<style>").raw(kStyle).raw("</style></head><body><nav>");
  h.element("span", "jobrunner", {{"class", "brand"}}).raw(" ");
  for (const auto& [href, name] : kNav) {
    if (href == active) {
      h.link(std::string(href), name, {{"class", "active"}});
    } else {
      h.link(std::string(href), name);
    }
  }
  h.raw("</nav><main>");
  h.element("h1", title);
  h.raw(body);
  h.raw("</main></body></html>\n");
  return h.str();
}

}  // namespace jobrunner::jobctl::web
