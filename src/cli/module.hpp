// The commands that need OpenSSL (inspect --sha256, digest, seal, sign,
// verify) or libzip (convert) live in a module, `safeweights-cli-ext.so`,
// which the CLI loads only when one of them runs: loading those libraries
// costs a process about 2.7 ms here, more than `validate` spends on a
// GPT-2-sized header.
#pragma once

#include <string_view>

#include "command.hpp"

namespace safeweights_cli {

inline constexpr const char* module_file = "safeweights-cli-ext.so";
inline constexpr const char* module_entry = "safeweights_cli_module_run";

// The module's entry point: runs `command` (one the module holds) on its arguments.
using module_run_fn = int (*)(const char* command, char* const* args, std::size_t count);

// Loads the module (once) and runs `command` in it.
int run_in_module(std::string_view command, args_t args);

}  // namespace safeweights_cli
