// `safeweights digest [--json] FILE`: SHA-256 of the whole file and of every
// tensor's bytes. One mapping serves the header and every digest, so they
// describe the same bytes; the file's digest (sequential by nature) runs on
// its own thread beside the tensors' (parallel across tensors).
#include <thread>

#include "command.hpp"
#include "input.hpp"
#include "safeweights/integrity/file_digest.hpp"
#include "safeweights/integrity/tensor_digests.hpp"
#include "safeweights/safeweights.hpp"
#include "safeweights/util/json_text.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights digest [--json] FILE";

constexpr std::string_view help =
    "usage: safeweights digest [--json] FILE\n"
    "\n"
    "Validate FILE, then print the SHA-256 of the whole file and of each\n"
    "tensor's raw bytes, in offset order:\n"
    "  FILE_SHA256  FILE\n"
    "  TENSOR_SHA256  NAME\n"
    "  ...\n"
    "\n"
    "Options:\n"
    "  --json      {\"file_size\": N, \"file_sha256\": \"...\",\n"
    "               \"tensors\": [{\"name\": \"...\", \"sha256\": \"...\"}, ...]}\n"
    "  -h, --help  show this help\n";

}  // namespace

int run_digest(args_t args) {
  command_line cl = split_args(args);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({"--json"}); !f.empty())
    return usage_error("digest: unknown option `" + printable(f) + "`", usage);
  if (cl.operands.size() != 1) return usage_error(cl.operands.empty() ? "digest: missing FILE" : "digest: one FILE only", usage);
  const std::string& path = cl.operands[0];

  sw::mapping map;
  auto r = open_input_mapped(path, map);
  if (!r) return fail(r.error_value());

  sw::file_digest whole;
  std::thread file_thread([&] { whole = sw::digest_bytes(map.bytes()); });
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());  // 0 when unknown
  const unsigned others = std::max(1u, hardware - 1);
  auto tensors = sw::digest_tensors(*r, others);
  file_thread.join();
  if (!tensors) return fail(tensors.error_value());

  std::string out;
  if (cl.has("--json")) {
    out = "{\"file_size\": ";
    sw::append_uint(out, whole.size);
    out += ", \"file_sha256\": \"" + sw::to_hex(whole.sha256) + "\", \"tensors\": [";
    for (std::size_t i = 0; i < tensors->size(); ++i) {
      out += i ? ", {\"name\": " : "{\"name\": ";
      sw::append_json_string(out, r->tensors()[i].name);
      out += ", \"sha256\": \"" + sw::to_hex((*tensors)[i]) + "\"}";
    }
    out += "]}\n";
  } else {
    out = sw::to_hex(whole.sha256) + "  " + printable(path) + "\n";
    for (std::size_t i = 0; i < tensors->size(); ++i)
      out += sw::to_hex((*tensors)[i]) + "  " + printable(r->tensors()[i].name) + "\n";
  }
  write_out(stdout, out);
  return exit_ok;
}

}  // namespace safeweights_cli
