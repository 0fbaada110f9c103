// Finds and loads the command module: beside the executable in a build tree,
// or in LIBDIR/safeweights relative to BINDIR in an install (so a staged or
// relocated install finds its own module, not another one).
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "module.hpp"

#ifndef SAFEWEIGHTS_CLI_MODULE_RELDIR
#error "meson defines SAFEWEIGHTS_CLI_MODULE_RELDIR, the module's directory relative to the executable's"
#endif

namespace safeweights_cli {
namespace {

std::string executable_dir() {
  char path[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string p(path, static_cast<std::size_t>(n));
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

}  // namespace

int run_in_module(std::string_view command, args_t args) {
  static module_run_fn run = nullptr;
  if (!run) {
    const std::string dir = executable_dir();
    std::string errors;
    void* handle = nullptr;
    for (const std::string& candidate :
         {dir + "/" + module_file, dir + "/" SAFEWEIGHTS_CLI_MODULE_RELDIR "/" + std::string(module_file)}) {
      handle = ::dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle) break;
      const char* why = ::dlerror();
      errors += "\n  " + candidate + ": " + (why ? why : "cannot load");
    }
    if (!handle) {
      print_error("`" + std::string(command) + "` needs the command module " + module_file +
                  ", which could not be loaded:" + errors);
      return exit_invalid;
    }
    run = reinterpret_cast<module_run_fn>(::dlsym(handle, module_entry));
    if (!run) {
      print_error(std::string("the command module has no entry point ") + module_entry);
      return exit_invalid;
    }
  }
  const std::string name(command);
  return run(name.c_str(), args.data(), args.size());
}

}  // namespace safeweights_cli
