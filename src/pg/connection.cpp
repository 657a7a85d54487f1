#include "jobrunner/pg/connection.hpp"

#include <poll.h>

#include <charconv>
#include <mutex>

#include <libpq-fe.h>
#include <pqxx/pqxx>

#include "conninfo.hpp"
#include "pg_error.hpp"

namespace jobrunner::pg {

// ---- Row -------------------------------------------------------------------

const Param& Row::at(std::string_view column) const {
  for (std::size_t i = 0; i < columns_->size(); ++i) {
    if ((*columns_)[i] == column) return values_[i];
  }
  throw Error("internal error: result has no column '" + std::string(column) + "'");
}

bool Row::is_null(std::string_view column) const { return !at(column).has_value(); }

std::optional<std::string> Row::opt_text(std::string_view column) const { return at(column); }

std::string Row::text(std::string_view column) const {
  const auto& value = at(column);
  if (!value) throw Error("internal error: column '" + std::string(column) + "' is NULL");
  return *value;
}

std::optional<std::int64_t> Row::opt_int(std::string_view column) const {
  const auto& value = at(column);
  if (!value) return std::nullopt;
  std::int64_t result = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), result);
  if (ec != std::errc() || end != value->data() + value->size()) {
    throw Error("internal error: column '" + std::string(column) + "' is not an integer");
  }
  return result;
}

std::int64_t Row::integer(std::string_view column) const {
  auto value = opt_int(column);
  if (!value) throw Error("internal error: column '" + std::string(column) + "' is NULL");
  return *value;
}

bool Row::boolean(std::string_view column) const { return text(column) == "t"; }

std::optional<TimePoint> Row::opt_time_us(std::string_view column) const {
  auto micros = opt_int(column);
  if (!micros) return std::nullopt;
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(*micros)));
}

nlohmann::json Row::json(std::string_view column) const {
  const auto& value = at(column);
  if (!value) return nullptr;
  return nlohmann::json::parse(*value);
}

