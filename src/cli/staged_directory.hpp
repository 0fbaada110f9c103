// A directory written whole or not at all: its files go into a hidden
// temporary directory beside the target (.NAME.tmp-XXXXXX), which commit()
// renames onto the target. rename(2) takes the place of a missing or empty
// directory and refuses one with files in it, so the target is never mixed
// or half-replaced; an uncommitted staged_directory removes its temporary
// and everything in it.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include "safeweights/io/atomic_file.hpp"

namespace safeweights_cli {

namespace sw = safeweights;

class staged_directory {
 public:
  // `target` must not exist, or be an empty directory (whose mode is kept).
  static sw::result<staged_directory> create(std::string target) {
    while (target.size() > 1 && target.ends_with('/')) target.pop_back();
    const std::string base = std::filesystem::path(target).filename().string();
    if (base.empty() || base == "." || base == "..")
      return sw::make_error(sw::errc::invalid_argument,
                            target + ": name the directory itself (it is replaced as a whole), not '.' or '..'");
    std::optional<mode_t> kept_mode;
    struct stat st;
    if (::stat(target.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return sw::make_error(sw::errc::invalid_argument, target + ": exists and is not a directory");
      std::error_code ec;
      if (!std::filesystem::is_empty(target, ec) || ec)
        return sw::make_error(sw::errc::invalid_argument,
                              target +
                                  ": the directory is not empty; its files would be mixed with the new ones, "
                                  "so give a new or empty directory");
      kept_mode = st.st_mode & 07777;
    }
    staged_directory d;
    d.target_ = target;
    // atomic_file's naming (the same marker, cut to the name limit), so cleanup finds it.
    const std::string pattern = sw::parent_dir(target) + "/" + sw::temporary_name(base);
    std::random_device random;
    for (int attempt = 0; d.temp_.empty(); ++attempt) {
      static constexpr char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
      std::string name = pattern;
      for (std::size_t k = name.size() - 6; k < name.size(); ++k) name[k] = letters[random() % (sizeof letters - 1)];
      // mkdir, not mkdtemp: the umask applies as it does to any new directory.
      int made = -1;
      d.listing_ = sw::listed_temporary::created(name, sw::listed_temporary::kind::directory, [&] {
        made = ::mkdir(name.c_str(), 0777);
        return made == 0;
      });
      if (made == 0)
        d.temp_ = std::move(name);
      else if (errno != EEXIST || attempt == 100)
        return sw::errno_error(sw::errc::write_failed, target + ": cannot create a temporary directory beside it");
    }
    // Held while it lives, so `safeweights cleanup` never takes it for one a
    // killed process left; commit() syncs the directory through it.
    d.lock_ = ::open(d.temp_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d.lock_ >= 0) ::flock(d.lock_, LOCK_EX | LOCK_NB);
    if (kept_mode) ::chmod(d.temp_.c_str(), *kept_mode);
    return d;
  }

  staged_directory(staged_directory&& o) noexcept
      : target_(std::move(o.target_)),
        temp_(std::exchange(o.temp_, std::string())),
        listing_(std::move(o.listing_)),
        lock_(std::exchange(o.lock_, -1)) {}
  staged_directory& operator=(staged_directory&&) = delete;
  ~staged_directory() {
    std::error_code ec;
    if (!temp_.empty()) std::filesystem::remove_all(temp_, ec);
    listing_.release();
    if (lock_ >= 0) ::close(lock_);
  }

  // Where to write the files, and where they will be.
  const std::string& path() const noexcept { return temp_; }
  const std::string& target() const noexcept { return target_; }

  // Syncs the directory (its files must be synced already) and renames it onto the target.
  sw::result<void> commit() {
    if (lock_ < 0 || ::fsync(lock_) != 0)
      return sw::errno_error(sw::errc::write_failed, target_ + ": cannot sync the new directory");
    if (::rename(temp_.c_str(), target_.c_str()) != 0)
      return sw::errno_error(sw::errc::write_failed, target_ + ": cannot rename the new directory into place");
    temp_.clear();
    listing_.release();
    int parent = ::open(sw::parent_dir(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent >= 0) {
      ::fsync(parent);  // best effort: the rename is done either way
      ::close(parent);
    }
    return {};
  }

 private:
  staged_directory() = default;
  std::string target_, temp_;
  sw::listed_temporary listing_;  // where a signal handler finds the directory
  int lock_ = -1;                 // the directory, under flock while it is staged
};

}  // namespace safeweights_cli
