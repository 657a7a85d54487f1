#include "allowlist.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "jobrunner/core/byte_size.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/outcome.hpp"
#include "jobrunner/runtime/config_file.hpp"

extern char** environ;

namespace jobrunner::command {
namespace {

using nlohmann::json;

// Where in the file a problem is: "command 'backup', field 'since'".
class Place {
 public:
  explicit Place(std::string path) : path_(std::move(path)) {}
  Place at(const std::string& what) const {
    Place p = *this;
    p.where_ += (where_.empty() ? "" : ", ") + what;
    return p;
  }
  [[noreturn]] void fail(const std::string& problem) const {
    throw ConfigError("commands file " + path_ + ": " + (where_.empty() ? "" : where_ + ": ") +
                      problem);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string where_;
};

std::string in_quotes(const std::string& text) { return "'" + text + "'"; }

bool is_name(const std::string& text, bool allow_dash_dot) {
  if (text.empty() || text.size() > 64) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool letter = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    const bool extra = allow_dash_dot && i > 0 && (c == '-' || c == '.');
    if (!letter && !extra) return false;
  }
  return true;
}

bool is_env_name(const std::string& text) {
  if (text.empty()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void only_keys(const json& object, const std::set<std::string>& known, const Place& place) {
  for (const auto& [key, value] : object.items()) {
    if (!known.contains(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      place.fail("unknown key " + in_quotes(key) + " (known: " + list + ")");
    }
  }
}

const json& object_at(const json& object, const std::string& key, const Place& place) {
  const auto& value = object.at(key);
  if (!value.is_object()) place.at(in_quotes(key)).fail("must be a JSON object");
  return value;
}

std::string string_at(const json& object, const std::string& key, const Place& place) {
  const auto& value = object.at(key);
  if (!value.is_string()) place.fail(in_quotes(key) + " must be a string");
  auto text = value.get<std::string>();
  if (text.find('\0') != std::string::npos) place.fail(in_quotes(key) + " holds a NUL character");
  return text;
}

CommandOutcome parse_outcome(const json& value, const Place& place) {
  static const std::map<std::string, CommandOutcome> kNames = {
      {"completed", CommandOutcome::completed}, {"retry", CommandOutcome::retry},
      {"user_error", CommandOutcome::user_error}, {"suspend", CommandOutcome::suspend},
      {"error", CommandOutcome::error}};
  if (value.is_string()) {
    if (const auto it = kNames.find(value.get<std::string>()); it != kNames.end()) return it->second;
  }
  place.fail("must be one of completed, retry, user_error, suspend, error; not " + value.dump());
}

Duration parse_duration_at(const json& object, const std::string& key, Duration minimum,
                           const Place& place) {
  const auto text = string_at(object, key, place);
  Duration d{};
  try {
    d = parse_duration(text);
  } catch (const BadInput& e) {
    place.fail(in_quotes(key) + ": " + e.what());
  }
  if (d < minimum) place.fail(in_quotes(key) + " must be at least " + format_duration(minimum));
  return d;
}

// Counts characters, not bytes (the JSON text is UTF-8).
std::size_t characters(const std::string& text) {
  std::size_t n = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Checks a value against its field; the problem, or nullopt when it fits.
std::optional<std::string> misfit(const Field& field, const json& value) {
  switch (field.type) {
    case Field::Type::string: {
      if (!value.is_string()) return "must be a string, not " + std::string(value.type_name());
      const auto& text = value.get_ref<const std::string&>();
      const auto length = characters(text);
      if (length > field.max_length) {
        return "is " + std::to_string(length) + " characters long, more than its max_length " +
               std::to_string(field.max_length);
      }
      if (text.find('\0') != std::string::npos) return "holds a NUL character";
      if (field.pattern && !std::regex_match(text, *field.pattern)) {
        return "does not match the pattern " + *field.pattern_text;
      }
      return std::nullopt;
    }
    case Field::Type::integer: {
      if (!value.is_number_integer()) {
        return "must be an integer, not " + std::string(value.type_name());
      }
      if (value.is_number_unsigned() &&
          value.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        return "is out of range";
      }
      const auto n = value.get<std::int64_t>();
      if (field.min && n < *field.min) return "must be at least " + std::to_string(*field.min);
      if (field.max && n > *field.max) return "must be at most " + std::to_string(*field.max);
      return std::nullopt;
    }
    case Field::Type::boolean:
      if (!value.is_boolean()) return "must be true or false, not " + std::string(value.type_name());
      return std::nullopt;
  }
  return std::nullopt;
}

std::string rendered(const Field& field, const json& value) {
  switch (field.type) {
    case Field::Type::string:
      return value.get<std::string>();
    case Field::Type::integer:
      return std::to_string(value.get<std::int64_t>());
    case Field::Type::boolean:
      return value.get<bool>() ? "true" : "false";
  }
  return {};
}

Field parse_field(const json& spec, const Place& place) {
  if (!spec.is_object()) place.fail("must be a JSON object");
  only_keys(spec, {"type", "max_length", "pattern", "min", "max", "default", "description"},
            place);
  if (!spec.contains("type")) place.fail("'type' is required (string, integer or boolean)");
  Field field;
  const auto type = string_at(spec, "type", place);
  if (type == "string") {
    field.type = Field::Type::string;
  } else if (type == "integer") {
    field.type = Field::Type::integer;
  } else if (type == "boolean") {
    field.type = Field::Type::boolean;
  } else {
    place.fail("'type' must be string, integer or boolean, not " + in_quotes(type));
  }
  const bool is_string = field.type == Field::Type::string;
  const bool is_integer = field.type == Field::Type::integer;
  if (spec.contains("max_length")) {
    if (!is_string) place.fail("'max_length' is for strings only");
    const auto& n = spec.at("max_length");
    if (!n.is_number_integer() || n.get<std::int64_t>() < 1 || n.get<std::int64_t>() > 65536) {
      place.fail("'max_length' must be an integer from 1 to 65536");
    }
    field.max_length = n.get<std::size_t>();
  }
  if (spec.contains("pattern")) {
    if (!is_string) place.fail("'pattern' is for strings only");
    field.pattern_text = string_at(spec, "pattern", place);
    try {
      field.pattern.emplace(*field.pattern_text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      place.fail("'pattern' " + in_quotes(*field.pattern_text) +
                 " is not a valid regular expression (ECMAScript): " + e.what());
    }
  }
  for (const char* bound : {"min", "max"}) {
    if (!spec.contains(bound)) continue;
    if (!is_integer) place.fail(in_quotes(bound) + " is for integers only");
    const auto& n = spec.at(bound);
    if (!n.is_number_integer() ||
        (n.is_number_unsigned() && n.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
      place.fail(in_quotes(bound) + " must be an integer");
    }
    (std::string(bound) == "min" ? field.min : field.max) = n.get<std::int64_t>();
  }
  if (field.min && field.max && *field.min > *field.max) place.fail("'min' is above 'max'");
  if (spec.contains("description") && !spec.at("description").is_string()) {
    place.fail("'description' must be a string");
  }
  if (spec.contains("default")) {
    const auto& value = spec.at("default");
    if (const auto problem = misfit(field, value)) place.fail("'default' " + *problem);
    field.default_value = value;
  }
  return field;
}

// "--since={since}" as pieces; {{ and }} are literal braces.
std::vector<ArgPiece> parse_arg(const std::string& arg, const Place& place) {
  std::vector<ArgPiece> pieces;
  std::string literal;
  for (std::size_t i = 0; i < arg.size(); ++i) {
    const char c = arg[i];
    if (c == '{' && i + 1 < arg.size() && arg[i + 1] == '{') {
      literal += '{';
      ++i;
    } else if (c == '}' && i + 1 < arg.size() && arg[i + 1] == '}') {
      literal += '}';
      ++i;
    } else if (c == '{') {
      const auto close = arg.find('}', i);
      const auto name = close == std::string::npos ? "" : arg.substr(i + 1, close - i - 1);
      if (!is_name(name, false)) {
        place.fail("argument " + in_quotes(arg) + ": '{' must start a placeholder such as {name} "
                   "(a field's name: a-z, 0-9, _), or be doubled ({{) for a literal brace");
      }
      if (!literal.empty()) pieces.push_back({false, std::exchange(literal, {})});
      pieces.push_back({true, name});
      i = close;
    } else if (c == '}') {
      place.fail("argument " + in_quotes(arg) + ": a literal '}' must be doubled (}})");
    } else {
      literal += c;
    }
  }
  if (!literal.empty() || pieces.empty()) pieces.push_back({false, literal});
  return pieces;
}

void check_path(const std::string& path, bool directory, const Place& place,
                std::vector<std::string>* warnings, const std::string& what) {
  if (path.empty() || path.front() != '/') place.fail(what + " must be an absolute path, not " + in_quotes(path));
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) place.fail(what + " " + path + ": " + strerror(errno));
  if (directory && !S_ISDIR(st.st_mode)) place.fail(what + " " + path + " is not a directory");
  if (!directory) {
    if (!S_ISREG(st.st_mode)) place.fail(what + " " + path + " is not a regular file");
    if ((st.st_mode & 0111) == 0) place.fail(what + " " + path + " is not executable");
    if ((st.st_mode & S_IWOTH) != 0 && warnings != nullptr) {
      warnings->push_back(place.path() + ": " + what + " " + path +
                          " may be written by any user: whoever changes it runs code as the command's user");
    }
  }
}

ProcessCredentials credentials_of(const std::string& user, const Place& place) {
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int error = getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    place.fail("user " + in_quotes(user) + " " +
               (error != 0 ? std::string("cannot be looked up: ") + strerror(error)
                           : std::string("does not exist")));
  }
  ProcessCredentials c;
  c.uid = pw.pw_uid;
  c.gid = pw.pw_gid;
  int count = 64;
  for (;;) {
    c.groups.resize(static_cast<std::size_t>(count));
    int n = count;
    if (getgrouplist(user.c_str(), pw.pw_gid, c.groups.data(), &n) >= 0) {
      c.groups.resize(static_cast<std::size_t>(n));
      break;
    }
    if (n <= count) place.fail("cannot list the groups of user " + in_quotes(user));
    count = n;
  }
  return c;
}

Command parse_command(const std::string& name, const json& spec, const Allowlist::Host& host,
                      const Place& place, std::vector<std::string>* warnings) {
  if (!spec.is_object()) place.fail("must be a JSON object");
  only_keys(spec,
            {"executable", "args", "fields", "env", "inherit_env", "working_directory", "user",
             "timeout", "kill_grace", "memory_limit", "exit_codes", "description"},
            place);
  Command c;
  c.name = name;
  if (!spec.contains("executable")) place.fail("'executable' is required (an absolute path)");
  c.executable = string_at(spec, "executable", place);
  check_path(c.executable, false, place, warnings, "executable");

  if (spec.contains("fields")) {
    for (const auto& [field, field_spec] : object_at(spec, "fields", place).items()) {
      if (!is_name(field, false)) {
        place.fail("field name " + in_quotes(field) + " must be 1 to 64 of a-z, 0-9 and _, "
                   "starting with a letter or _");
      }
      c.fields.emplace(field, parse_field(field_spec, place.at("field " + in_quotes(field))));
    }
  }
  std::set<std::string> used;
  if (spec.contains("args")) {
    const auto& args = spec.at("args");
    if (!args.is_array()) place.fail("'args' must be an array of strings");
    for (const auto& arg : args) {
      if (!arg.is_string()) place.fail("'args' must be an array of strings, not " + arg.dump());
      const auto text = arg.get<std::string>();
      if (text.find('\0') != std::string::npos) place.fail("an argument holds a NUL character");
      auto pieces = parse_arg(text, place);
      for (const auto& piece : pieces) {
        if (!piece.is_field) continue;
        if (!c.fields.contains(piece.text)) {
          place.fail("argument " + in_quotes(text) + " uses {" + piece.text +
                     "}, but 'fields' does not declare " + in_quotes(piece.text));
        }
        used.insert(piece.text);
      }
      c.args.push_back(std::move(pieces));
    }
  }
  for (const auto& [field, unused] : c.fields) {
    if (!used.contains(field)) {
      place.fail("field " + in_quotes(field) + " is declared but no argument uses it ({" + field + "})");
    }
  }

  std::set<std::string> env_names;
  const auto add_env = [&](const std::string& var, const std::string& value) {
    if (!is_env_name(var)) place.fail("environment variable name " + in_quotes(var) + " is not valid");
    if (var.rfind("JOBRUNNER_", 0) == 0) {
      place.fail("environment variable " + in_quotes(var) +
                 ": names starting with JOBRUNNER_ are the runner's (JOBRUNNER_JOB_ID, "
                 "JOBRUNNER_ATTEMPT)");
    }
    if (!env_names.insert(var).second) place.fail("environment variable " + in_quotes(var) + " is given twice");
    if (value.find('\0') != std::string::npos) place.fail("environment variable " + in_quotes(var) + " holds a NUL");
    c.environment.push_back(var + "=" + value);
  };
  if (spec.contains("env")) {
    for (const auto& [var, value] : object_at(spec, "env", place).items()) {
      if (!value.is_string()) place.fail("'env' value of " + in_quotes(var) + " must be a string");
      add_env(var, value.get<std::string>());
    }
  }
  if (spec.contains("inherit_env")) {
    const auto& names = spec.at("inherit_env");
    if (!names.is_array()) place.fail("'inherit_env' must be an array of variable names");
    for (const auto& var : names) {
      if (!var.is_string()) place.fail("'inherit_env' must be an array of variable names");
      const auto text = var.get<std::string>();
      if (const auto it = host.environment.find(text); it != host.environment.end()) {
        add_env(text, it->second);
      } else {
        add_env(text, "");  // checked like the others, then left out: not set here
        c.environment.pop_back();
      }
    }
  }

  if (spec.contains("working_directory")) {
    c.working_directory = string_at(spec, "working_directory", place);
  }
  check_path(c.working_directory, true, place, warnings, "working_directory");

  if (spec.contains("user")) {
    c.user = string_at(spec, "user", place);
    if (host.euid != 0) {
      place.fail("names user " + in_quotes(*c.user) +
                 ", but a command can run as another user only when the runner runs as root "
                 "(it runs as uid " + std::to_string(host.euid) +
                 "): run the runner as root, or remove 'user' to run the command as the "
                 "runner's user");
    }
    c.credentials = credentials_of(*c.user, place);
  } else if (host.euid == 0 && warnings != nullptr) {
    warnings->push_back(place.path() + ": command " + in_quotes(name) +
                        " names no user, so it runs as root (give it a 'user')");
  }

  if (spec.contains("timeout")) c.timeout = parse_duration_at(spec, "timeout", std::chrono::seconds(1), place);
  if (spec.contains("kill_grace")) c.kill_grace = parse_duration_at(spec, "kill_grace", Duration::zero(), place);
  if (spec.contains("memory_limit")) {
    const auto text = string_at(spec, "memory_limit", place);
    try {
      c.memory_limit = parse_byte_size(text);
    } catch (const BadInput& e) {
      place.fail("'memory_limit': " + std::string(e.what()));
    }
    if (*c.memory_limit < (1U << 20)) place.fail("'memory_limit' must be at least 1M");
  }

  c.exit_codes = {{0, CommandOutcome::completed},
                  {75, CommandOutcome::retry},
                  {64, CommandOutcome::user_error},
                  {65, CommandOutcome::user_error}};
  if (spec.contains("exit_codes")) {
    for (const auto& [key, value] : object_at(spec, "exit_codes", place).items()) {
      const auto at = place.at("exit_codes " + in_quotes(key));
      const auto outcome = parse_outcome(value, at);
      if (key == "other") {
        c.other_exit = outcome;
      } else if (key == "signal") {
        c.on_signal = outcome;
      } else if (key == "timeout") {
        c.on_timeout = outcome;
      } else {
        int code = -1;
        if (!key.empty() && key.size() <= 3 &&
            key.find_first_not_of("0123456789") == std::string::npos) {
          code = std::stoi(key);
        }
        if (code < 0 || code > 255) {
          at.fail("a key must be an exit status from 0 to 255, 'other', 'signal' or 'timeout'");
        }
        c.exit_codes[code] = outcome;
      }
    }
  }
  return c;
}

}  // namespace

CommandOutcome Command::outcome_of_exit(int status) const {
  const auto it = exit_codes.find(status);
  return it != exit_codes.end() ? it->second : other_exit;
}

const char* to_string(CommandOutcome outcome) {
  switch (outcome) {
    case CommandOutcome::completed:
      return "completed";
    case CommandOutcome::retry:
      return "retry";
    case CommandOutcome::user_error:
      return "user_error";
    case CommandOutcome::suspend:
      return "suspend";
    case CommandOutcome::error:
      return "error";
  }
  return "error";
}

Allowlist::Host Allowlist::Host::current() {
  Host host;
  host.euid = geteuid();
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string::npos) host.environment.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return host;
}

Allowlist Allowlist::load(const std::string& path, const Host& host,
                          std::vector<std::string>* warnings) {
  std::string text;
  try {
    text = read_config_file(path, "commands file");
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(e.what()) + " (give the allowlist with --commands FILE)");
  }
  if (warnings != nullptr) {
    for (auto& warning : loose_mode_warnings(path, false)) warnings->push_back(std::move(warning));
  }
  return parse(text, path, host, warnings);
}

Allowlist Allowlist::parse(const std::string& text, const std::string& path, const Host& host,
                           std::vector<std::string>* warnings) {
  const Place place(path);
  const json root = parse_config_json(text, "commands file " + path);
  if (!root.is_object()) place.fail("must hold a JSON object {\"commands\": {...}}");
  only_keys(root, {"commands"}, place);
  if (!root.contains("commands")) place.fail("has no 'commands' object");
  Allowlist list;
  list.path_ = path;
  for (const auto& [name, spec] : object_at(root, "commands", place).items()) {
    if (!is_name(name, true)) {
      place.fail("command name " + in_quotes(name) + " must be 1 to 64 of a-z, 0-9, _, - and ., "
                 "starting with a letter or _");
    }
    list.commands_.emplace(name, parse_command(name, spec, host, place.at("command " + in_quotes(name)),
                                               warnings));
  }
  if (list.commands_.empty() && warnings != nullptr) {
    warnings->push_back(path + " allows no command: every command job this runner claims fails "
                               "as a user error (unknown command)");
  }
  return list;
}

Invocation Allowlist::invocation(const nlohmann::json& metadata) const {
  if (!metadata.is_object()) {
    throw UserError("a command job's metadata must be an object {\"command\": NAME, \"args\": {...}}");
  }
  for (const auto& [key, value] : metadata.items()) {
    if (key != "command" && key != "args") {
      throw UserError("unknown key '" + key + "' in the job's metadata (only \"command\" and "
                      "\"args\")");
    }
  }
  if (!metadata.contains("command") || !metadata.at("command").is_string()) {
    throw UserError("the job's metadata names no command: give {\"command\": NAME}");
  }
  const auto name = metadata.at("command").get<std::string>();
  const auto it = commands_.find(name);
  if (it == commands_.end()) {
    std::string known;
    for (const auto& [n, c] : commands_) known += (known.empty() ? "" : ", ") + n;
    throw UserError("unknown command " + json(name).dump() + ": the allowlist " + path_ +
                    " has " + (known.empty() ? "none" : known));
  }
  const auto& command = it->second;
  const json empty = json::object();
  const auto& args = metadata.contains("args") ? metadata.at("args") : empty;
  if (!args.is_object()) throw UserError("command '" + name + "': \"args\" must be an object");
  for (const auto& [field, value] : args.items()) {
    if (!command.fields.contains(field)) {
      std::string known;
      for (const auto& [f, spec] : command.fields) known += (known.empty() ? "" : ", ") + f;
      throw UserError("command '" + name + "' has no field " + json(field).dump() + " (its fields: " +
                      (known.empty() ? "none" : known) + ")");
    }
  }
  std::map<std::string, std::string> values;
  for (const auto& [field, spec] : command.fields) {
    const json* value = nullptr;
    if (args.contains(field)) {
      value = &args.at(field);
    } else if (spec.default_value) {
      value = &*spec.default_value;
    } else {
      throw UserError("command '" + name + "': field '" + field + "' is required");
    }
    if (const auto problem = misfit(spec, *value)) {
      throw UserError("command '" + name + "': field '" + field + "' " + *problem);
    }
    values.emplace(field, rendered(spec, *value));
  }
  Invocation inv;
  inv.command = &command;
  inv.argv.push_back(command.executable);
  for (const auto& pieces : command.args) {
    std::string arg;
    for (const auto& piece : pieces) arg += piece.is_field ? values.at(piece.text) : piece.text;
    inv.argv.push_back(std::move(arg));
  }
  return inv;
}

}  // namespace jobrunner::command
