// How `inspect`, `validate` and `stats` open a shard index
// (model.safetensors.index.json) they are given instead of a file: the
// library's reader (nn/checkpoint.hpp) opens every shard it names and checks
// the two against each other; the shards are opened as open_input does.
#pragma once

#include <string>

#include "safeweights/nn/checkpoint.hpp"

namespace safeweights_cli {

inline safeweights::result<safeweights::nn::checkpoint> open_index(const std::string& path,
                                                                   safeweights::read_options options = {}) {
  options.shrink_safe = true;
  return safeweights::nn::checkpoint::open_sharded(path, options);
}

}  // namespace safeweights_cli
