#pragma once
// A plain-text table for the terminal: a header and rows of cells, each
// column as wide as its widest cell.

#include <ostream>
#include <string>
#include <vector>

namespace jobrunner::bench {

class TextTable {
 public:
  // `align` has one letter per column: 'l' (text) or 'r' (numbers).
  TextTable(std::vector<std::string> header, std::string align);
  // A row shorter than the header leaves its last cells empty.
  void add(std::vector<std::string> row);
  void print(std::ostream& out, const std::string& indent = "  ") const;

 private:
  std::vector<std::vector<std::string>> rows_;  // the header first
  std::string align_;
};

}  // namespace jobrunner::bench
