// Hashing a model for its manifest: walks a directory (or takes one file),
// leaves out ignored paths, and hashes every file, or every shard_size piece
// of every file, on all cores. SHA-256 is sequential within a piece, so the
// pieces are the parallelism: the "files" serialization of one huge file runs
// on one core, the "shards" one on all. Files are read with pread, never
// mapped, so a model is checked before any of it is mapped.
#pragma once

#include <atomic>
#include <filesystem>
#include <mutex>
#include <span>
#include <thread>

#include "safeweights/integrity/file_digest.hpp"
#include "safeweights/integrity/model_manifest.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/io/aligned_buffer.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// Paths model_signing leaves out of every signature unless told otherwise.
inline const std::vector<std::string>& default_ignored_paths() {
  static const std::vector<std::string> paths = {".git", ".gitattributes", ".github", ".gitignore"};
  return paths;
}

// Whether the model-relative `path` is one of `ignored` or inside one.
inline bool is_ignored_path(std::string_view path, std::span<const std::string> ignored) {
  for (const std::string& p : ignored) {
    if (p.empty() || p == ".") continue;
    if (path == p || (path.size() > p.size() && path.substr(0, p.size()) == p && path[p.size()] == '/')) return true;
  }
  return false;
}

namespace detail {

struct hash_job {
  std::string file;  // the path to open
  manifest_resource resource;
  std::uint64_t size = 0;  // of the file when it was listed
};

// Every file of the model as (path to open, model-relative path, size).
inline result<std::vector<hash_job>> list_model_files(const std::string& model_path, bool allow_symlinks,
                                                      std::span<const std::string> ignored) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<hash_job> files;
  auto refuse_symlink = [&](const fs::path& p) {
    return make_error(errc::invalid_argument, p.string() + ": is a symbolic link; model signatures do not follow "
                                                           "links unless symlinks are allowed");
  };
  const fs::path root(model_path);
  const auto root_status = fs::symlink_status(root, ec);
  if (ec) return make_error(errc::io_error, model_path + ": " + ec.message());
  if (fs::is_symlink(root_status) && !allow_symlinks) return refuse_symlink(root);
  const auto status = fs::status(root, ec);
  if (ec) return make_error(errc::io_error, model_path + ": " + ec.message());
  if (fs::is_regular_file(status)) {
    hash_job j;
    j.file = model_path;
    j.resource.path = ".";
    j.size = fs::file_size(root, ec);
    if (ec) return make_error(errc::io_error, model_path + ": " + ec.message());
    files.push_back(std::move(j));
    return files;
  }
  if (!fs::is_directory(status))
    return make_error(errc::invalid_argument, model_path + ": neither a file nor a directory");
  const auto options = allow_symlinks ? fs::directory_options::follow_directory_symlink : fs::directory_options::none;
  fs::recursive_directory_iterator it(root, options, ec), end;
  if (ec) return make_error(errc::io_error, model_path + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return make_error(errc::io_error, model_path + ": " + ec.message());
    const fs::path& p = it->path();
    const std::string rel = p.lexically_relative(root).generic_string();
    if (is_ignored_path(rel, ignored)) {
      it.disable_recursion_pending();
      continue;
    }
    const auto link_status = it->symlink_status(ec);
    if (ec) return make_error(errc::io_error, p.string() + ": " + ec.message());
    if (fs::is_symlink(link_status) && !allow_symlinks) return refuse_symlink(p);
    const auto st = it->status(ec);
    if (ec) return make_error(errc::io_error, p.string() + ": " + ec.message() + " (a broken link?)");
    if (fs::is_directory(st)) continue;
    if (!fs::is_regular_file(st))
      return make_error(errc::invalid_argument, p.string() + ": not a regular file or directory (a socket, FIFO or device)");
    hash_job j;
    j.file = p.string();
    j.resource.path = rel;
    j.size = fs::file_size(p, ec);
    if (ec) return make_error(errc::io_error, p.string() + ": " + ec.message());
    files.push_back(std::move(j));
  }
  return files;
}

