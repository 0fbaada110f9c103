// zip_library.hpp: dlopen of libzip by its soname, as the system's loader
// would find it for a linked program.
#include "zip_library.hpp"

#include <dlfcn.h>

#include <string>

namespace safeweights_cli {
namespace {

// The sonames libzip has had since 1.0 (Debian 12 ships libzip.so.4), newest first.
constexpr const char* sonames[] = {"libzip.so.5", "libzip.so.4"};

struct loaded {
  zip_library functions;
  std::string failure;
};

loaded load() {
  loaded out;
  void* handle = nullptr;
  for (const char* name : sonames) {
    handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle) break;
    const char* why = ::dlerror();
    out.failure += std::string("\n  ") + (why ? why : name);
  }
  if (!handle) return out;
  out.failure.clear();
  std::string missing;
#define SAFEWEIGHTS_ZIP_RESOLVE(name)                                                          \
  out.functions.name = reinterpret_cast<decltype(&::name)>(::dlsym(handle, #name));           \
  if (!out.functions.name) missing += " " #name;
  SAFEWEIGHTS_ZIP_FUNCTIONS(SAFEWEIGHTS_ZIP_RESOLVE)
#undef SAFEWEIGHTS_ZIP_RESOLVE
  if (!missing.empty()) out.failure = "\n  libzip has no" + missing;
  return out;
}

}  // namespace

safeweights::result<const zip_library*> load_zip_library(const std::string& what) {
  static const loaded library = load();
  if (!library.failure.empty())
    return safeweights::make_error(safeweights::errc::io_error,
                                   what + ": .npz archives need libzip (Debian: libzip4), which could not be loaded:" +
                                       library.failure);
  return &library.functions;
}

}  // namespace safeweights_cli
