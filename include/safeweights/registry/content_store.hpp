// The registry's files, stored by content: DIR/objects/sha256/<2 hex>/<62
// hex>, the SHA-256 of the bytes. A file comes in through a temporary in
// DIR/tmp (`.incoming.tmp-XXXXXX`, held under a lock while it is written, so
// gc tells one a killed process left from a live one), is hashed while it is
// copied, synced, and renamed to its object's name: an object is whole or
// absent. An object that is already there (same digest, same size) is
// reused, and the copy dropped. Copied objects are made read-only: the
// materialised model directories are hard links to them.
//
// With `link`, the object is a hard link to the source (no copy; the source
// must be on the registry's file system): the link is made first, then the
// linked inode is hashed, so what is recorded is what the object holds. The
// source then shares its bytes with the registry: writing to it in place
// changes the object, which verify and resolve then refuse.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "safeweights/integrity/file_digest.hpp"
#include "safeweights/integrity/sha256.hpp"
#include "safeweights/io/atomic_file.hpp"
#include "safeweights/io/file_handle.hpp"
#include "safeweights/io/temporary_files.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace registry_detail {

// Bytes per read while copying a file in: large reads cost fewer system
// calls; 4 MiB stays in L2/L3 between the read, the hash and the write.
inline constexpr std::size_t copy_chunk_bytes = std::size_t{4} << 20;

inline void sync_directory(const std::string& dir) noexcept {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);  // best effort: the rename it makes durable is done either way
  ::close(fd);
}

inline result<void> write_all(int fd, const std::byte* data, std::size_t n, const std::string& label) {
  while (n > 0) {
    const ssize_t wrote = ::write(fd, data, n);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return errno_error(errc::write_failed, label + ": cannot write");
    data += wrote;
    n -= static_cast<std::size_t>(wrote);
  }
  return {};
}

inline bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

class content_store {
 public:
  struct stored {
    std::string sha256;  // lowercase hex
    std::uint64_t size = 0;
    std::string object;  // its path in the store
    bool reused = false;  // the object was already there
  };

  explicit content_store(std::string root) : root_(std::move(root)) {}

  std::string objects_dir() const { return root_ + "/objects/sha256"; }
  std::string staging_dir() const { return root_ + "/tmp"; }
  std::string object_path(std::string_view sha256_hex) const {
    return objects_dir() + "/" + std::string(sha256_hex.substr(0, 2)) + "/" + std::string(sha256_hex.substr(2));
  }

  // Stores the regular file at `source` (copied, or hard-linked with `link`).
  result<stored> put(const std::string& source, bool link) const {
    return link ? put_linked(source) : put_copied(source);
  }

  // Every object on disk, as (sha256 hex, path); anything else there is left alone.
  result<std::vector<std::pair<std::string, std::string>>> objects() const {
    namespace fs = std::filesystem;
    std::vector<std::pair<std::string, std::string>> out;
    std::error_code ec;
    for (fs::directory_iterator prefix(objects_dir(), ec), end; !ec && prefix != end; prefix.increment(ec)) {
      const std::string head = prefix->path().filename().string();
      if (head.size() != 2 || !prefix->is_directory(ec)) continue;
      for (fs::directory_iterator it(prefix->path(), ec); !ec && it != end; it.increment(ec)) {
        const std::string hex = head + it->path().filename().string();
        if (is_sha256_hex(hex)) out.emplace_back(hex, it->path().string());
      }
    }
    if (ec) return make_error(errc::io_error, objects_dir() + ": cannot list the objects: " + ec.message());
    return out;
  }

 private:
  // A temporary in DIR/tmp, created and listed for the signal handlers, locked while it lives.
  struct incoming {
    std::string path;
    int fd = -1;
    listed_temporary listing;
    ~incoming() {
      if (fd >= 0) ::close(fd);
      if (!path.empty()) ::unlink(path.c_str());
    }
    void keep() {  // renamed into place: nothing to remove any more
      path.clear();
      listing.release();
    }
  };