// Hashes [start, end) of an open file (the whole file as it is now, for "files").
inline result<sha256_digest> hash_piece(const file_handle& f, std::uint64_t start, std::uint64_t end, aligned_buffer& buffer) {
  sha256_hasher h;
  for (std::uint64_t at = start; at < end;) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), end - at));
    if (auto r = f.read_exact(buffer.data(), n, at); !r) return std::move(r).error_value();
    h.update(std::span<const std::byte>(buffer.data(), n));
    at += n;
  }
  return h.finish();
}

}  // namespace detail

// The manifest of the model at `model_path` under serialization `s`. Ignored:
// s.ignore_paths and `also_ignored` (both model-relative). `threads` 0 uses
// every core. With `only` (model-relative paths), just those files of the
// model are hashed; one that is not there is io_error.
inline result<model_manifest> hash_model(const std::string& model_path, const model_serialization& s,
                                         std::span<const std::string> also_ignored = {}, unsigned threads = 0,
                                         std::span<const std::string> only = {}) {
  std::vector<std::string> ignored(s.ignore_paths.begin(), s.ignore_paths.end());
  ignored.insert(ignored.end(), also_ignored.begin(), also_ignored.end());
  auto files = detail::list_model_files(model_path, s.allow_symlinks, ignored);
  if (!files) return std::move(files).error_value();
  if (!only.empty()) {
    std::vector<detail::hash_job> chosen;
    for (const std::string& want : only) {
      auto it = std::find_if(files->begin(), files->end(), [&](const detail::hash_job& j) { return j.resource.path == want; });
      if (it == files->end())
        return make_error(errc::io_error, model_path + ": " + quote_name(want) +
                                              " is not a file of the model (missing, ignored, or not a regular file)");
      chosen.push_back(std::move(*it));
      files->erase(it);
    }
    *files = std::move(chosen);
  }
  std::vector<detail::hash_job> jobs;
  if (s.method == serialization_method::files) {
    jobs = std::move(*files);
  } else {
    for (auto& f : *files)
      for (std::uint64_t start = 0; start < f.size; start += std::min(s.shard_size, f.size - start)) {
        detail::hash_job j = f;
        j.resource.start = start;
        j.resource.end = start + std::min(s.shard_size, f.size - start);
        jobs.push_back(std::move(j));
      }
  }
  // Largest first, so the last piece to finish is a small one.
  std::sort(jobs.begin(), jobs.end(), [](const auto& a, const auto& b) {
    return a.resource.end - a.resource.start + a.size > b.resource.end - b.resource.start + b.size;
  });
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(jobs.size(), 1)));
  std::atomic<std::size_t> next{0};
  std::mutex failure_lock;
  std::optional<error> failure;
  auto work = [&] {
    aligned_buffer buffer(digest_chunk_bytes);
    for (std::size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      auto& j = jobs[i];
      auto f = file_handle::open_read(j.file);
      result<sha256_digest> d = f ? detail::hash_piece(*f, j.resource.start,
                                                       s.method == serialization_method::files ? f->size() : j.resource.end,
                                                       buffer)
                                  : result<sha256_digest>(std::move(f).error_value());
      if (!d) {
        std::lock_guard lock(failure_lock);
        if (!failure) failure = std::move(d).error_value().in(j.file);
        next.store(jobs.size());
        return;
      }
      j.resource.digest = *d;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: fewer do the work
    }
  }
  work();
  for (auto& t : pool) t.join();
  if (failure) return std::move(*failure);
  model_manifest m;
  m.model_name = std::filesystem::path(model_path).lexically_normal().filename().string();
  if (m.model_name.empty()) m.model_name = std::filesystem::path(model_path).lexically_normal().parent_path().filename().string();
  m.serialization = s;
  m.resources.reserve(jobs.size());
  for (auto& j : jobs) m.resources.push_back(std::move(j.resource));
  sort_resources(m.resources);
  return m;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
