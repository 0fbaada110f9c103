// A versioned model registry in a directory: an SQLite database of models,
// versions, their files and aliases, with an append-only audit log, over a
// content-addressed store of the files. spec/REGISTRY.md has the layout and
// the rules; in short:
//
//   DIR/registry.db                  the database (WAL: registry.db-wal, -shm beside it)
//   DIR/objects/sha256/<2>/<62>      each stored file, named by its SHA-256
//   DIR/models/<name>/<version>/     a directory version: hard links to its objects
//   DIR/tmp/                         files being copied in (temporaries)
//   DIR/lock                         adds share it, gc holds it alone
//
// A version is added whole or not at all: its files are stored first, its
// directory staged under a temporary name, and one transaction records the
// version and renames the directory into place; a process killed before
// that commit leaves only unreferenced objects and temporaries, which gc
// removes. resolve("name@production" | "name@3" | "name") re-hashes what it
// hands out. Needs OpenSSL (SHA-256) and SQLite.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "safeweights/integrity/model_signature.hpp"
#include "safeweights/io/reader.hpp"
#include "safeweights/registry/actor.hpp"
#include "safeweights/registry/content_store.hpp"
#include "safeweights/registry/database.hpp"
#include "safeweights/registry/names.hpp"
#include "safeweights/registry/object_check.hpp"
#include "safeweights/registry/records.hpp"
#include "safeweights/registry/schema.hpp"
#include "safeweights/registry/store_lock.hpp"
#include "safeweights/util/checked.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

namespace registry_detail {

// The name a signature of a model directory has in the version (OpenSSF model signing's default).
inline constexpr std::string_view signature_file = "model.sig";

struct source_file {
  std::string path;  // to read
  std::string rel;   // in the version
};

// The regular files of a model directory (sorted by path), or the one file.
inline result<std::vector<source_file>> list_source(const std::string& source, bool& is_directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // The path given may be a link (a `current` symlink); links inside a model directory are refused.
  const auto status = fs::status(source, ec);
  if (ec || !fs::exists(status)) return make_error(errc::io_error, source + ": cannot open: no such file or directory");
  std::vector<source_file> files;
  is_directory = fs::is_directory(status);
  if (fs::is_regular_file(status)) {
    files.push_back({source, fs::path(source).filename().string()});
    return files;
  }
  if (!is_directory)
    return make_error(errc::invalid_argument, source + ": not a regular file or a directory");
  for (fs::recursive_directory_iterator it(source, ec), end; !ec && it != end; it.increment(ec)) {
    const auto s = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(s)) continue;
    if (!fs::is_regular_file(s))
      return make_error(errc::invalid_argument, it->path().string() +
                                                    ": not a regular file (a symbolic link or a special file); the "
                                                    "registry stores regular files only");
    files.push_back({it->path().string(), it->path().lexically_relative(source).generic_string()});
  }
  if (ec) return make_error(errc::io_error, source + ": cannot list the directory: " + ec.message());
  if (files.empty()) return make_error(errc::invalid_argument, source + ": the directory holds no files");
  std::sort(files.begin(), files.end(), [](const source_file& a, const source_file& b) { return a.rel < b.rel; });
  return files;
}

// A .safetensors file's __metadata__ as a JSON object (read with the library's reader, which validates the file).
inline result<std::string> metadata_json(const std::string& object, const std::string& label) {
  auto file = file_handle::open_read(object);
  if (!file) return std::move(file).error_value().in(object);
  auto r = reader::open(std::move(*file), label);
  if (!r) return std::move(r).error_value();
  std::string json = "{";
  for (const metadata_entry& e : r->metadata()) {
    if (json.size() > 1) json += ", ";
    append_json_string(json, e.key);
    json += ": ";
    append_json_string(json, e.value);
  }
  return json + "}";
}