  result<void> create_incoming(incoming& in) const {
    in.path = staging_dir() + "/" + temporary_name("incoming");
    int fd = -1;
    in.listing = listed_temporary::created(in.path, listed_temporary::kind::file, [&] {
      fd = ::mkostemp(in.path.data(), O_CLOEXEC);
      return fd >= 0;
    });
    if (fd < 0) {
      in.path.clear();
      return errno_error(errc::write_failed, staging_dir() + ": cannot create a temporary file");
    }
    in.fd = fd;
    ::flock(fd, LOCK_EX | LOCK_NB);  // marks it live for stale_temporaries()
    return {};
  }

  // Puts the finished temporary in place as the object of `hex`, or drops
  // it when that object is already there.
  result<stored> install(incoming& in, std::string hex, std::uint64_t size, bool read_only) const {
    stored s{std::move(hex), size, {}, false};
    s.object = object_path(s.sha256);
    const std::string prefix_dir = parent_dir(s.object);
    struct stat st;
    if (::stat(s.object.c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == size) {
      s.reused = true;
      return s;  // `in` removes the temporary
    }
    // Synced only when it becomes the object: a dropped copy need never reach the disk.
    if (::fsync(in.fd) != 0) return errno_error(errc::write_failed, in.path + ": cannot sync");
    if (::mkdir(prefix_dir.c_str(), 0777) != 0 && errno != EEXIST)
      return errno_error(errc::write_failed, prefix_dir + ": cannot create the directory");
    if (read_only) ::fchmod(in.fd, 0444);
    if (::rename(in.path.c_str(), s.object.c_str()) != 0)
      return errno_error(errc::write_failed, s.object + ": cannot rename the stored file into place");
    in.keep();
    sync_directory(prefix_dir);
    sync_directory(objects_dir());
    return s;
  }

  result<stored> put_copied(const std::string& source) const {
    auto file = file_handle::open_read(source);
    if (!file) return std::move(file).error_value().in(source);
    incoming in;
    if (auto c = create_incoming(in); !c) return std::move(c).error_value();
    const std::uint64_t size = file->size();
    sha256_hasher hasher;
    aligned_buffer buffer(static_cast<std::size_t>(std::min<std::uint64_t>(std::max<std::uint64_t>(size, 1), copy_chunk_bytes)));
    for (std::uint64_t at = 0; at < size;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size - at));
      if (auto r = file->read_exact(buffer.data(), n, at); !r) return std::move(r).error_value().in(source);
      hasher.update(std::span<const std::byte>(buffer.data(), n));
      if (auto w = write_all(in.fd, buffer.data(), n, in.path); !w) return std::move(w).error_value();
      at += n;
    }
    return install(in, to_hex(hasher.finish()), size, true);
  }

  result<stored> put_linked(const std::string& source) const {
    struct stat st;
    if (::stat(source.c_str(), &st) != 0) return errno_error(errc::io_error, source + ": cannot open");
    if (!S_ISREG(st.st_mode)) return make_error(errc::invalid_argument, source + ": --link takes regular files only");
    incoming in;
    std::random_device random;
    const std::string pattern = staging_dir() + "/" + temporary_name("incoming");
    for (int attempt = 0;; ++attempt) {
      static constexpr char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
      std::string name = pattern;
      for (std::size_t k = name.size() - 6; k < name.size(); ++k) name[k] = letters[random() % (sizeof letters - 1)];
      int made = -1;
      in.listing = listed_temporary::created(name, listed_temporary::kind::file, [&] {
        made = ::linkat(AT_FDCWD, source.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW);
        return made == 0;
      });
      if (made == 0) {
        in.path = std::move(name);
        break;
      }
      if (errno == EXDEV)
        return make_error(errc::invalid_argument, source + ": --link needs the file on the registry's file system (" +
                                                      root_ + "); add it without --link to copy it");
      if (errno != EEXIST || attempt == 100) return errno_error(errc::write_failed, source + ": cannot link it into the registry");
    }
    in.fd = ::open(in.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in.fd < 0) return errno_error(errc::io_error, in.path + ": cannot open");
    ::flock(in.fd, LOCK_EX | LOCK_NB);  // marks it live for stale_temporaries()
    auto digest = digest_file(in.path);  // the linked inode's bytes, whatever the source path names by now
    if (!digest) return std::move(digest).error_value();
    return install(in, to_hex(digest->sha256), digest->size, false);
  }

  std::string root_;
};

}  // namespace registry_detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
