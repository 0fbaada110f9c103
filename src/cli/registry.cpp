// `safeweights registry SUBCOMMAND DIR ...`: the versioned model registry
// (registry/registry.hpp, spec/REGISTRY.md) from the command line. Each
// subcommand is one call of the library's registry; this file parses
// arguments and prints, nothing else.
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "options.hpp"
#include "safeweights/registry/registry.hpp"
#include "safeweights/util/json_text.hpp"
#include "size.hpp"
#include "summary.hpp"
#include "table.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage =
    "usage: safeweights registry init DIR\n"
    "       safeweights registry add DIR FILE|MODEL_DIR --name NAME [--version V] [--note TEXT] [--link] [-q]\n"
    "       safeweights registry list DIR [NAME] [--json]\n"
    "       safeweights registry show DIR REF [--json]\n"
    "       safeweights registry alias DIR NAME@VERSION ALIAS\n"
    "       safeweights registry rollback DIR NAME ALIAS\n"
    "       safeweights registry resolve DIR REF [--sizes-only] [--json]\n"
    "       safeweights registry verify DIR [--key PUB.pem] [--json]\n"
    "       safeweights registry gc DIR --keep N\n"
    "       safeweights registry log DIR [--json]";

constexpr std::string_view help_rest =
    "\n\n"
    "A registry of model versions in DIR: an SQLite database (DIR/registry.db) and\n"
    "the files, stored once each by SHA-256 (DIR/objects/). A version is one\n"
    ".safetensors file or a model directory (shards, index, config, model.sig, ...),\n"
    "added whole or not at all. REF is NAME (the latest version), NAME@VERSION or\n"
    "NAME@ALIAS. Every change is recorded in an append-only audit log.\n"
    "\n"
    "  init      create the registry (or open the one in DIR)\n"
    "  add       store FILE or MODEL_DIR as the next version of NAME (1, 2, ...; or V)\n"
    "  list      every version (of NAME): aliases, size, who added it and when, note\n"
    "  show      one version: its files, their SHA-256, sizes and __metadata__\n"
    "  alias     point NAME@ALIAS at a version (in one step; the previous target is kept)\n"
    "  rollback  point NAME@ALIAS back at its previous target\n"
    "  resolve   print the path to load REF from (a stored file, or a model directory),\n"
    "            after re-hashing its files; a changed file is refused (exit 1)\n"
    "  verify    re-hash every stored file and check each version's model.sig against\n"
    "            its files (with --key, the signature too); exit 1 naming each bad file\n"
    "  gc        remove the versions of each model beyond its newest N (never one an\n"
    "            alias points at or would roll back to), unreferenced stored files,\n"
    "            and what interrupted adds left\n"
    "  log       the audit log\n"
    "\n"
    "Options:\n"
    "  --name NAME      add: the model's name (letters, digits, '.', '_', '-')\n"
    "  --version V      add: the version's label instead of the next number\n"
    "  --note TEXT      add: a note kept with the version\n"
    "  --link           add: hard-link the files in instead of copying them (same file\n"
    "                   system; the source then shares its bytes with the registry)\n"
    "  --keep N         gc: versions to keep per model (at least 1)\n"
    "  --key PUB.pem    verify: the signer's public key, to verify model.sig fully\n"
    "  --sizes-only     resolve: check sizes only, not digests (fast, sees no changed byte)\n"
    "  --json           list, show, resolve, verify, log: JSON on stdout\n"
    "  -q, --quiet      add: no summary line\n"
    "  -h, --help       show this help\n"
    "Exit status: 0 ok, 1 an error (no such model or version: model_not_found; a\n"
    "changed file: digest_mismatch; no registry, or the database failed), 2 usage.\n";

void append_optional(std::string& out, const std::optional<std::string>& s) {
  if (s) sw::append_json_string(out, *s);
  else out += "null";
}

void append_strings(std::string& out, const std::vector<std::string>& items) {
  out += "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    sw::append_json_string(out, items[i]);
  }
  out += "]";
}

