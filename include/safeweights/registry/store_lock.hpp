// The lock that keeps gc from sweeping what an add is still registering: an
// add stores its files (and stages its directory) before its transaction
// records them, so for that while they look unreferenced. Adds, resolves
// and verifies hold DIR/lock shared (any number at once), gc holds it
// exclusive. flock: released by the kernel when a killed process's
// descriptor closes, so a SIGKILL never leaves the registry locked.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "safeweights/io/file_handle.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace registry_detail {

class store_lock {
 public:
  enum class kind { shared, exclusive };

  static result<store_lock> take(const std::string& dir, kind k) {
    const std::string path = dir + "/lock";
    store_lock l;
    l.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (l.fd_ < 0) return errno_error(errc::registry_failed, path + ": cannot open the registry's lock");
    while (::flock(l.fd_, k == kind::shared ? LOCK_SH : LOCK_EX) != 0)
      if (errno != EINTR) return errno_error(errc::registry_failed, path + ": cannot lock the registry");
    return l;
  }

  store_lock(store_lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  store_lock& operator=(store_lock&&) = delete;
  store_lock(const store_lock&) = delete;
  ~store_lock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  store_lock() = default;
  int fd_ = -1;
};

}  // namespace registry_detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
