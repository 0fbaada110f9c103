// SQLite, held the way the registry needs it: one connection per open
// registry (RAII), write-ahead logging so readers never wait for a writer,
// a busy timeout so two writers queue instead of failing, foreign keys on,
// and every write in a `BEGIN IMMEDIATE` transaction (it takes the write lock
// at its start, so two processes never both read, then both try to write and
// one of them fail with SQLITE_BUSY halfway). Users of this header link
// SQLite (sqlite3). Every SQLite failure is errc::registry_failed with
// SQLite's own message and the database's path.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "safeweights/error.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace registry_detail {

// How long a writer waits for another's transaction before giving up (the default).
inline constexpr std::chrono::milliseconds default_busy_timeout{10'000};

// One prepared statement; bind by 1-based index, read columns by 0-based index.
class statement {
 public:
  statement(sqlite3* db, sqlite3_stmt* s, const std::string* label) noexcept : db_(db), stmt_(s), label_(label) {}
  statement(statement&& o) noexcept
      : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)), label_(o.label_) {}
  statement& operator=(statement&&) = delete;
  statement(const statement&) = delete;
  ~statement() { sqlite3_finalize(stmt_); }

  statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  statement& bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  statement& bind(int index, const std::optional<std::string>& text) {
    if (text) return bind(index, std::string_view(*text));
    sqlite3_bind_null(stmt_, index);
    return *this;
  }
  statement& bind(int index, std::optional<std::int64_t> value) {
    if (value) return bind(index, *value);
    sqlite3_bind_null(stmt_, index);
    return *this;
  }

  // Ready to run again with new bindings.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  // true: a row is ready to read; false: done.
  result<bool> step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return make_error(errc::registry_failed, *label_ + ": " + sqlite3_errmsg(db_));
  }
  // Runs a statement that returns no rows.
  result<void> run() {
    auto r = step();
    if (!r) return std::move(r).error_value();
    return {};
  }

  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
  }
  std::optional<std::string> optional_text(int column) const {
    if (is_null(column)) return std::nullopt;
    return text(column);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  const std::string* label_;  // the database's path, owned by the database (which outlives its statements)
};

class database {
 public:
  enum class mode { open_existing, create };

  static result<database> open(const std::string& path, mode m, std::chrono::milliseconds busy_timeout = default_busy_timeout) {
    database d;
    d.path_ = std::make_unique<std::string>(path);
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (m == mode::create ? SQLITE_OPEN_CREATE : 0);
    const int rc = sqlite3_open_v2(path.c_str(), &d.db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      std::string why = d.db_ ? sqlite3_errmsg(d.db_) : sqlite3_errstr(rc);
      return make_error(errc::registry_failed, path + ": cannot open the registry database: " + why);
    }
    sqlite3_extended_result_codes(d.db_, 1);
    sqlite3_busy_timeout(d.db_, static_cast<int>(std::min<std::int64_t>(busy_timeout.count(), INT32_MAX)));
    // WAL: readers see the last commit while a writer works; synchronous=FULL:
    // a committed add survives a power cut (NORMAL could lose the last one).
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"})
      if (auto r = d.exec(pragma); !r) return std::move(r).error_value();
    return d;
  }

  database(database&& o) noexcept : path_(std::move(o.path_)), db_(std::exchange(o.db_, nullptr)) {}
  database& operator=(database&& o) noexcept {
    if (this != &o) {
      close();
      path_ = std::move(o.path_);
      db_ = std::exchange(o.db_, nullptr);
    }
    return *this;
  }
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  ~database() { close(); }

  const std::string& path() const noexcept { return *path_; }

  // Runs SQL that returns nothing (several statements may be given).
  result<void> exec(std::string_view sql) {
    char* message = nullptr;
    const std::string text(sql);
    if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string why = message ? message : sqlite3_errmsg(db_);
      sqlite3_free(message);
      return make_error(errc::registry_failed, *path_ + ": " + why);
    }
    return {};
  }

  result<statement> prepare(std::string_view sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK)
      return make_error(errc::registry_failed, *path_ + ": " + sqlite3_errmsg(db_));
    return statement(db_, s, path_.get());
  }

  // An integer from a query of one row and one column (PRAGMA user_version, COUNT(*)).
  result<std::int64_t> integer(std::string_view sql) {
    auto s = prepare(sql);
    if (!s) return std::move(s).error_value();
    auto row = s->step();
    if (!row) return std::move(row).error_value();
    return *row ? s->integer(0) : 0;
  }

  std::int64_t last_insert_id() const noexcept { return sqlite3_last_insert_rowid(db_); }

  // Runs `body` (returning result<T>) in a BEGIN IMMEDIATE transaction:
  // committed when it succeeds, rolled back when it fails, so the database
  // holds all of it or none of it.
  template <class Body>
  auto transaction(Body&& body) -> decltype(body()) {
    if (auto b = exec("BEGIN IMMEDIATE"); !b) return std::move(b).error_value();
    auto outcome = body();
    if (!outcome) {
      (void)exec("ROLLBACK");
      return outcome;
    }
    if (auto c = exec("COMMIT"); !c) {
      (void)exec("ROLLBACK");
      return std::move(c).error_value();
    }
    return outcome;
  }

 private:
  database() = default;
  void close() noexcept {
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
  }
  std::unique_ptr<std::string> path_;  // stable address: statements name it in their errors
  sqlite3* db_ = nullptr;
};

}  // namespace registry_detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