// A model directory being put together under a temporary name beside its
// final place (DIR/models/<name>/.staging.tmp-XXXXXX), locked while it
// lives; removed unless kept.
class staged_model_directory {
 public:
  static result<staged_model_directory> create(const std::string& parent) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return make_error(errc::write_failed, parent + ": cannot create the directory: " + ec.message());
    staged_model_directory d;
    std::random_device random;
    const std::string pattern = parent + "/" + temporary_name("staging");
    for (int attempt = 0; d.path_.empty(); ++attempt) {
      static constexpr char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
      std::string name = pattern;
      for (std::size_t k = name.size() - 6; k < name.size(); ++k) name[k] = letters[random() % (sizeof letters - 1)];
      int made = -1;
      d.listing_ = listed_temporary::created(name, listed_temporary::kind::directory, [&] {
        made = ::mkdir(name.c_str(), 0777);
        return made == 0;
      });
      if (made == 0) d.path_ = std::move(name);
      else if (errno != EEXIST || attempt == 100)
        return errno_error(errc::write_failed, parent + ": cannot create a staging directory");
    }
    d.lock_ = ::open(d.path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d.lock_ >= 0) ::flock(d.lock_, LOCK_EX | LOCK_NB);
    return d;
  }
  staged_model_directory(staged_model_directory&& o) noexcept
      : path_(std::exchange(o.path_, std::string())), listing_(std::move(o.listing_)), lock_(std::exchange(o.lock_, -1)) {}
  staged_model_directory& operator=(staged_model_directory&&) = delete;
  ~staged_model_directory() {
    if (lock_ >= 0) ::close(lock_);
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }

  const std::string& path() const noexcept { return path_; }

  // Hard-links the stored object in as `rel`.
  result<void> link(const std::string& object, const std::string& rel) const {
    const std::filesystem::path to = std::filesystem::path(path_) / rel;
    std::error_code ec;
    std::filesystem::create_directories(to.parent_path(), ec);
    if (ec) return make_error(errc::write_failed, to.parent_path().string() + ": cannot create the directory: " + ec.message());
    if (::link(object.c_str(), to.c_str()) != 0) return errno_error(errc::write_failed, to.string() + ": cannot link the stored file");
    return {};
  }

  // Makes its directories' entries (the links) durable before the rename publishes them.
  void sync() const {
    std::error_code ec;
    sync_directory(path_);
    for (std::filesystem::recursive_directory_iterator it(path_, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_directory(ec)) sync_directory(it->path().string());
  }

  // Renamed to `target`: nothing left to remove.
  result<void> rename_to(const std::string& target) {
    if (::rename(path_.c_str(), target.c_str()) != 0)
      return errno_error(errc::write_failed, target + ": cannot rename the staged model directory into place");
    path_.clear();
    listing_.release();
    return {};
  }

 private:
  staged_model_directory() = default;
  std::string path_;
  listed_temporary listing_;
  int lock_ = -1;
};

// Removes a directory by renaming it aside first, so that no half-removed
// directory is ever seen under its own name.
inline void remove_directory(const std::string& path) {
  std::error_code ec;
  const std::string aside = parent_dir(path) + "/" + temporary_name("removing");
  std::string name = aside;
  std::random_device random;
  for (std::size_t k = name.size() - 6; k < name.size(); ++k) name[k] = static_cast<char>('a' + random() % 26);
  if (::rename(path.c_str(), name.c_str()) == 0) std::filesystem::remove_all(name, ec);
  else std::filesystem::remove_all(path, ec);
}

}  // namespace registry_detail

class registry {
  using database = registry_detail::database;

 public:
  // Creates the registry in `dir` (made if missing), or opens the one there.
  // `busy_timeout`: how long a change waits for another process's before it
  // fails with registry_failed ("database is locked").
  static result<registry> init(const std::string& dir,
                               std::chrono::milliseconds busy_timeout = registry_detail::default_busy_timeout) {
    for (const char* sub : {"/objects/sha256", "/models", "/tmp"}) {
      std::error_code ec;
      std::filesystem::create_directories(dir + sub, ec);
      if (ec) return make_error(errc::registry_failed, dir + sub + ": cannot create the directory: " + ec.message());
    }
    auto db = database::open(dir + "/registry.db", database::mode::create, busy_timeout);
    if (!db) return std::move(db).error_value();
    auto made = db->transaction([&]() -> result<bool> {
      auto fresh = registry_detail::create_schema(*db);
      if (fresh && *fresh)
        if (auto a = audit(*db, "init", std::nullopt, std::nullopt, "created the registry"); !a) return std::move(a).error_value();
      return fresh;
    });
    if (!made) return std::move(made).error_value();
    return registry(dir, std::move(*db));
  }

  // Opens the registry in `dir`; registry_failed when there is none.
  static result<registry> open(const std::string& dir,
                               std::chrono::milliseconds busy_timeout = registry_detail::default_busy_timeout) {
    const std::string path = dir + "/registry.db";
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return make_error(errc::registry_failed, dir + ": not a registry (no registry.db); create one with "
                                                    "`safeweights registry init " + dir + "`");
    auto db = database::open(path, database::mode::open_existing, busy_timeout);
    if (!db) return std::move(db).error_value();
    if (auto c = registry_detail::check_schema(*db); !c) return std::move(c).error_value();
    for (const char* sub : {"/objects/sha256", "/models", "/tmp"}) {
      std::error_code ec;
      std::filesystem::create_directories(dir + sub, ec);
    }
    return registry(dir, std::move(*db));
  }

  const std::string& dir() const noexcept { return dir_; }

