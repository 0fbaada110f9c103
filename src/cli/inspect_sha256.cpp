// `safeweights inspect --sha256 ...`: inspect (inspect.cpp) hands over to this
// when digests are asked for.
#include <string>

#include "command.hpp"
#include "file_kind.hpp"
#include "input.hpp"
#include "inspect_output.hpp"
#include "safeweights/integrity/sha256.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

sw::result<inspect_output::digests> hash_all(const sw::reader& r, std::span<const std::byte> whole_file) {
  inspect_output::digests d;
  d.file = sw::to_hex(sw::sha256(whole_file));
  d.tensors.reserve(r.tensors().size());
  for (const sw::tensor_info& info : r.tensors()) {
    auto view = r.tensor(info);
    if (!view) return std::move(view).error_value();
    d.tensors.push_back(sw::to_hex(sw::sha256(view->bytes())));
  }
  return d;
}

}  // namespace

int run_inspect_sha256(args_t args) {
  inspect_output::inspect_args a = inspect_output::parse_inspect_args(args);
  if (a.exit) return *a.exit;
  // One mapping serves both the header parse and the hashing, so the digests
  // and the header always describe the same bytes.
  sw::mapping map;
  auto r = open_input_mapped(a.path, map);
  if (!r) {
    if (kind_of(a.path) == input_kind::shard_index)
      return fail(sw::make_error(r.code(), a.path + ": a shard index: --sha256 takes one safetensors file; "
                                                    "hash the shards one by one (`safeweights digest SHARD`)"));
    return fail(r.error_value());
  }
  auto d = hash_all(*r, map.bytes());
  if (!d) return fail(d.error_value());
  write_out(stdout, a.json ? inspect_output::to_json(*r, &*d) : inspect_output::to_table(*r, &*d));
  return exit_ok;
}

}  // namespace safeweights_cli