// A version as JSON; with `files`, its files with their digests and metadata, else their count.
std::string version_json(const sw::model_version& v, bool files) {
  std::string out = "{\"model\": ";
  sw::append_json_string(out, v.model);
  out += ", \"version\": ";
  sw::append_json_string(out, v.version);
  out += ", \"seq\": " + std::to_string(v.seq) + ", \"kind\": ";
  sw::append_json_string(out, v.kind);
  out += ", \"size\": " + uint_text(v.size) + ", \"aliases\": ";
  append_strings(out, v.aliases);
  out += ", \"added_by\": ";
  sw::append_json_string(out, v.added_by);
  out += ", \"added_at\": ";
  sw::append_json_string(out, v.added_at);
  out += ", \"note\": ";
  append_optional(out, v.note);
  out += ", \"source\": ";
  sw::append_json_string(out, v.source);
  out += ", \"path\": ";
  sw::append_json_string(out, v.path);
  if (!files) return out + ", \"file_count\": " + std::to_string(v.files.size()) + "}";
  out += ", \"files\": [";
  for (std::size_t i = 0; i < v.files.size(); ++i) {
    const sw::registry_file& f = v.files[i];
    if (i) out += ", ";
    out += "{\"path\": ";
    sw::append_json_string(out, f.path);
    out += ", \"sha256\": \"" + f.sha256 + "\", \"size\": " + uint_text(f.size) + ", \"metadata\": ";
    out += f.metadata_json ? *f.metadata_json : "null";  // JSON the registry wrote
    out += "}";
  }
  return out + "]}";
}

std::string aliases_text(const sw::model_version& v) {
  std::string out;
  for (const auto& a : v.aliases) out += (out.empty() ? "" : ",") + a;
  return out.empty() ? "-" : out;
}

struct subcommand_args {
  parsed_args parsed;
  std::string dir;
  std::vector<std::string> rest;  // operands after DIR
};

int run_init(const subcommand_args& a) {
  if (!a.rest.empty()) return usage_error("registry init: DIR only", usage);
  auto r = sw::registry::init(a.dir);
  if (!r) return fail(r.error_value());
  write_out(stdout, "registry " + printable(a.dir) + ": ready\n");
  return exit_ok;
}

int run_add(sw::registry& reg, const subcommand_args& a) {
  if (a.rest.size() != 1) return usage_error("registry add: give DIR and one FILE or MODEL_DIR", usage);
  auto name = a.parsed.value("--name");
  if (!name) return usage_error("registry add: --name NAME is required", usage);
  sw::registry_add_options o;
  o.version = a.parsed.value("--version");
  o.note = a.parsed.value("--note");
  o.link = a.parsed.has("--link");
  auto v = reg.add(a.rest[0], *name, o);
  if (!v) return fail(v.error_value());
  if (!quiet_requested(a.parsed))
    write_out(stdout, "added " + printable(v->model + "@" + v->version) + ": " +
                          count_text(v->files.size(), "file", "files") + ", " + human_size(v->size) + " (" +
                          (v->files.size() == 1 ? "sha256 " + v->files[0].sha256 : v->kind) + ")\n");
  return exit_ok;
}

int run_list(sw::registry& reg, const subcommand_args& a) {
  if (a.rest.size() > 1) return usage_error("registry list: at most one NAME", usage);
  auto versions = reg.list(a.rest.empty() ? std::nullopt : std::optional<std::string>(a.rest[0]));
  if (!versions) return fail(versions.error_value());
  if (a.parsed.has("--json")) {
    std::string out = "[";
    for (std::size_t i = 0; i < versions->size(); ++i) out += (i ? ",\n " : "") + version_json((*versions)[i], false);
    write_out(stdout, out + "]\n");
    return exit_ok;
  }
  std::vector<std::vector<std::string>> rows = {{"MODEL", "VERSION", "ALIASES", "FILES", "SIZE", "ADDED", "BY", "NOTE"}};
  for (const auto& v : *versions)
    rows.push_back({printable(v.model), printable(v.version), printable(aliases_text(v)), std::to_string(v.files.size()),
                    human_size(v.size), v.added_at, printable(v.added_by), printable(v.note.value_or(""))});
  write_out(stdout, format_table(rows, {false, false, false, true, true, false, false, false}));
  return exit_ok;
}

int run_show(sw::registry& reg, const subcommand_args& a) {
  if (a.rest.size() != 1) return usage_error("registry show: give DIR and one REF", usage);
  auto v = reg.show(a.rest[0]);
  if (!v) return fail(v.error_value());
  if (a.parsed.has("--json")) {
    write_out(stdout, version_json(*v, true) + "\n");
    return exit_ok;
  }
  std::string out = printable(v->model + "@" + v->version) + " (" + v->kind + ", " + human_size(v->size) + ")\n";
  out += "  aliases: " + printable(aliases_text(*v)) + "\n";
  out += "  added:   " + v->added_at + " by " + printable(v->added_by) + " from " + printable(v->source) + "\n";
  if (v->note) out += "  note:    " + printable(*v->note) + "\n";
  out += "  path:    " + printable(v->path) + "\n";
  for (const auto& f : v->files) {
    out += "  " + f.sha256 + "  " + uint_text(f.size) + "  " + printable(f.path) + "\n";
    if (f.metadata_json && *f.metadata_json != "{}") out += "    __metadata__: " + printable(*f.metadata_json) + "\n";
  }
  write_out(stdout, out);
  return exit_ok;
}

