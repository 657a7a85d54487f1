#pragma once
// A connection to PostgreSQL and its transactions. This header hides libpqxx
// so that only src/pg/ depends on it; job types run SQL through Transaction.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/job.hpp"

namespace jobrunner::pg {

// A statement failed in the database. sqlstate() is PostgreSQL's error code
// (e.g. "23505" unique_violation), for callers that turn some into BadInput.
class SqlError : public Error {
 public:
  SqlError(const std::string& message, std::string sqlstate)
      : Error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const noexcept { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// A statement parameter in PostgreSQL's text format; nullopt is SQL NULL.
using Param = std::optional<std::string>;
using Params = std::vector<Param>;

inline Param to_param(std::nullopt_t) { return std::nullopt; }
inline Param to_param(std::string value) { return value; }
inline Param to_param(std::string_view value) { return std::string(value); }
inline Param to_param(const char* value) { return std::string(value); }
inline Param to_param(bool value) { return value ? "true" : "false"; }
template <std::integral T>
  requires(!std::same_as<T, bool>)
Param to_param(T value) {
  return std::to_string(value);
}
inline Param to_param(const nlohmann::json& value) { return value.dump(); }
template <typename T>
Param to_param(const std::optional<T>& value) {
  if (!value) return std::nullopt;
  return to_param(*value);
}
// A PostgreSQL array literal ("{1,2,NULL}") of the elements, each quoted, so
// that many rows travel as one parameter (unnest($1::bigint[])).
Param to_array_param(const std::vector<Param>& elements);
template <typename T>
Param to_array_param(const std::vector<T>& values) {
  std::vector<Param> elements;
  elements.reserve(values.size());
  for (const auto& value : values) elements.push_back(to_param(value));
  return to_array_param(elements);
}

// One result row; columns are looked up by name. The typed getters throw
// Error when the column is missing or (for non-optional ones) NULL.
class Row {
 public:
  Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Param> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}

  bool is_null(std::string_view column) const;
  std::optional<std::string> opt_text(std::string_view column) const;
  std::string text(std::string_view column) const;
  std::optional<std::int64_t> opt_int(std::string_view column) const;
  std::int64_t integer(std::string_view column) const;
  bool boolean(std::string_view column) const;
  // Timestamps are selected as microseconds since the epoch (see the
  // job_columns block in sql/queries/job.sql), which keeps time zones out.
  std::optional<TimePoint> opt_time_us(std::string_view column) const;
  nlohmann::json json(std::string_view column) const;
  const std::vector<std::string>& columns() const { return *columns_; }
  const std::vector<Param>& values() const { return values_; }

 private:
  const Param& at(std::string_view column) const;
  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<Param> values_;
};
using Rows = std::vector<Row>;

class Connection;

// A read-committed transaction. Destroying it without commit() rolls back.
class Transaction {
 public:
  ~Transaction();
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) = delete;

  template <typename... Args>
  Rows exec(std::string_view sql, Args&&... args) {
    return exec_params(sql, Params{to_param(std::forward<Args>(args))...});
  }
  Rows exec_params(std::string_view sql, const Params& params);
  // Runs a script of several statements without parameters (schema patches).
  void exec_script(std::string_view sql);
  // Quotes an identifier (table or role name) for the rare statements that
  // cannot take it as a parameter.
  std::string quote_name(std::string_view name) const;
  // SET LOCAL synchronous_commit = off: commit() then returns before the
  // commit is flushed to disk. For writes whose loss in a server crash is
  // harmless (a claim lost is a job still WAITING); a later synchronous
  // commit flushes them too, since the WAL is written in order.
  void commit_without_flush_wait();
  void commit();

