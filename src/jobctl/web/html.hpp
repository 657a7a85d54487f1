#pragma once
// HTML for jobctl web: one escaping function that every value goes through,
// and a small builder whose text and attribute values are always escaped
// (attributes always double-quoted). Only markup written by this code, never
// a value from the database or the request, goes in unescaped (raw()).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobrunner::jobctl::web {

// & < > " ' as character references: safe between tags and inside a quoted
// attribute value.
std::string escape(std::string_view text);

// Percent-encoding of a query string value or a path segment (RFC 3986
// unreserved characters stay).
std::string url_encode(std::string_view text);

// Attribute names are this code's constants; the values are escaped.
using Attrs = std::vector<std::pair<std::string_view, std::string>>;

class Html {
 public:
  // Trusted markup made by this code (tags, inline CSS, an SVG chart built
  // with escape()): never a value read from the database or a request.
  Html& raw(std::string_view markup);
  Html& text(std::string_view value);  // escaped
  Html& open(std::string_view tag, const Attrs& attrs = {});
  Html& close(std::string_view tag);
  // <tag attrs>text</tag>, the text escaped.
  Html& element(std::string_view tag, std::string_view text, const Attrs& attrs = {});
  Html& link(const std::string& href, std::string_view text, const Attrs& attrs = {});
  // <input type=hidden name=... value=...>
  Html& hidden(std::string_view name, const std::string& value);
  const std::string& str() const noexcept { return out_; }

 private:
  void attributes(const Attrs& attrs);
  std::string out_;
};

// The whole document: title, the navigation bar, inline CSS (no external
// asset: works offline), `body` (built with Html).
std::string page(std::string_view title, const std::string& body, std::string_view active);

}  // namespace jobrunner::jobctl::web