Param to_array_param(const std::vector<Param>& elements) {
  std::string out = "{";
  for (const auto& element : elements) {
    if (out.size() > 1) out += ',';
    if (!element) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (const char c : *element) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// ---- Transaction -----------------------------------------------------------

namespace {

// Keeps the last FATAL message the server sent outside a statement: libpq
// hands it to the notice processor when the server closes an idle
// connection (pg_terminate_backend, a shutdown), and libpqxx's own message
// for the broken connection then does not say why.
class ServerFarewell : public pqxx::errorhandler {
 public:
  explicit ServerFarewell(pqxx::connection_base& conn) : pqxx::errorhandler(conn) {}
  bool operator()(const char message[]) noexcept override {
    try {
      std::string_view text(message);
      if (text.starts_with("FATAL:")) {
        text.remove_prefix(6);
        text.remove_prefix(std::min(text.find_first_not_of(' '), text.size()));
        last_ = "FATAL: " + std::string(text.substr(0, text.find('\n')));
      }
    } catch (...) {
      // Out of memory: the farewell is only for the log.
    }
    return true;  // the other handlers see it too
  }
  const std::string& last() const { return last_; }

 private:
  std::string last_;
};

}  // namespace

struct Transaction::Impl {
  Impl(pqxx::connection& c, const ServerFarewell& f) : work(c), farewell(f) {}
  pqxx::work work;
  const ServerFarewell& farewell;
  [[noreturn]] void rethrow(std::string_view context) {
    rethrow_translated(context, farewell.last());
  }
};

Transaction::Transaction(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Transaction::Transaction(Transaction&&) noexcept = default;
Transaction::~Transaction() = default;  // pqxx::work aborts if not committed

Rows Transaction::exec_params(std::string_view sql, const Params& params) {
  pqxx::result result;
  try {
    result = impl_->work.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(params));
  } catch (...) {
    impl_->rethrow("");
  }
  auto columns = std::make_shared<std::vector<std::string>>();
  for (pqxx::row::size_type c = 0; c < result.columns(); ++c) {
    columns->emplace_back(result.column_name(c));
  }
  Rows rows;
  rows.reserve(result.size());
  for (const auto& r : result) {
    std::vector<Param> values;
    values.reserve(r.size());
    for (const auto& field : r) {
      if (field.is_null()) {
        values.emplace_back(std::nullopt);
      } else {
        values.emplace_back(std::string(field.c_str(), field.size()));
      }
    }
    rows.emplace_back(columns, std::move(values));
  }
  return rows;
}

void Transaction::exec_script(std::string_view sql) {
  try {
    impl_->work.exec(std::string(sql));
  } catch (...) {
    impl_->rethrow("");
  }
}

std::string Transaction::quote_name(std::string_view name) const {
  return impl_->work.quote_name(std::string(name));
}

void Transaction::commit_without_flush_wait() {
  exec("SET LOCAL synchronous_commit = off");
  commit();
}

// Plain SAVEPOINT statements, not pqxx::subtransaction: in libpqxx 6.4 a
// subtransaction issues its SAVEPOINT lazily, on its first exec(), so the
// statements that go through exec_params (all of ours) would run outside it
// and its rollback would undo nothing. One name serves every depth:
// ROLLBACK TO and RELEASE take the innermost savepoint of that name.
std::exception_ptr Transaction::try_in_savepoint(const std::function<void()>& body) {
  try {
    impl_->work.exec("SAVEPOINT jobrunner_savepoint");
  } catch (...) {
    impl_->rethrow("cannot make a savepoint");
  }
  std::exception_ptr error;
  try {
    body();
  } catch (...) {
    error = std::current_exception();
  }
  try {
    if (error) {
      impl_->work.exec(
          "ROLLBACK TO SAVEPOINT jobrunner_savepoint; RELEASE SAVEPOINT jobrunner_savepoint");
    } else {
      impl_->work.exec("RELEASE SAVEPOINT jobrunner_savepoint");
    }
  } catch (...) {
    impl_->rethrow(error ? "cannot roll back to a savepoint" : "cannot release a savepoint");
  }
  return error;
}

namespace {
// libpqxx 6.4 hands out libpq's PGconn (for PQtransactionStatus) only to
// pqxx::largeobject, as a protected static.
struct RawConnection : pqxx::largeobject {
  using pqxx::largeobject::raw_connection;
};
}  // namespace

bool Transaction::open_on_server() const {
  auto* raw = RawConnection::raw_connection(impl_->work);
  const auto status = raw == nullptr ? PQTRANS_UNKNOWN : PQtransactionStatus(raw);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
}

Rows Statements::exec_params(std::string_view sql, const Params& params) {
  auto rows = tx_.exec_params(sql, params);
  if (!tx_.open_on_server()) {
    throw Error("a job's SQL must not end its transaction (COMMIT, ROLLBACK or the like): the "
                "runner commits the job's work with its status. What the job wrote before that "
                "statement was committed without it");
  }
  return rows;
}

std::exception_ptr Statements::try_in_savepoint(const std::function<void()>& body) {
  return tx_.try_in_savepoint(body);
}

void Transaction::commit() {
  try {
    impl_->work.commit();
  } catch (...) {
    impl_->rethrow("commit failed");
  }
}

// ---- Connection ------------------------------------------------------------

namespace {

// Counts the notifications of one channel into `pending`.
class CountingReceiver : public pqxx::notification_receiver {
 public:
  CountingReceiver(pqxx::connection_base& conn, const std::string& channel, int& pending)
      : pqxx::notification_receiver(conn, channel), pending_(pending) {}
  void operator()(const std::string&, int) override { ++pending_; }

 private:
  int& pending_;
};

}  // namespace

struct Connection::Impl {
  explicit Impl(const std::string& conninfo) : conn(conninfo), farewell(conn) {
    // A connection that broke stays broken: libpqxx 6.4 would otherwise
    // open a new session at the next begin(), silently, without the old
    // one's LISTEN or settings. Every owner of a Connection opens a new one
    // itself when this one fails (DatabaseUnavailable), and says so in the
    // log.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    conn.inhibit_reactivation(true);
#pragma GCC diagnostic pop
  }
  pqxx::connection conn;
  ServerFarewell farewell;  // after conn: it unregisters from it when destroyed
  [[noreturn]] void rethrow(std::string_view context) {
    rethrow_translated(context, farewell.last());
  }
  // Declared after conn: a receiver unregisters from it when destroyed.
  std::vector<std::unique_ptr<CountingReceiver>> receivers;
  int pending_notifications = 0;
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

namespace {
std::mutex& connecting() {
  static std::mutex mutex;
  return mutex;
}
}  // namespace

void lock_connecting() { connecting().lock(); }
void unlock_connecting() { connecting().unlock(); }

Connection Connection::open(const std::string& conninfo) {
  const auto checked = conninfo_with_defaults(conninfo);  // ConfigError: never retry it
  try {
    std::unique_ptr<Impl> impl;
    {
      std::lock_guard lock(connecting());
      impl = std::make_unique<Impl>(checked);
    }
    return Connection(std::move(impl));
  } catch (const std::exception& e) {
    // libpq does not echo passwords, but a conninfo can be quoted back in
    // its message: redact whatever the password is, to be sure. (The string
    // parses: conninfo_with_defaults checked it.)
    std::string message = e.what();
    if (auto nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
    if (PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), nullptr)) {
      for (auto* o = options; o->keyword != nullptr; ++o) {
        if (std::string_view(o->keyword) == "password" && o->val != nullptr && *o->val != '\0') {
          for (auto pos = message.find(o->val); pos != std::string::npos; pos = message.find(o->val)) {
            message.replace(pos, std::string_view(o->val).size(), "***");
          }
        }
      }
      PQconninfoFree(options);
    }
    throw DatabaseUnavailable("cannot connect to the database (" + redact_conninfo(conninfo) +
                              "): " + message);
  }
}

Transaction Connection::begin() {
  try {
    return Transaction(std::make_unique<Transaction::Impl>(impl_->conn, impl_->farewell));
  } catch (...) {
    impl_->rethrow("cannot begin a transaction");
  }
}

void Connection::exec_outside_transaction(std::string_view sql) {
  try {
    pqxx::nontransaction work(impl_->conn);
    work.exec(std::string(sql));
  } catch (...) {
    impl_->rethrow("");
  }
}

std::string Connection::describe() const {
  const char* host = impl_->conn.hostname();
  const char* port = impl_->conn.port();
  const char* user = impl_->conn.username();
  return std::string(user ? user : "?") + "@" + (host && *host ? host : "local") + ":" +
         (port ? port : "?") + "/" + impl_->conn.dbname();
}

int Connection::backend_pid() const { return impl_->conn.backendpid(); }

bool Connection::idle_and_open() const {
  if (!impl_->conn.is_open()) return false;
  pollfd socket{impl_->conn.sock(), POLLIN, 0};
  return socket.fd >= 0 && poll(&socket, 1, 0) == 0;
}

void Connection::listen(const std::string& channel) {
  try {
    impl_->receivers.push_back(
        std::make_unique<CountingReceiver>(impl_->conn, channel, impl_->pending_notifications));
  } catch (...) {
    impl_->rethrow("cannot LISTEN on " + channel);
  }
}

int Connection::await_notifications(std::chrono::milliseconds timeout) {
  try {
    impl_->conn.get_notifs();
    if (impl_->pending_notifications == 0 && timeout.count() > 0) {
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
      impl_->conn.await_notification(static_cast<long>(micros / 1000000),
                                     static_cast<long>(micros % 1000000));
    }
  } catch (...) {
    impl_->rethrow("waiting for notifications");
  }
  return std::exchange(impl_->pending_notifications, 0);
}

int Connection::await_notifications(std::chrono::milliseconds timeout, int wake_fd) {
  try {
    impl_->conn.get_notifs();
    if (impl_->pending_notifications == 0 && timeout.count() > 0) {
      pollfd fds[2] = {{impl_->conn.sock(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
      if (poll(fds, 2, static_cast<int>(timeout.count())) > 0 && (fds[0].revents != 0)) {
        impl_->conn.get_notifs();
      }
    }
  } catch (...) {
    impl_->rethrow("waiting for notifications");
  }
  return std::exchange(impl_->pending_notifications, 0);
}

std::string redact_conninfo(const std::string& conninfo) {
  if (conninfo.empty()) return "libpq defaults";
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), nullptr);
  if (options == nullptr) return "a malformed connection string";
  std::string out;
  for (auto* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    if (!out.empty()) out += ' ';
    out += o->keyword;
    out += '=';
    out += std::string_view(o->keyword) == "password" ? "***" : o->val;
  }
  PQconninfoFree(options);
  return out;
}

}  // namespace jobrunner::pg