  // Runs `body` in a savepoint (SAVEPOINT) of this transaction; the
  // statements it runs through this Transaction go into the savepoint.
  // Returns nullptr when body returned: its writes stay, to commit with the
  // transaction. If body throws, only its own writes are undone (ROLLBACK
  // TO SAVEPOINT, also after a statement of its failed, which would
  // otherwise abort the whole transaction) and its exception is returned,
  // not thrown: the transaction goes on. Throws (DatabaseUnavailable,
  // SqlError) when the savepoint itself cannot be made, released or rolled
  // back, e.g. on a lost connection: the transaction is lost then.
  [[nodiscard]] std::exception_ptr try_in_savepoint(const std::function<void()>& body);

  // True while the server still has this transaction open: false once a
  // COMMIT or ROLLBACK sent as SQL ended it behind this object's back (or
  // the connection is gone). No round trip.
  bool open_on_server() const;

 private:
  friend class Connection;
  struct Impl;
  explicit Transaction(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The statements of a transaction that its holder does not own: a job's
// work, a hook's notice. It runs statements and savepoints, and cannot
// commit or roll back: the owner (the runner) does, together with the job's
// status. A statement that ends the transaction itself (COMMIT or ROLLBACK
// sent as SQL) is refused after the fact: exec throws Error, so the job
// fails with an error report instead of completing without its status.
// Valid only during the call it was handed to.
class Statements {
 public:
  explicit Statements(Transaction& tx) noexcept : tx_(tx) {}
  Statements(const Statements&) = delete;
  Statements& operator=(const Statements&) = delete;

  template <typename... Args>
  Rows exec(std::string_view sql, Args&&... args) {
    return exec_params(sql, Params{to_param(std::forward<Args>(args))...});
  }
  Rows exec_params(std::string_view sql, const Params& params);
  std::string quote_name(std::string_view name) const { return tx_.quote_name(name); }
  // As Transaction::try_in_savepoint: `body` runs its statements through
  // this object; if it throws, only its writes are undone.
  [[nodiscard]] std::exception_ptr try_in_savepoint(const std::function<void()>& body);

 private:
  Transaction& tx_;
};

// One libpq connection; use one per thread.
class Connection {
 public:
  // conninfo is a libpq key=value string or a postgresql:// URI; empty means
  // libpq's defaults (PGHOST, PGDATABASE, ...). Throws DatabaseUnavailable,
  // whose message never contains the password.
  [[nodiscard]] static Connection open(const std::string& conninfo);
  ~Connection();
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;

  [[nodiscard]] Transaction begin();
  // Runs statements that cannot run in a transaction (CREATE DATABASE, ...).
  void exec_outside_transaction(std::string_view sql);
  // "user@host:port/dbname", for log lines.
  std::string describe() const;
  // The server's backend process id, for tests that terminate it.
  int backend_pid() const;
  // False when this idle connection, which does not LISTEN, is closed or
  // has input waiting. Such a connection has nothing to say unless the
  // server is closing it (pg_terminate_backend, idle_session_timeout, a
  // shutdown), so false means: open a new one before using it. One poll(2),
  // no round trip.
  bool idle_and_open() const;

  // LISTEN on a channel (NOTIFY). Notifications that arrive, also during
  // transactions, are counted until await_notifications() collects them.
  void listen(const std::string& channel);
  // Waits up to `timeout` for notifications on the channels listened to;
  // returns how many arrived since the last call (0 after the timeout),
  // without waiting if some already had. Throws DatabaseUnavailable.
  int await_notifications(std::chrono::milliseconds timeout);
  // The same, and returns early (0) as soon as `wake_fd` becomes readable
  // (an eventfd another thread signals); the caller drains wake_fd.
  int await_notifications(std::chrono::milliseconds timeout, int wake_fd);

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Connection::open holds a process-wide lock while it connects. A process
// that forks children which connect (isolated jobs) takes it around fork(),
// so that no child starts with libpq's or OpenSSL's set-up half done by
// another thread.
void lock_connecting();
void unlock_connecting();

// conninfo with any password replaced by "***", for messages.
std::string redact_conninfo(const std::string& conninfo);

}  // namespace jobrunner::pg
