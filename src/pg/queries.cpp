#include "queries.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <regex>
#include <vector>

#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/status.hpp"

namespace jobrunner::pg {
namespace {

constexpr std::string_view kNameMarker = "-- name: ";
constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";

// The placeholders of a job type's tables, left in the loaded blocks.
constexpr std::array<std::string_view, 3> kTypePlaceholders = {"type_table", "target_column",
                                                               "target_table"};

bool is_type_placeholder(std::string_view name) {
  return std::find(kTypePlaceholders.begin(), kTypePlaceholders.end(), name) !=
         kTypePlaceholders.end();
}

// The code of the status named exactly `name` ("WAITING" -> "0"), from the
// one definition in core/status.hpp.
std::optional<std::string> status_code(std::string_view name) {
  for (int code = 0; const auto status = status_from_code(code); ++code) {
    if (to_string(*status) == name) return std::to_string(code);
  }
  return std::nullopt;
}

// `text` with each {{name}} replaced by value(name), scanning once (a value
// is not scanned again). value() returns nullopt for a name it does not know.
template <typename Value>
std::string substitute(std::string_view text, std::string_view block, Value&& value) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  for (auto open = text.find(kOpen); open != std::string_view::npos;
       open = text.find(kOpen, pos)) {
    const auto close = text.find(kClose, open + kOpen.size());
    if (close == std::string_view::npos) {
      throw Error("internal error: an unterminated placeholder in SQL block '" +
                  std::string(block) + "'");
    }
    const auto name = text.substr(open + kOpen.size(), close - open - kOpen.size());
    auto replacement = value(name);
    if (!replacement) {
      throw Error("internal error: unknown placeholder {{" + std::string(name) +
                  "}} in SQL block '" + std::string(block) + "'");
    }
    out.append(text.substr(pos, open - pos)).append(*replacement);
    pos = close + kClose.size();
  }
  out.append(text.substr(pos));
  return out;
}

// Expands the block `name` of `raw` into `done` (blocks it names first).
void expand(const QueryBlocks& raw, std::string_view name, QueryBlocks& done,
            std::vector<std::string>& in_progress) {
  if (done.contains(name)) return;
  if (std::find(in_progress.begin(), in_progress.end(), name) != in_progress.end()) {
    throw Error("internal error: SQL block '" + std::string(name) + "' includes itself");
  }
  in_progress.emplace_back(name);
  auto text = substitute(raw.find(name)->second, name,
                         [&](std::string_view placeholder) -> std::optional<std::string> {
                           if (is_type_placeholder(placeholder)) {
                             return std::string(kOpen) + std::string(placeholder) +
                                    std::string(kClose);
                           }
                           if (auto code = status_code(placeholder)) return code;
                           if (!raw.contains(placeholder)) return std::nullopt;
                           expand(raw, placeholder, done, in_progress);
                           return done.find(placeholder)->second;
                         });
  in_progress.pop_back();
  done.emplace(std::string(name), std::move(text));
}

// A quoted identifier of a job type's tables.
std::string identifier(const std::string& name) {
  static const std::regex kPlain("[a-z_][a-z0-9_]*");
  if (!std::regex_match(name, kPlain)) {
    throw ConfigError("invalid SQL identifier in a job type: '" + name + "'");
  }
  return "\"" + name + "\"";
}

const QueryBlocks& blocks() {
  static const QueryBlocks loaded = load_query_blocks(embedded::queries());
  return loaded;
}

const std::string& find_block(std::string_view name) {
  const auto& all = blocks();
  auto it = all.find(name);
  if (it == all.end()) {
    throw Error("internal error: no SQL block named '" + std::string(name) + "'");
  }
  return it->second;
}

}  // namespace

QueryBlocks load_query_blocks(std::span<const embedded::File> files) {
  QueryBlocks raw;
  for (const auto& file : files) {
    std::string* current = nullptr;
    std::string_view rest = file.text;
    while (!rest.empty()) {
      auto eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
      if (line.starts_with(kNameMarker)) {
        const auto name = std::string(line.substr(kNameMarker.size()));
        if (is_type_placeholder(name) || status_code(name)) {
          throw Error("internal error: SQL block '" + name + "' in " + std::string(file.name) +
                      " has the name of a placeholder");
        }
        auto [it, inserted] = raw.try_emplace(name);
        if (!inserted) {
          throw Error("internal error: a second SQL block named '" + name + "' in " +
                      std::string(file.name));
        }
        current = &it->second;
      } else if (current != nullptr && !line.starts_with("--")) {
        current->append(line).push_back('\n');
      }
    }
  }
  QueryBlocks done;
  std::vector<std::string> in_progress;
  for (const auto& [name, text] : raw) expand(raw, name, done, in_progress);
  return done;
}

const std::string& query(std::string_view name) {
  const auto& text = find_block(name);
  if (text.find(kOpen) != std::string::npos) {
    throw Error("internal error: SQL block '" + std::string(name) +
                "' names a job type's tables: run it with type_query()");
  }
  return text;
}

std::string type_query(std::string_view name, const JobTypeSpec& spec) {
  const auto type_table = identifier(spec.table);
  const auto target_column = identifier(spec.target_column);
  const auto target_table = identifier(spec.target_table);
  return substitute(find_block(name), name,
                    [&](std::string_view placeholder) -> std::optional<std::string> {
                      if (placeholder == "type_table") return type_table;
                      if (placeholder == "target_column") return target_column;
                      if (placeholder == "target_table") return target_table;
                      return std::nullopt;
                    });
}

}  // namespace jobrunner::pg