int print_change(const sw::result<sw::alias_change>& c) {
  if (!c) return fail(c.error_value());
  write_out(stdout, printable(c->model + "@" + c->alias) + ": " + printable(c->previous.value_or("(none)")) + " -> " +
                        printable(c->current) + "\n");
  return exit_ok;
}

int run_resolve(sw::registry& reg, const subcommand_args& a) {
  if (a.rest.size() != 1) return usage_error("registry resolve: give DIR and one REF", usage);
  auto path = reg.resolve(a.rest[0], a.parsed.has("--sizes-only") ? sw::resolve_check::sizes : sw::resolve_check::digests);
  if (!path) return fail(path.error_value());
  if (a.parsed.has("--json")) {
    auto v = reg.show(a.rest[0]);
    if (!v) return fail(v.error_value());
    std::string out = "{\"ref\": ";
    sw::append_json_string(out, a.rest[0]);
    out += ", \"model\": ";
    sw::append_json_string(out, v->model);
    out += ", \"version\": ";
    sw::append_json_string(out, v->version);
    out += ", \"kind\": ";
    sw::append_json_string(out, v->kind);
    out += ", \"path\": ";
    sw::append_json_string(out, path->string());
    out += a.parsed.has("--sizes-only") ? ", \"checked\": \"sizes\"}\n" : ", \"checked\": \"sha256\"}\n";
    write_out(stdout, out);
  } else {
    write_out(stdout, path->string() + "\n");
  }
  return exit_ok;
}

int run_verify(sw::registry& reg, const subcommand_args& a) {
  if (!a.rest.empty()) return usage_error("registry verify: DIR only", usage);
  std::optional<sw::public_key> key;
  if (auto k = a.parsed.value("--key")) {
    auto loaded = sw::public_key::load(*k);
    if (!loaded) return fail(loaded.error_value());
    key = std::move(*loaded);
  }
  auto report = reg.verify(key);
  if (!report) return fail(report.error_value());
  for (const auto& p : report->problems) print_error(printable(p.message));
  if (a.parsed.has("--json")) {
    std::string out = std::string("{\"ok\": ") + (report->ok() ? "true" : "false") +
                      ", \"versions\": " + std::to_string(report->versions) +
                      ", \"objects\": " + std::to_string(report->objects) + ", \"bytes\": " + uint_text(report->bytes) +
                      ", \"signatures\": " + std::to_string(report->signatures) + ", \"problems\": [";
    for (std::size_t i = 0; i < report->problems.size(); ++i) {
      const auto& p = report->problems[i];
      out += i ? ", {\"model\": " : "{\"model\": ";
      sw::append_json_string(out, p.model);
      out += ", \"version\": ";
      sw::append_json_string(out, p.version);
      out += ", \"path\": ";
      sw::append_json_string(out, p.path);
      out += ", \"message\": ";
      sw::append_json_string(out, p.message);
      out += "}";
    }
    out += "], \"notes\": ";
    append_strings(out, report->notes);
    write_out(stdout, out + "}\n");
  } else {
    for (const auto& note : report->notes) write_out(stdout, "note: " + printable(note) + "\n");
    write_out(stdout, std::string(report->ok() ? "ok: " : "FAILED: ") + count_text(report->versions, "version", "versions") +
                          ", " + count_text(report->objects, "stored file", "stored files") + " (" +
                          human_size(report->bytes) + ") re-hashed, " +
                          count_text(report->signatures, "signature", "signatures") + " checked" +
                          (report->ok() ? "" : "; " + count_text(report->problems.size(), "problem", "problems")) + "\n");
  }
  return report->ok() ? exit_ok : exit_invalid;
}

int run_gc(sw::registry& reg, const subcommand_args& a) {
  if (!a.rest.empty()) return usage_error("registry gc: DIR only", usage);
  auto keep_text = a.parsed.value("--keep");
  if (!keep_text) return usage_error("registry gc: --keep N is required", usage);
  std::uint64_t keep = 0;
  auto [end, ec] = std::from_chars(keep_text->data(), keep_text->data() + keep_text->size(), keep);
  if (ec != std::errc() || end != keep_text->data() + keep_text->size() || keep == 0)
    return usage_error("registry gc: --keep is a positive number, not `" + printable(*keep_text) + "`", usage);
  auto report = reg.gc(keep);
  if (!report) return fail(report.error_value());
  std::string out;
  for (const auto& v : report->removed_versions) out += "removed " + printable(v) + "\n";
  out += "gc: " + count_text(report->removed_versions.size(), "version", "versions") + ", " +
         count_text(report->removed_objects, "stored file", "stored files") + " (" + human_size(report->freed_bytes) +
         ") and " + count_text(report->removed_strays, "leftover", "leftovers") + " of interrupted adds removed\n";
  write_out(stdout, out);
  return exit_ok;
}