  // Registers a .safetensors file or a model directory as a new version of `name`.
  result<model_version> add(const std::string& source, const std::string& name, const registry_add_options& options = {}) {
    using namespace registry_detail;
    if (auto c = check_name(name, "model name"); !c) return std::move(c).error_value();
    if (options.version)
      if (auto c = check_name(*options.version, "version"); !c) return std::move(c).error_value();
    bool is_directory = false;
    const std::string source_path = absolute_dir(source);
    auto sources = list_source(source_path, is_directory);
    if (!sources) return std::move(sources).error_value();
    auto lock = store_lock::take(dir_, store_lock::kind::shared);
    if (!lock) return std::move(lock).error_value();

    struct stored_file {
      std::string rel, sha256, object;
      std::uint64_t size = 0;
      std::optional<std::string> metadata;
    };
    std::vector<stored_file> stored;
    std::uint64_t total = 0;
    for (const source_file& f : *sources) {
      auto s = store_.put(f.path, options.link);
      if (!s) return std::move(s).error_value();
      stored_file file{f.rel, s->sha256, s->object, s->size, std::nullopt};
      if (!is_directory || f.rel.ends_with(".safetensors")) {
        auto m = metadata_json(s->object, f.path);
        if (!m) return std::move(m).error_value();
        file.metadata = std::move(*m);
      }
      if (!checked_add(total, file.size, total)) return make_error(errc::size_overflow, source + ": total size overflows");
      stored.push_back(std::move(file));
    }
    std::optional<staged_model_directory> staged;
    const std::string model_dir = dir_ + "/models/" + name;
    if (is_directory) {
      auto d = staged_model_directory::create(model_dir);
      if (!d) return std::move(d).error_value();
      staged.emplace(std::move(*d));
      for (const stored_file& f : stored)
        if (auto l = staged->link(f.object, f.rel); !l) return std::move(l).error_value();
      staged->sync();
    }

    const std::string who = current_user(), when = utc_now();
    auto added = db_.transaction([&]() -> result<std::int64_t> {
      auto model = ensure_model(name, when);
      if (!model) return std::move(model).error_value();
      const std::int64_t model_row = model->first;
      std::int64_t last_number = model->second;
      std::string label;
      if (options.version) {
        label = *options.version;
        auto taken = version_taken(model_row, label);
        if (!taken) return std::move(taken).error_value();
        if (*taken) return make_error(errc::invalid_argument, "model " + quote_name(name) + " already has version " + quote_name(label));
        auto alias_taken = alias_exists(model_row, label);
        if (!alias_taken) return std::move(alias_taken).error_value();
        if (*alias_taken)
          return make_error(errc::invalid_argument, "model " + quote_name(name) + " has an alias " + quote_name(label) +
                                                        "; a version of that name would be hidden by it");
        if (all_digits(label) && label.size() < 18) last_number = std::max<std::int64_t>(last_number, std::stoll(label));
      } else {
        for (std::int64_t n = last_number + 1;; ++n) {
          auto taken = version_taken(model_row, std::to_string(n));
          if (!taken) return std::move(taken).error_value();
          if (!*taken) {
            label = std::to_string(n);
            last_number = n;
            break;
          }
        }
      }
      if (auto r = run("UPDATE models SET last_number = ? WHERE id = ?", last_number, model_row); !r) return std::move(r).error_value();
      auto seq = single_integer("SELECT COALESCE(MAX(seq), 0) + 1 FROM versions WHERE model_id = ?", model_row);
      if (!seq) return std::move(seq).error_value();
      auto insert = db_.prepare(
          "INSERT INTO versions (model_id, seq, version, kind, source, size, added_by, added_at, note) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
      if (!insert) return std::move(insert).error_value();
      insert->bind(1, model_row).bind(2, *seq).bind(3, std::string_view(label))
          .bind(4, std::string_view(is_directory ? "directory" : "file")).bind(5, std::string_view(source_path))
          .bind(6, static_cast<std::int64_t>(total)).bind(7, std::string_view(who)).bind(8, std::string_view(when))
          .bind(9, options.note);
      if (auto r = insert->run(); !r) return std::move(r).error_value();
      const std::int64_t version_id = db_.last_insert_id();
      auto file_row = db_.prepare("INSERT INTO files (version_id, path, sha256, size, metadata) VALUES (?, ?, ?, ?, ?)");
      if (!file_row) return std::move(file_row).error_value();
      for (const stored_file& f : stored) {
        file_row->bind(1, version_id).bind(2, std::string_view(f.rel)).bind(3, std::string_view(f.sha256))
            .bind(4, static_cast<std::int64_t>(f.size)).bind(5, f.metadata);
        if (auto r = file_row->run(); !r) return std::move(r).error_value();
        file_row->reset();
      }
      std::string detail = "from " + source_path + ": " + std::to_string(stored.size()) +
                           (stored.size() == 1 ? " file, " : " files, ") + std::to_string(total) + " bytes";
      if (options.note) detail += "; note: " + *options.note;
      if (auto a = audit(db_, "add", name, label, detail); !a) return std::move(a).error_value();
      if (staged) {
        // We hold the write lock and no version has this label: anything at
        // the target is what a process killed between this rename and its
        // commit left.
        const std::string target = model_dir + "/" + label;
        if (struct stat st; ::lstat(target.c_str(), &st) == 0) remove_directory(target);
        if (auto r = staged->rename_to(target); !r) return std::move(r).error_value();
      }
      return version_id;
    });
    if (!added) return std::move(added).error_value();
    if (staged) sync_directory(model_dir);
    return load_version(*added);
  }

  // Every version (of `name` only, when given), by model name, then in the order they were added.
  result<std::vector<model_version>> list(const std::optional<std::string>& name = std::nullopt) {
    std::optional<std::int64_t> only;
    if (name) {
      auto id = model_id(*name);
      if (!id) return std::move(id).error_value();
      only = *id;
    }
    auto s = db_.prepare(
        "SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id "
        "WHERE ?1 IS NULL OR v.model_id = ?1 ORDER BY m.name, v.seq");
    if (!s) return std::move(s).error_value();
    s->bind(1, only);
    std::vector<std::int64_t> ids;
    for (;;) {
      auto row = s->step();
      if (!row) return std::move(row).error_value();
      if (!*row) break;
      ids.push_back(s->integer(0));
    }
    std::vector<model_version> out;
    for (std::int64_t id : ids) {
      auto v = load_version(id);
      if (!v) return std::move(v).error_value();
      out.push_back(std::move(*v));
    }
    return out;
  }

  // One version with its files: "name" (the latest), "name@3", "name@production".
  result<model_version> show(std::string_view ref) {
    auto id = find_version(ref);
    if (!id) return std::move(id).error_value();
    return load_version(*id);
  }

  // Points NAME@ALIAS at the version `ref` names, in one transaction, keeping the previous target for rollback().
  result<alias_change> alias(std::string_view ref, std::string_view alias_name) {
    using namespace registry_detail;
    if (auto c = check_name(alias_name, "alias"); !c) return std::move(c).error_value();
    const std::string who = current_user(), when = utc_now();
    return db_.transaction([&]() -> result<alias_change> {
      auto target = find_version(ref);
      if (!target) return std::move(target).error_value();
      auto v = load_version(*target);
      if (!v) return std::move(v).error_value();
      auto model = model_id(v->model);
      if (!model) return std::move(model).error_value();
      auto shadowed = version_taken(*model, std::string(alias_name));
      if (!shadowed) return std::move(shadowed).error_value();
      if (*shadowed)
        return make_error(errc::invalid_argument, "model " + quote_name(v->model) + " has a version " + quote_name(alias_name) +
                                                      "; an alias of that name would hide it");
      alias_change change{v->model, std::string(alias_name), std::nullopt, v->version};
      auto current = alias_target(*model, alias_name);
      if (!current) return std::move(current).error_value();
      if (*current) {
        auto before = version_label((*current)->first);
        if (!before) return std::move(before).error_value();
        change.previous = *before;
        if ((*current)->first == *target) return change;  // already there: nothing to switch or log
        if (auto r = run("UPDATE aliases SET previous_version_id = version_id, version_id = ?, updated_by = ?, updated_at = ? "
                         "WHERE model_id = ? AND name = ?",
                         *target, who, when, *model, std::string(alias_name));
            !r)
          return std::move(r).error_value();
      } else if (auto r = run("INSERT INTO aliases (model_id, name, version_id, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)",
                              *model, std::string(alias_name), *target, who, when);
                 !r) {
        return std::move(r).error_value();
      }
      if (auto a = audit(db_, "alias", change.model, change.current,
                         change.alias + ": " + change.previous.value_or("(none)") + " -> " + change.current);
          !a)
        return std::move(a).error_value();
      return change;
    });
  }

  // Points NAME@ALIAS back at its previous target (and keeps the one it leaves as the new previous).
  result<alias_change> rollback(std::string_view name, std::string_view alias_name) {
    using namespace registry_detail;
    if (auto c = check_name(alias_name, "alias"); !c) return std::move(c).error_value();
    const std::string who = current_user(), when = utc_now();
    return db_.transaction([&]() -> result<alias_change> {
      auto model = model_id(std::string(name));
      if (!model) return std::move(model).error_value();
      auto current = alias_target(*model, alias_name);
      if (!current) return std::move(current).error_value();
      if (!*current)
        return make_error(errc::model_not_found, "model " + quote_name(name) + " has no alias " + quote_name(alias_name));
      if (!(*current)->second)
        return make_error(errc::invalid_argument, quote_name(std::string(name) + "@" + std::string(alias_name)) +
                                                      " has no previous target to roll back to");
      auto from = version_label((*current)->first);
      if (!from) return std::move(from).error_value();
      auto to = version_label(*(*current)->second);
      if (!to) return std::move(to).error_value();
      if (auto r = run("UPDATE aliases SET version_id = previous_version_id, previous_version_id = version_id, "
                       "updated_by = ?, updated_at = ? WHERE model_id = ? AND name = ?",
                       who, when, *model, std::string(alias_name));
          !r)
        return std::move(r).error_value();
      alias_change change{std::string(name), std::string(alias_name), *from, *to};
      if (auto a = audit(db_, "rollback", change.model, change.current, change.alias + ": " + *from + " -> " + *to); !a)
        return std::move(a).error_value();
      return change;
    });
  }

  // The path to load the version `ref` names: the stored file of a
  // single-file version, the model directory of a directory version. Its
  // files are checked first (re-hashed, by default): digest_mismatch names
  // the first that is missing, changed or replaced.
  result<std::filesystem::path> resolve(std::string_view ref, resolve_check check = resolve_check::digests) {
    using namespace registry_detail;
    auto lock = store_lock::take(dir_, store_lock::kind::shared);
    if (!lock) return std::move(lock).error_value();
    auto id = find_version(ref);
    if (!id) return std::move(id).error_value();
    auto v = load_version(*id);
    if (!v) return std::move(v).error_value();
    std::vector<object_expectation> expected;
    for (const registry_file& f : v->files)
      expected.push_back({v->model + "@" + v->version + ": " + quote_name(f.path), store_.object_path(f.sha256), f.sha256, f.size});
    for (auto& outcome : check_objects(expected, check == resolve_check::digests))
      if (!outcome) return std::move(outcome).error_value();
    if (v->kind == "directory")
      for (const registry_file& f : v->files)
        if (auto m = check_materialised(*v, f); !m) return std::move(m).error_value();
    return std::filesystem::path(v->path);
  }

  // Re-hashes every stored file of every version against its recorded
  // digest, checks each model directory's links, and checks each
  // version's model.sig: its signed digests against the files; with `key`,
  // the signature itself too.
  result<registry_verification> verify(const std::optional<public_key>& key = std::nullopt) {
    using namespace registry_detail;
    auto lock = store_lock::take(dir_, store_lock::kind::shared);
    if (!lock) return std::move(lock).error_value();
    auto versions = list();
    if (!versions) return std::move(versions).error_value();
    registry_verification report;
    report.versions = versions->size();
    std::vector<object_expectation> expected;
    std::map<std::string, std::size_t> by_digest;
    for (const model_version& v : *versions)
      for (const registry_file& f : v.files)
        if (by_digest.emplace(f.sha256, expected.size()).second) {
          expected.push_back({"", store_.object_path(f.sha256), f.sha256, f.size});
          if (!checked_add(report.bytes, f.size, report.bytes)) return make_error(errc::size_overflow, dir_ + ": sizes overflow");
        }
    report.objects = expected.size();
    const auto outcomes = check_objects(expected, true);
    bool unauthenticated = false;
    for (const model_version& v : *versions) {
      const std::string label = v.model + "@" + v.version;
      auto problem = [&](const std::string& path, const std::string& message) {
        report.problems.push_back({v.model, v.version, path, label + ": " + quote_name(path) + ": " + message});
      };
      for (const registry_file& f : v.files) {
        const auto& outcome = outcomes[by_digest.at(f.sha256)];
        if (!outcome) problem(f.path, outcome.error_value().message);
        else if (v.kind == "directory")
          if (auto m = check_materialised(v, f); !m) report.problems.push_back({v.model, v.version, f.path, m.error_value().message});
      }
      const bool signed_version = v.kind == "directory" &&
          std::any_of(v.files.begin(), v.files.end(), [](const registry_file& f) { return f.path == signature_file; });
      if (!signed_version) continue;
      ++report.signatures;
      unauthenticated = unauthenticated || !key;
      for (const std::string& message : check_signature(v, key)) problem(std::string(signature_file), message);
    }
    if (unauthenticated)
      report.notes.push_back("model.sig checked without a key: its signed digests match the files, but who signed "
                             "was not checked (give the signer's public key for that)");
    return report;
  }

  // Removes the versions of each model beyond its newest `keep` (never one
  // an alias points at or would roll back to), then every stored file no
  // version holds and whatever killed adds left (temporaries, staged or
  // unrecorded directories).
  result<registry_gc_report> gc(std::uint64_t keep) {
    using namespace registry_detail;
    if (keep == 0 || keep > static_cast<std::uint64_t>(INT64_MAX))
      return make_error(errc::invalid_argument, "gc: keep at least 1 version per model");
    auto lock = store_lock::take(dir_, store_lock::kind::exclusive);
    if (!lock) return std::move(lock).error_value();
    registry_gc_report report;
    struct doomed_version {
      std::int64_t id;
      std::string model, version, kind;
    };
    std::vector<doomed_version> doomed;
    auto removed = db_.transaction([&]() -> result<void> {
      auto s = db_.prepare(
          "SELECT v.id, m.name, v.version, v.kind FROM (SELECT id, model_id, version, kind, "
          "ROW_NUMBER() OVER (PARTITION BY model_id ORDER BY seq DESC) AS newest FROM versions) v "
          "JOIN models m ON m.id = v.model_id WHERE v.newest > ? "
          "AND v.id NOT IN (SELECT version_id FROM aliases) "
          "AND v.id NOT IN (SELECT previous_version_id FROM aliases WHERE previous_version_id IS NOT NULL) "
          "ORDER BY m.name, v.newest DESC");
      if (!s) return std::move(s).error_value();
      s->bind(1, static_cast<std::int64_t>(keep));
      for (;;) {
        auto row = s->step();
        if (!row) return std::move(row).error_value();
        if (!*row) break;
        doomed.push_back({s->integer(0), s->text(1), s->text(2), s->text(3)});
      }
      for (const doomed_version& d : doomed) {
        if (auto r = run("DELETE FROM versions WHERE id = ?", d.id); !r) return r;
        if (auto a = audit(db_, "gc", d.model, d.version, "removed: beyond the newest " + std::to_string(keep)); !a) return a;
      }
      return {};
    });
    if (!removed) return std::move(removed).error_value();
    for (const doomed_version& d : doomed) {
      report.removed_versions.push_back(d.model + "@" + d.version);
      if (d.kind == "directory") remove_directory(dir_ + "/models/" + d.model + "/" + d.version);
    }
    auto swept = sweep(report);
    if (!swept) return std::move(swept).error_value();
    auto logged = db_.transaction([&]() -> result<void> {
      return audit(db_, "gc", std::nullopt, std::nullopt,
                   "kept the newest " + std::to_string(keep) + " per model; removed " +
                       std::to_string(report.removed_versions.size()) + " versions, " +
                       std::to_string(report.removed_objects) + " stored files (" + std::to_string(report.freed_bytes) +
                       " bytes), " + std::to_string(report.removed_strays) + " leftovers of interrupted adds");
    });
    if (!logged) return std::move(logged).error_value();
    return report;
  }

  // The audit log, oldest first.
  result<std::vector<audit_entry>> log() {
    auto s = db_.prepare("SELECT id, at, user, action, model, version, detail FROM audit_log ORDER BY id");
    if (!s) return std::move(s).error_value();
    std::vector<audit_entry> out;
    for (;;) {
      auto row = s->step();
      if (!row) return std::move(row).error_value();
      if (!*row) break;
      out.push_back({s->integer(0), s->text(1), s->text(2), s->text(3), s->optional_text(4), s->optional_text(5), s->text(6)});
    }
    return out;
  }

 private:
  // Kept absolute: the paths resolve() hands out must not depend on the working directory.
  registry(const std::string& dir, database db) : dir_(absolute_dir(dir)), db_(std::move(db)), store_(dir_) {}
  static std::string absolute_dir(const std::string& dir) {
    std::error_code ec;
    std::filesystem::path p = std::filesystem::absolute(dir, ec);
    if (ec) return dir;
    std::string text = p.lexically_normal().string();
    while (text.size() > 1 && text.ends_with('/')) text.pop_back();
    return text;
  }

  static result<void> audit(database& db, std::string_view action, const std::optional<std::string>& model,
                            const std::optional<std::string>& version, const std::string& detail) {
    auto s = db.prepare("INSERT INTO audit_log (at, user, action, model, version, detail) VALUES (?, ?, ?, ?, ?, ?)");
    if (!s) return std::move(s).error_value();
    s->bind(1, std::string_view(registry_detail::utc_now())).bind(2, std::string_view(registry_detail::current_user()))
        .bind(3, action).bind(4, model).bind(5, version).bind(6, std::string_view(detail));
    return s->run();
  }

  // Binds each argument in order and runs the statement.
  template <class... Args>
  result<void> run(std::string_view sql, const Args&... args) {
    auto s = db_.prepare(sql);
    if (!s) return std::move(s).error_value();
    int index = 0;
    (bind_one(*s, ++index, args), ...);
    return s->run();
  }
  template <class... Args>
  result<std::int64_t> single_integer(std::string_view sql, const Args&... args) {
    auto s = db_.prepare(sql);
    if (!s) return std::move(s).error_value();
    int index = 0;
    (bind_one(*s, ++index, args), ...);
    auto row = s->step();
    if (!row) return std::move(row).error_value();
    return *row ? s->integer(0) : 0;
  }
  static void bind_one(registry_detail::statement& s, int index, std::int64_t v) { s.bind(index, v); }
  static void bind_one(registry_detail::statement& s, int index, const std::string& v) { s.bind(index, std::string_view(v)); }

  // (id, last_number) of `name`, created if new.
  result<std::pair<std::int64_t, std::int64_t>> ensure_model(const std::string& name, const std::string& when) {
    if (auto r = run("INSERT INTO models (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, when); !r)
      return std::move(r).error_value();
    auto s = db_.prepare("SELECT id, last_number FROM models WHERE name = ?");
    if (!s) return std::move(s).error_value();
    s->bind(1, std::string_view(name));
    auto row = s->step();
    if (!row) return std::move(row).error_value();
    return std::pair{s->integer(0), s->integer(1)};
  }

  result<std::int64_t> model_id(const std::string& name) {
    if (auto c = registry_detail::check_name(name, "model name"); !c) return std::move(c).error_value();
    auto s = db_.prepare("SELECT id FROM models WHERE name = ?");
    if (!s) return std::move(s).error_value();
    s->bind(1, std::string_view(name));
    auto row = s->step();
    if (!row) return std::move(row).error_value();
    if (!*row) return make_error(errc::model_not_found, dir_ + ": no model " + quote_name(name));
    return s->integer(0);
  }

  result<bool> version_taken(std::int64_t model, const std::string& label) {
    auto n = single_integer("SELECT COUNT(*) FROM versions WHERE model_id = ? AND version = ?", model, label);
    if (!n) return std::move(n).error_value();
    return *n != 0;
  }
  result<bool> alias_exists(std::int64_t model, const std::string& alias_name) {
    auto n = single_integer("SELECT COUNT(*) FROM aliases WHERE model_id = ? AND name = ?", model, alias_name);
    if (!n) return std::move(n).error_value();
    return *n != 0;
  }

  // The alias's (target, previous target), if it exists.
  result<std::optional<std::pair<std::int64_t, std::optional<std::int64_t>>>> alias_target(std::int64_t model,
                                                                                           std::string_view alias_name) {
    auto s = db_.prepare("SELECT version_id, previous_version_id FROM aliases WHERE model_id = ? AND name = ?");
    if (!s) return std::move(s).error_value();
    s->bind(1, model).bind(2, alias_name);
    auto row = s->step();
    if (!row) return std::move(row).error_value();
    if (!*row) return std::optional<std::pair<std::int64_t, std::optional<std::int64_t>>>{};
    std::optional<std::int64_t> previous;
    if (!s->is_null(1)) previous = s->integer(1);
    return std::optional<std::pair<std::int64_t, std::optional<std::int64_t>>>{std::pair{s->integer(0), previous}};
  }

  result<std::string> version_label(std::int64_t id) {
    auto s = db_.prepare("SELECT version FROM versions WHERE id = ?");
    if (!s) return std::move(s).error_value();
    s->bind(1, id);
    auto row = s->step();
    if (!row) return std::move(row).error_value();
    return *row ? s->text(0) : std::string("(removed)");
  }

  // The version `ref` names: NAME@ALIAS first, then NAME@VERSION; NAME alone is the latest.
  result<std::int64_t> find_version(std::string_view ref) {
    auto parsed = registry_detail::parse_ref(ref);
    if (!parsed) return std::move(parsed).error_value();
    auto model = model_id(parsed->model);
    if (!model) return std::move(model).error_value();
    if (!parsed->at) {
      auto id = single_integer("SELECT COALESCE(MAX(id), 0) FROM versions WHERE model_id = ? AND seq = "
                               "(SELECT MAX(seq) FROM versions WHERE model_id = ?)",
                               *model, *model);
      if (!id) return std::move(id).error_value();
      if (*id == 0) return make_error(errc::model_not_found, dir_ + ": model " + quote_name(parsed->model) + " has no versions");
      return *id;
    }
    auto target = alias_target(*model, *parsed->at);
    if (!target) return std::move(target).error_value();
    if (*target) return (*target)->first;
    auto id = single_integer("SELECT COALESCE(MAX(id), 0) FROM versions WHERE model_id = ? AND version = ?", *model, *parsed->at);
    if (!id) return std::move(id).error_value();
    if (*id == 0)
      return make_error(errc::model_not_found,
                        dir_ + ": model " + quote_name(parsed->model) + " has no version or alias " + quote_name(*parsed->at));
    return *id;
  }

  result<model_version> load_version(std::int64_t id) {
    auto s = db_.prepare(
        "SELECT m.name, v.version, v.seq, v.kind, v.source, v.size, v.added_by, v.added_at, v.note "
        "FROM versions v JOIN models m ON m.id = v.model_id WHERE v.id = ?");
    if (!s) return std::move(s).error_value();
    s->bind(1, id);
    auto row = s->step();
    if (!row) return std::move(row).error_value();
    if (!*row) return make_error(errc::model_not_found, dir_ + ": the version was removed");
    model_version v;
    v.model = s->text(0);
    v.version = s->text(1);
    v.seq = s->integer(2);
    v.kind = s->text(3);
    v.source = s->text(4);
    v.size = static_cast<std::uint64_t>(s->integer(5));
    v.added_by = s->text(6);
    v.added_at = s->text(7);
    v.note = s->optional_text(8);
    auto a = db_.prepare("SELECT name FROM aliases WHERE version_id = ? ORDER BY name");
    if (!a) return std::move(a).error_value();
    a->bind(1, id);
    for (;;) {
      auto r = a->step();
      if (!r) return std::move(r).error_value();
      if (!*r) break;
      v.aliases.push_back(a->text(0));
    }
    auto f = db_.prepare("SELECT path, sha256, size, metadata FROM files WHERE version_id = ? ORDER BY path");
    if (!f) return std::move(f).error_value();
    f->bind(1, id);
    for (;;) {
      auto r = f->step();
      if (!r) return std::move(r).error_value();
      if (!*r) break;
      v.files.push_back({f->text(0), f->text(1), static_cast<std::uint64_t>(f->integer(2)), f->optional_text(3)});
    }
    if (v.kind == "directory") v.path = dir_ + "/models/" + v.model + "/" + v.version;
    else if (!v.files.empty()) v.path = store_.object_path(v.files.front().sha256);
    return v;
  }

  // A directory version's file must be its object itself (the same inode), not a replacement.
  result<void> check_materialised(const model_version& v, const registry_file& f) const {
    const std::string link = v.path + "/" + f.path, object = store_.object_path(f.sha256);
    struct stat at_link, at_object;
    if (::lstat(link.c_str(), &at_link) != 0 || ::stat(object.c_str(), &at_object) != 0 || at_link.st_ino != at_object.st_ino ||
        at_link.st_dev != at_object.st_dev)
      return make_error(errc::digest_mismatch, v.model + "@" + v.version + ": " + quote_name(f.path) + ": " + link +
                                                   " is missing or is not the stored file " + object);
    return {};
  }

  // What is wrong with a directory version's model.sig: each changed,
  // missing or unsigned file, or why the signature cannot be read (or, with
  // `key`, does not verify).
  std::vector<std::string> check_signature(const model_version& v, const std::optional<public_key>& key) const {
    const std::string signature = v.path + "/" + std::string(registry_detail::signature_file);
    model_verification report;
    if (key) {
      model_trust trust;
      trust.key = *key;
      auto r = verify_model(v.path, signature, trust);
      if (!r) return {r.error_value().message};
      report = std::move(*r);
    } else {
      auto bundle = read_model_signature(signature);
      if (!bundle) return {bundle.error_value().message};
      auto manifest = parse_in_toto_statement(bundle->payload, signature);
      if (!manifest) return {manifest.error_value().message};
      const auto ignored = detail::ignored_paths(v.path, {}, true, signature);
      auto local = hash_model(v.path, manifest->serialization, ignored);
      if (!local) return {local.error_value().message};
      detail::compare_resources(manifest->resources, local->resources, {}, report);
    }
    std::vector<std::string> problems;
    for (const auto& p : report.changed) problems.push_back("changed since signing: " + quote_name(p));
    for (const auto& p : report.missing) problems.push_back("signed but missing: " + quote_name(p));
    for (const auto& p : report.extra) problems.push_back("not signed: " + quote_name(p));
    return problems;
  }

  // gc's sweep, under the exclusive lock (no add is between storing and
  // recording): stored files no version holds, temporaries, and model
  // directories no version owns.
  result<void> sweep(registry_gc_report& report) {
    namespace fs = std::filesystem;
    std::set<std::string> held, directories;
    auto s = db_.prepare("SELECT DISTINCT sha256 FROM files");
    if (!s) return std::move(s).error_value();
    for (;;) {
      auto row = s->step();
      if (!row) return std::move(row).error_value();
      if (!*row) break;
      held.insert(s->text(0));
    }
    auto d = db_.prepare("SELECT m.name, v.version FROM versions v JOIN models m ON m.id = v.model_id WHERE v.kind = 'directory'");
    if (!d) return std::move(d).error_value();
    for (;;) {
      auto row = d->step();
      if (!row) return std::move(row).error_value();
      if (!*row) break;
      directories.insert(d->text(0) + "/" + d->text(1));
    }
    auto objects = store_.objects();
    if (!objects) return std::move(objects).error_value();
    for (const auto& [hex, path] : *objects) {
      if (held.count(hex)) continue;
      struct stat st;
      const std::uint64_t size = ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
      if (::unlink(path.c_str()) == 0) {
        ++report.removed_objects;
        if (!checked_add(report.freed_bytes, size, report.freed_bytes)) report.freed_bytes = UINT64_MAX;
      }
    }
    std::error_code ec;
    for (fs::directory_iterator it(store_.staging_dir(), ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code rm;
      if (fs::remove_all(it->path(), rm) > 0 && !rm) ++report.removed_strays;
    }
    for (fs::directory_iterator model(dir_ + "/models", ec), end; !ec && model != end; model.increment(ec)) {
      const std::string name = model->path().filename().string();
      std::error_code inner;
      for (fs::directory_iterator it(model->path(), inner); !inner && it != end; it.increment(inner)) {
        if (directories.count(name + "/" + it->path().filename().string())) continue;
        std::error_code rm;
        if (fs::remove_all(it->path(), rm) > 0 && !rm) ++report.removed_strays;
      }
    }
    return {};
  }

  std::string dir_;
  database db_;
  registry_detail::content_store store_;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
