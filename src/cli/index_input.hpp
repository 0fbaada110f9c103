// How `inspect`, `validate`, `stats` and `merge` open a shard index
// (model.safetensors.index.json): the library's reader (io/checkpoint.hpp)
// opens every shard it names and checks the two against each other; the
// shards are opened as open_input opens a file.
#pragma once

#include <string>

#include "safeweights/io/checkpoint.hpp"

namespace safeweights_cli {

inline safeweights::result<safeweights::checkpoint> open_index(const std::string& path,
                                                               safeweights::read_options options = {}) {
  options.shrink_safe = true;
  return safeweights::checkpoint::open_sharded(path, options);
}

}  // namespace safeweights_cli