int run_log(sw::registry& reg, const subcommand_args& a) {
  if (!a.rest.empty()) return usage_error("registry log: DIR only", usage);
  auto entries = reg.log();
  if (!entries) return fail(entries.error_value());
  std::string out;
  if (a.parsed.has("--json")) {
    out = "[";
    for (std::size_t i = 0; i < entries->size(); ++i) {
      const auto& e = (*entries)[i];
      out += (i ? ",\n {\"id\": " : "{\"id\": ") + std::to_string(e.id) + ", \"at\": ";
      sw::append_json_string(out, e.at);
      out += ", \"user\": ";
      sw::append_json_string(out, e.user);
      out += ", \"action\": ";
      sw::append_json_string(out, e.action);
      out += ", \"model\": ";
      append_optional(out, e.model);
      out += ", \"version\": ";
      append_optional(out, e.version);
      out += ", \"detail\": ";
      sw::append_json_string(out, e.detail);
      out += "}";
    }
    out += "]\n";
  } else {
    for (const auto& e : *entries) {
      std::string what = e.model ? *e.model + (e.version ? "@" + *e.version : "") : "-";
      out += std::to_string(e.id) + "  " + e.at + "  " + printable(e.user) + "  " + e.action + "  " + printable(what) +
             "  " + printable(e.detail) + "\n";
    }
  }
  write_out(stdout, out);
  return exit_ok;
}

}  // namespace

int run_registry(args_t args) {
  parsed_args parsed = parse_args(args,
                                  {{"--name", true}, {"--version", true}, {"--note", true}, {"--link"}, {"--keep", true},
                                   {"--key", true}, {"--sizes-only"}, {"--json"}, {"--quiet"}, {"-q"}},
                                  "registry");
  if (parsed.help()) {
    write_out(stdout, std::string(usage) + std::string(help_rest));
    return exit_ok;
  }
  if (!parsed.error.empty()) return usage_error(parsed.error, usage);
  if (parsed.operands.empty()) return usage_error("registry: missing SUBCOMMAND", usage);
  const std::string sub = parsed.operands[0];
  if (parsed.operands.size() < 2) return usage_error("registry " + printable(sub) + ": missing DIR", usage);
  subcommand_args a{parsed, parsed.operands[1], {parsed.operands.begin() + 2, parsed.operands.end()}};
  // Options only the subcommands that take them accept.
  const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> allowed = {
      {"add", {"--name", "--version", "--note", "--link", "--quiet", "-q"}},
      {"list", {"--json"}},
      {"show", {"--json"}},
      {"resolve", {"--json", "--sizes-only"}},
      {"verify", {"--json", "--key"}},
      {"gc", {"--keep"}},
      {"log", {"--json"}},
      {"init", {}},
      {"alias", {}},
      {"rollback", {}},
  };
  const std::vector<std::string_view>* accepted = nullptr;
  for (const auto& [name, options] : allowed)
    if (name == sub) accepted = &options;
  if (!accepted) return usage_error("registry: unknown subcommand `" + printable(sub) + "`", usage);
  for (const auto& [option, value] : parsed.options)
    if (std::find(accepted->begin(), accepted->end(), option) == accepted->end())
      return usage_error("registry " + sub + ": option `" + std::string(option) + "` does not apply", usage);
  if (sub == "init") return run_init(a);
  auto reg = sw::registry::open(a.dir);
  if (!reg) return fail(reg.error_value());
  if (sub == "add") return run_add(*reg, a);
  if (sub == "list") return run_list(*reg, a);
  if (sub == "show") return run_show(*reg, a);
  if (sub == "resolve") return run_resolve(*reg, a);
  if (sub == "verify") return run_verify(*reg, a);
  if (sub == "gc") return run_gc(*reg, a);
  if (sub == "log") return run_log(*reg, a);
  if (a.rest.size() != 2)
    return usage_error(sub == "alias" ? "registry alias: give DIR NAME@VERSION ALIAS" : "registry rollback: give DIR NAME ALIAS", usage);
  if (sub == "alias") return print_change(reg->alias(a.rest[0], a.rest[1]));
  return print_change(reg->rollback(a.rest[0], a.rest[1]));
}

}  // namespace safeweights_cli
