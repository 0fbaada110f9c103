// The registry's tables (spec/REGISTRY.md describes them and their rules).
// The schema's version is PRAGMA user_version: a database of another
// version, or one without our tables, is not opened (errc::registry_failed).
#pragma once

#include <string>
#include <string_view>

#include "safeweights/registry/database.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace registry_detail {

inline constexpr int schema_version = 1;

// models: one row per name; last_number is the highest version number given
// out, so an automatic version number is never given out twice (not even
// after gc removed the version that had it).
// versions: seq orders a model's versions by when they were added (latest =
// highest seq); version is the label (`3`, or what --version gave).
// files: what a version holds, by path relative to the model directory (a
// single-file version: its one file's name); the bytes are the object
// objects/sha256/<2 hex>/<62 hex> of its sha256.
// aliases: NAME@ALIAS -> a version, with the target it had before (rollback).
// audit_log: every change, append-only (the triggers refuse UPDATE and DELETE);
// model is NULL for what concerns the whole registry (init, gc's sweep).
inline constexpr std::string_view schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS models (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  last_number INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES models(id),
  seq INTEGER NOT NULL,
  version TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('file', 'directory')),
  source TEXT NOT NULL,
  size INTEGER NOT NULL,
  added_by TEXT NOT NULL,
  added_at TEXT NOT NULL,
  note TEXT,
  UNIQUE (model_id, version),
  UNIQUE (model_id, seq)
);
CREATE TABLE IF NOT EXISTS files (
  version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
  size INTEGER NOT NULL,
  metadata TEXT,
  PRIMARY KEY (version_id, path)
);
CREATE INDEX IF NOT EXISTS files_by_sha256 ON files(sha256);
CREATE TABLE IF NOT EXISTS aliases (
  model_id INTEGER NOT NULL REFERENCES models(id),
  name TEXT NOT NULL,
  version_id INTEGER NOT NULL REFERENCES versions(id),
  previous_version_id INTEGER REFERENCES versions(id),
  updated_by TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (model_id, name)
);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  user TEXT NOT NULL,
  action TEXT NOT NULL,
  model TEXT,
  version TEXT,
  detail TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows are never updated'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows are never deleted'); END;
)sql";

// Creates the tables in an empty database (or finds them there). The caller
// runs it inside its transaction. True when the database was empty.
inline result<bool> create_schema(database& db) {
  auto version = db.integer("PRAGMA user_version");
  if (!version) return std::move(version).error_value();
  if (*version != 0 && *version != schema_version)
    return make_error(errc::registry_failed, db.path() + ": registry schema version " + std::to_string(*version) +
                                                ", this build knows version " + std::to_string(schema_version));
  if (auto r = db.exec(schema_sql); !r) return std::move(r).error_value();
  if (auto r = db.exec("PRAGMA user_version = " + std::to_string(schema_version)); !r) return std::move(r).error_value();
  return *version == 0;
}

// Refuses a database that is not a registry of this schema version.
inline result<void> check_schema(database& db) {
  auto version = db.integer("PRAGMA user_version");
  if (!version) return std::move(version).error_value();
  if (*version != schema_version)
    return make_error(errc::registry_failed,
                      db.path() + ": not a registry database of this version (schema version " +
                          std::to_string(*version) + ", expected " + std::to_string(schema_version) + ")");
  auto tables = db.integer(
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
      "name IN ('models', 'versions', 'files', 'aliases', 'audit_log')");
  if (!tables) return std::move(tables).error_value();
  if (*tables != 5) return make_error(errc::registry_failed, db.path() + ": not a registry database (tables missing)");
  return {};
}

}  // namespace registry_detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
