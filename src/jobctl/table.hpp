#pragma once
// Plain-text tables for people; --json output is nlohmann::json instead.

#include <iosfwd>
#include <string>
#include <vector>

namespace jobrunner::jobctl {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const noexcept { return rows_.empty(); }
  // Columns padded to their widest cell, a rule under the header.
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace jobrunner::jobctl
