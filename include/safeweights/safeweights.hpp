// Umbrella header: the whole public API of the reader/writer, nothing else.
// (safeweights/xtensor.hpp and safeweights/integrity/*.hpp are opt-in: they
// need xtensor and OpenSSL respectively.)
#pragma once

#include "safeweights/version.hpp"
#include "safeweights/error.hpp"
#include "safeweights/format/dtype.hpp"
#include "safeweights/format/elements.hpp"
#include "safeweights/format/tensor_info.hpp"
#include "safeweights/format/read_options.hpp"
#include "safeweights/format/header_index.hpp"
#include "safeweights/format/header/parse_header.hpp"
#include "safeweights/format/tensor_rules.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/io/mapping.hpp"
#include "safeweights/io/fault_guard.hpp"
#include "safeweights/io/tensor_view.hpp"
#include "safeweights/io/loaded_tensors.hpp"
#include "safeweights/io/reader.hpp"
#include "safeweights/io/writer.hpp"
#include "safeweights/io/shard_index.hpp"
#include "safeweights/io/checkpoint.hpp"
