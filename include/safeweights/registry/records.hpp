// What the registry hands out: versions with their files, alias switches,
// audit-log entries, and the reports of verify and gc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// One file of a version: its path in the model, its digest and size, and
// (for a .safetensors file) its __metadata__ as a JSON object.
struct registry_file {
  std::string path;
  std::string sha256;  // lowercase hex
  std::uint64_t size = 0;
  std::optional<std::string> metadata_json;
};

struct model_version {
  std::string model;
  std::string version;     // the label: "3", or what --version gave
  std::int64_t seq = 0;    // the order versions of a model were added in (latest: highest)
  std::string kind;        // "file" or "directory"
  std::string source;      // the path it was added from, as given
  std::uint64_t size = 0;  // bytes, all files
  std::string added_by;
  std::string added_at;    // UTC, RFC 3339
  std::optional<std::string> note;
  std::vector<std::string> aliases;  // the aliases pointing at it, sorted
  std::vector<registry_file> files;  // sorted by path
  std::string path;  // what resolve() returns for it (unchecked here)
};

// An alias's switch: what it pointed at before (if anything) and now.
struct alias_change {
  std::string model;
  std::string alias;
  std::optional<std::string> previous;
  std::string current;
};

struct audit_entry {
  std::int64_t id = 0;
  std::string at;
  std::string user;
  std::string action;  // init, add, alias, rollback, gc
  std::optional<std::string> model;
  std::optional<std::string> version;
  std::string detail;
};

// One thing verify found wrong: a file of a version (or its signature).
struct registry_problem {
  std::string model;
  std::string version;
  std::string path;     // the file in the version ("model.sig" for a signature problem)
  std::string message;  // names the file, the stored object and what is wrong
};

struct registry_verification {
  std::size_t versions = 0;
  std::size_t objects = 0;       // distinct stored files re-hashed
  std::uint64_t bytes = 0;       // bytes re-hashed
  std::size_t signatures = 0;    // model.sig files checked
  std::vector<registry_problem> problems;
  std::vector<std::string> notes;  // what was checked less than fully, said not skipped
  bool ok() const noexcept { return problems.empty(); }
};

struct registry_gc_report {
  std::vector<std::string> removed_versions;  // "name@version"
  std::size_t removed_objects = 0;
  std::uint64_t freed_bytes = 0;
  std::size_t removed_strays = 0;  // temporaries and directories a killed add left
};

struct registry_add_options {
  std::optional<std::string> version;  // default: the next number
  std::optional<std::string> note;
  bool link = false;  // hard-link the files in instead of copying them
};

// How resolve() checks what it hands out: by re-hashing every file (the
// default; the only check that sees changed bytes), or by sizes alone.
enum class resolve_check { digests, sizes };

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
