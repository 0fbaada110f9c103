// `safeweights convert IN... OUT`: NumPy arrays (.npy files, .npz archives)
// to safetensors, and a safetensors file back to .npz, .npy or a directory
// of .npy files. Inputs are told apart by their first bytes, never by their
// names; pickles (torch.save, pickle, joblib, object arrays) are refused.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "command.hpp"
#include "file_kind.hpp"
#include "input.hpp"
#include "npy.hpp"
#include "npz.hpp"
#include "options.hpp"
#include "plan.hpp"
#include "staged_directory.hpp"
#include "streams.hpp"
#include "summary.hpp"

namespace safeweights_cli {
namespace {

constexpr std::string_view usage =
    "usage: safeweights convert [--dtype bf16|f16|f32] [--compress] [--quiet] IN... OUT";

constexpr std::string_view help =
    "usage: safeweights convert [--dtype bf16|f16|f32] IN.npy|IN.npz... OUT.safetensors\n"
    "       safeweights convert [--dtype bf16|f16|f32] [--compress] IN.safetensors OUT.npz\n"
    "       safeweights convert [--dtype bf16|f16|f32] IN.safetensors OUT.npy|OUTDIR/\n"
    "\n"
    "To safetensors: each .npy file becomes one tensor named after the file\n"
    "(x.npy -> x), each NAME.npy member of an .npz archive (np.savez, stored,\n"
    "or np.savez_compressed, deflated) a tensor NAME. Big-endian arrays are\n"
    "byte-swapped and Fortran-order arrays transposed to C order, so the\n"
    "tensors hold what np.load gives. Refused, saying why: object arrays and\n"
    "anything else that needs pickle (torch.save checkpoints, pickle and\n"
    "joblib files), and dtypes safetensors lacks (strings, records, datetimes,\n"
    "complex128, long double). A truncated or damaged file is an error.\n"
    "\n"
    "From safetensors: to an .npz archive (members NAME.npy, stored as np.savez\n"
    "does, or deflated with --compress as np.savez_compressed does), to one\n"
    ".npy file (IN must hold one tensor), or to a directory (OUT ends in '/' or\n"
    "is one) of NAME.npy files. The directory must be new or empty: it is\n"
    "written as .NAME.tmp-XXXXXX beside it and renamed into place at the end,\n"
    "so it appears whole or not at all; one holding files is refused rather\n"
    "than mixed with the new arrays. NumPy has no BF16, F8_* or packed F4/F6\n"
    "dtype: such tensors need --dtype (or are an error). Metadata is not\n"
    "carried: NumPy files have no place for it, so a warning on stderr says\n"
    "how many __metadata__ keys were dropped (none when IN has none).\n"
    "\n"
    "Every output is written atomically; on error nothing is left behind.\n"
    "The .npy preambles are written by xtensor's xnpy; archives by libzip.\n"
    "Then one line on stdout: `wrote OUT: N tensors|arrays|.npy files, SIZE`,\n"
    "with the casts --dtype made (`(K cast F64 -> F32)`).\n"
    "\n"
    "Options:\n"
    "  --dtype T   convert float tensors to T (bf16, f16, f32) on the way\n"
    "  --compress  deflate the .npz members (np.savez_compressed)\n"
    "  -q, --quiet no summary line, no warning about dropped metadata\n"
    "  -h, --help  show this help\n";

enum class output_kind { safetensors, npz, npy, npy_dir };

sw::error refused(const std::string& where, std::string why) {
  return sw::make_error(sw::errc::invalid_argument, where + ": " + why);
}

// The first bytes of a file, to tell what it is (file_kind.hpp).
sw::result<std::vector<std::byte>> first_bytes(const std::string& path, std::uint64_t& size) {
  auto f = sw::file_handle::open_read(path);
  if (!f) return explain_input(std::move(f).error_value().in(path), path);
  size = f->size();
  std::vector<std::byte> b(static_cast<std::size_t>(std::min<std::uint64_t>(f->size(), kind_prefix_bytes)));
  if (auto r = f->read_exact(b.data(), b.size(), 0); !r) return std::move(r).error_value().in(path);
  return b;
}

// C order and Fortran order are the same bytes when at most one dimension exceeds 1.
bool needs_transpose(const npy_array& a) {
  std::size_t big = 0;
  for (std::uint64_t d : a.shape) big += d > 1;
  return a.fortran_order && big > 1;
}

// What arrays must meet to be stored: the data size the header promises.
sw::result<void> check_data_size(const npy_array& a, std::uint64_t have, const std::string& where) {
  std::uint64_t want = a.data_offset + a.data_bytes;
  if (have < want)
    return sw::make_error(sw::errc::data_truncated, where + ": truncated: the header promises " +
                                                        std::to_string(a.data_bytes) + " bytes of data, there are " +
                                                        std::to_string(have - std::min(have, a.data_offset)));
  if (have > want)
    return sw::make_error(sw::errc::trailing_bytes,
                          where + ": " + std::to_string(have - want) + " bytes follow the array's data");
  return {};
}

// An input array on its way to the writer: C order, little-endian, cast.
struct incoming {
  std::string name;
  npy_array array;
  sw::dtype out_type;
  sw::chunk_source bytes;
};

sw::chunk_source finish(sw::chunk_source raw, const npy_array& a, sw::dtype out_type) {
  if (a.swap_width) raw = byteswap_source(std::move(raw), a.swap_width);
  if (out_type != a.type) raw = cast_source(std::move(raw), a.type, out_type, a.elements);
  return raw;
}

sw::dtype target_of(sw::dtype t, std::optional<sw::dtype> cast) {
  return cast && is_castable_float(t) ? *cast : t;
}

// Keeps `owner` alive as long as the source.
template <class Owner>
sw::chunk_source holding(std::shared_ptr<Owner> owner, sw::chunk_source inner) {
  return [owner = std::move(owner), inner = std::move(inner)](std::span<std::byte> dst) mutable { return inner(dst); };
}

sw::chunk_source counting(sw::chunk_source inner, progress* bar) {
  return [inner = std::move(inner), bar](std::span<std::byte> dst) mutable {
    std::size_t n = inner(dst);
    bar->add(n);
    return n;
  };
}

std::string stem_of(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  if (name.size() > 4 && name.ends_with(".npy")) name.resize(name.size() - 4);
  return name;
}

sw::result<void> add_npy_file(const std::string& path, std::optional<sw::dtype> cast, progress& bar,
                              std::vector<incoming>& out) {
  struct mapped {
    sw::file_handle file;
    sw::mapping map;
  };
  auto m = std::make_shared<mapped>();
  auto file = sw::file_handle::open_read(path);
  if (!file) return std::move(file).error_value().in(path);
  m->file = std::move(*file);
  auto map = sw::mapping::map(m->file);
  if (!map) return std::move(map).error_value().in(path);
  m->map = std::move(*map);
  std::span<const std::byte> bytes = m->map.bytes();
  auto size = npy_preamble_size(bytes.first(std::min(bytes.size(), npy_prefix_bytes)));
  if (!size) return std::move(size).error_value().in(path);
  if (*size > bytes.size()) return sw::make_error(sw::errc::data_truncated, path + ": truncated inside the .npy header");
  auto a = parse_npy_preamble(bytes.first(static_cast<std::size_t>(*size)));
  if (!a) return std::move(a).error_value().in(path);
  if (auto ok = check_data_size(*a, bytes.size(), path); !ok) return ok;
  auto data = bytes.subspan(static_cast<std::size_t>(a->data_offset));
  sw::chunk_source raw = needs_transpose(*a) ? fortran_to_c_source(data, a->shape, sw::byte_width(a->type), &bar)
                                             : span_source(data, &bar);
  sw::dtype out_type = target_of(a->type, cast);
  out.push_back({stem_of(path), *a, out_type, holding(m, finish(std::move(raw), *a, out_type))});
  return {};
}

sw::result<void> add_npz_file(const std::string& path, std::optional<sw::dtype> cast, progress& bar,
                              const std::shared_ptr<std::string>& failure, std::vector<incoming>& out) {
  auto archive = npz_reader::open(path);
  if (!archive) return std::move(archive).error_value();
  for (const npz_reader::member& m : archive->members())
    if (m.name == "data.pkl" || m.name.ends_with("/data.pkl")) return refused(path, torch_refusal);
  for (const npz_reader::member& m : archive->members()) {
    const std::string where = path + ": member " + sw::quote_name(m.name);
    if (!m.name.ends_with(".npy"))
      return refused(where, "is not a .npy array (np.savez writes only NAME.npy members)");
    auto first = archive->read_prefix(m, static_cast<std::size_t>(std::min<std::uint64_t>(m.size, npy_prefix_bytes)));
    if (!first) return std::move(first).error_value();
    auto size = npy_preamble_size(*first);
    if (!size) return std::move(size).error_value().in(where);
    if (*size > m.size) return sw::make_error(sw::errc::data_truncated, where + ": truncated inside the .npy header");
    auto preamble = archive->read_prefix(m, static_cast<std::size_t>(*size));
    if (!preamble) return std::move(preamble).error_value();
    auto a = parse_npy_preamble(*preamble);
    if (!a) return std::move(a).error_value().in(where);
    if (auto ok = check_data_size(*a, m.size, where); !ok) return ok;
    sw::chunk_source raw;
    if (needs_transpose(*a)) {
      // A column-major member has to be in memory whole to be reordered.
      std::uint64_t limit = static_cast<std::uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                            static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / 2;
      if (m.size > limit)
        return refused(where, "a Fortran-order array of " + std::to_string(m.size) +
                                  " bytes, more than half of this machine's memory, would have to be reordered in memory");
      auto whole = archive->read_prefix(m, static_cast<std::size_t>(m.size));
      if (!whole) return std::move(whole).error_value();
      auto held = std::make_shared<std::vector<std::byte>>(std::move(*whole));
      auto data = std::span<const std::byte>(*held).subspan(static_cast<std::size_t>(a->data_offset));
      raw = holding(held, fortran_to_c_source(data, a->shape, sw::byte_width(a->type), &bar));
    } else {
      raw = counting(archive->stream(m, a->data_offset, failure), &bar);
    }
    sw::dtype out_type = target_of(a->type, cast);
    out.push_back({m.name.substr(0, m.name.size() - 4), *a, out_type, finish(std::move(raw), *a, out_type)});
  }
  return {};
}

int to_safetensors(const std::vector<std::string>& inputs, const std::string& out, std::optional<sw::dtype> cast,
                   bool quiet) {
  // The data sizes first, for the progress bar; everything is checked before OUT is touched.
  std::vector<input_kind> kinds;
  for (const std::string& in : inputs) {
    std::uint64_t size = 0;
    auto head = first_bytes(in, size);
    if (!head) return fail(head.error_value());
    input_kind kind = kind_of_prefix(*head, size);
    if (kind == input_kind::pickle || kind == input_kind::torch_zip) return fail(refused(in, describe_input(kind, in)));
    if (kind != input_kind::npy && kind != input_kind::npz && kind != input_kind::zip) {
      if (open_input(in, {.mode = sw::io_mode::pread}))
        return fail(refused(in, "already safetensors; `safeweights cast` changes dtypes, `repack` rewrites"));
      std::string why = describe_input(kind, in);
      return fail(refused(in, why.empty() ? "neither a .npy array nor an .npz archive (it starts with neither "
                                            "\"\\x93NUMPY\" nor \"PK\")"
                                          : why));
    }
    kinds.push_back(kind);
  }
  std::uint64_t total = 0;
  for (const std::string& in : inputs) {
    std::error_code ec;
    total += std::filesystem::file_size(in, ec);
  }
  progress bar("converting to " + printable(out), total);
  auto failure = std::make_shared<std::string>();
  std::vector<incoming> arrays;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    auto added = kinds[i] == input_kind::npy ? add_npy_file(inputs[i], cast, bar, arrays)
                                         : add_npz_file(inputs[i], cast, bar, failure, arrays);
    if (!added) return fail(added.error_value());
  }
  sw::writer w;
  cast_counter casts;
  for (const incoming& t : arrays) casts.add(t.array.type, t.out_type);
  for (incoming& t : arrays)
    if (auto added = w.add_stream(t.name, t.out_type, t.array.shape, std::move(t.bytes)); !added)
      return fail(std::move(added).error_value().in(out));
  auto written = w.write_file(out);
  bar.finish();
  if (!written) {
    if (!failure->empty()) return fail(sw::make_error(sw::errc::invalid_argument, *failure));
    return fail(written.error_value());
  }
  report_written(quiet, out, tensors_written(arrays.size(), out) + casts.note());
  return exit_ok;
}

// ------------------------------------------------------------ from safetensors

// Each tensor's NumPy dtype, checked for every tensor before anything is written.
sw::result<std::vector<sw::dtype>> numpy_types(const sw::reader& r, std::optional<sw::dtype> cast) {
  std::vector<sw::dtype> types;
  for (const sw::tensor_info& t : r.tensors()) {
    sw::dtype out = target_of(t.type, cast);
    if (!npy_descr(out)) {
      std::string what = "tensor " + sw::quote_name(t.name) + " is " + std::string(sw::dtype_name(t.type)) +
                         ", which NumPy has no dtype for";
      what += is_packed(t.type) ? " (a packed type nothing here unpacks)" : "; add --dtype f32 (or f16) to convert it";
      return refused(r.source(), what);
    }
    types.push_back(out);
  }
  return types;
}

// A whole .npy file's bytes: the preamble, then the (cast) tensor data.
sw::chunk_source npy_bytes(const sw::tensor_view& view, sw::dtype out_type, progress* bar) {
  auto preamble = std::make_shared<std::string>(npy_preamble(out_type, view.shape()));
  sw::chunk_source data = span_source(view.bytes(), bar);
  if (out_type != view.type()) data = cast_source(std::move(data), view.type(), out_type, view.elements());
  return [preamble, at = std::size_t{0}, data = std::move(data)](std::span<std::byte> dst) mutable -> std::size_t {
    if (at < preamble->size()) {
      std::size_t n = std::min(dst.size(), preamble->size() - at);
      std::memcpy(dst.data(), preamble->data() + at, n);
      at += n;
      return n;
    }
    return data(dst);
  };
}

std::uint64_t npy_file_size(const sw::tensor_view& view, sw::dtype out_type) {
  return npy_preamble(out_type, view.shape()).size() + view.elements() * sw::byte_width(out_type);
}

// A whole .npy file (preamble, then data) written to `fd`; `where` names it in errors.
sw::result<void> write_npy_bytes(int fd, const std::string& where, const sw::tensor_view& view, sw::dtype out_type,
                                 progress* bar) {
  sw::fd_sink sink(fd);
  sw::chunk_source bytes = npy_bytes(view, out_type, bar);
  std::vector<std::byte> chunk(std::size_t{4} << 20);
  for (std::uint64_t left = npy_file_size(view, out_type); left > 0;) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
    std::size_t got = bytes(std::span(chunk.data(), want));
    if (got == 0) return sw::make_error(sw::errc::stream_failed, where + ": the tensor's bytes ended early");
    if (auto r = sink.write(std::span(chunk.data(), got)); !r) return std::move(r).error_value().in(where);
    left -= got;
  }
  if (auto r = sink.flush(); !r) return std::move(r).error_value().in(where);
  return {};
}

sw::result<void> write_npy_file(const std::string& path, const sw::tensor_view& view, sw::dtype out_type,
                                progress* bar) {
  auto file = sw::atomic_file::create(path);
  if (!file) return std::move(file).error_value();
  if (auto w = write_npy_bytes(file->fd(), path, view, out_type, bar); !w) return w;
  return file->commit();
}

// NAME.npy in a staged directory (no temporary of its own: the directory is
// one, and a temporary's longer name could pass NAME_MAX). Errors name the
// tensor, quoted, and the directory the user gave.
sw::result<void> write_npy_into(const staged_directory& dir, const sw::tensor_view& view, sw::dtype out_type,
                                progress* bar) {
  const std::string where = dir.target() + ": tensor " + sw::quote_name(view.name());
  const std::string path = dir.path() + "/" + std::string(view.name()) + ".npy";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return sw::errno_error(sw::errc::write_failed, where + ": cannot create its .npy file");
  sw::file_handle closes(fd);
  if (auto w = write_npy_bytes(fd, where, view, out_type, bar); !w) return w;
  if (::fsync(fd) != 0) return sw::errno_error(sw::errc::write_failed, where + ": cannot sync its .npy file");
  return {};
}

// Names that would make unzip tools write outside their directory are refused.
// Windows tools also split names at a backslash and take "C:" as a drive, so
// a backslash counts as a separator here; a name like `a\b` (a directory at
// worst, as `a/b` is) stays allowed.
bool safe_member_name(std::string_view name) {
  if (name.find('\0') != std::string_view::npos || name.starts_with('/') || name.starts_with('\\')) return false;
  if (name.size() >= 2 && name[1] == ':' && ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
    return false;
  for (std::size_t start = 0;;) {
    std::size_t slash = name.find_first_of("/\\", start);
    if (name.substr(start, slash - start) == "..") return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

int from_safetensors(const std::string& in, const std::string& out, output_kind kind, std::optional<sw::dtype> cast,
                     bool compress, bool quiet) {
  auto r = open_input(in);
  if (!r) {
    input_kind kind = kind_of(in);
    if (kind == input_kind::npy || kind == input_kind::npz || kind == input_kind::zip)
      return fail(refused(in, "NumPy already; to make safetensors, give an OUT ending in .safetensors"));
    return fail(r.error_value());
  }
  auto types = numpy_types(*r, cast);
  if (!types) return fail(types.error_value());
  const auto tensors = r->tensors();
  progress bar("converting " + printable(in), r->index().data_size());
  // After a successful write: the metadata NumPy could not take, then the summary.
  auto done = [&](std::string_view one, std::string_view many) {
    bar.finish();
    if (const std::size_t keys = r->metadata().size(); keys != 0)
      warn_unless_quiet(quiet, printable(in) + ": its __metadata__ (" + count_text(keys, "key", "keys") +
                                   ") is dropped: NumPy files have no place for it");
    cast_counter casts;
    for (std::size_t i = 0; i < tensors.size(); ++i) casts.add(tensors[i].type, (*types)[i]);
    report_written(quiet, out, tensors_written(tensors.size(), out, one, many) + casts.note());
    return exit_ok;
  };

  if (kind == output_kind::npy) {
    if (tensors.size() != 1)
      return fail(refused(in, "holds " + std::to_string(tensors.size()) +
                                  " tensors and a .npy file holds one: give an .npz or a directory as OUT"));
    auto view = r->tensor(tensors[0]);
    if (!view) return fail(view.error_value());
    if (auto w = write_npy_file(out, *view, (*types)[0], &bar); !w) return fail(w.error_value());
    return done("array", "arrays");
  }
  if (kind == output_kind::npy_dir) {
    for (const sw::tensor_info& t : tensors)
      if (t.name.find('/') != std::string_view::npos || t.name.find('\0') != std::string_view::npos)
        return fail(refused(in, "tensor " + sw::quote_name(t.name) +
                                    " cannot be a file name (it holds '/' or NUL): convert to an .npz instead"));
    auto dir = staged_directory::create(out);
    if (!dir) return fail(dir.error_value());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      auto view = r->tensor(tensors[i]);
      if (!view) return fail(view.error_value());
      if (auto w = write_npy_into(*dir, *view, (*types)[i], &bar); !w) return fail(w.error_value());
    }
    if (auto c = dir->commit(); !c) return fail(c.error_value());
    return done(".npy file", ".npy files");
  }
  for (const sw::tensor_info& t : tensors)
    if (!safe_member_name(t.name))
      return fail(refused(in, "tensor " + sw::quote_name(t.name) +
                                  " would be an archive member that escapes its directory (NUL, a leading '/', '\\' or "
                                  "drive letter, or a '..' between separators)"));
  auto archive = npz_writer::create(out, compress);
  if (!archive) return fail(archive.error_value());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    auto view = r->tensor(tensors[i]);
    if (!view) return fail(view.error_value());
    sw::dtype type = (*types)[i];
    auto added = archive->add(std::string(tensors[i].name) + ".npy", npy_file_size(*view, type),
                              [v = *view, type, b = &bar] { return npy_bytes(v, type, b); });
    if (!added) return fail(added.error_value());
  }
  if (auto w = archive->commit(); !w) return fail(w.error_value());
  return done("array", "arrays");
}

}  // namespace

int run_convert(args_t args) {
  parsed_args a = parse_args(args, {{"--dtype", true}, {"--compress", false}, {quiet_flag, false}, {quiet_short_flag, false}},
                             "convert");
  if (a.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!a.error.empty()) return usage_error(a.error, usage);
  std::optional<sw::dtype> cast;
  if (auto text = a.value("--dtype")) {
    cast = parse_cast_dtype(*text);
    if (!cast) return usage_error("convert: --dtype must be bf16, f16 or f32, not `" + printable(*text) + "`", usage);
  }
  if (a.operands.size() < 2) return usage_error("convert: needs IN and OUT", usage);
  std::vector<std::string> inputs(a.operands.begin(), a.operands.end() - 1);
  const std::string& out = a.operands.back();

  output_kind kind;
  std::error_code ec;
  if (out.ends_with(".safetensors")) kind = output_kind::safetensors;
  else if (out.ends_with(".npz")) kind = output_kind::npz;
  else if (out.ends_with(".npy")) kind = output_kind::npy;
  else if (out.ends_with('/') || std::filesystem::is_directory(out, ec)) kind = output_kind::npy_dir;
  else return usage_error("convert: OUT must end in .safetensors, .npz or .npy, or be a directory", usage);

  if (a.has("--compress") && kind != output_kind::npz)
    return usage_error("convert: --compress applies to an .npz OUT only", usage);
  if (kind == output_kind::safetensors) return to_safetensors(inputs, out, cast, quiet_requested(a));
  if (cast == sw::dtype::BF16)
    return usage_error("convert: NumPy has no bf16 dtype: --dtype f16 or f32 for a NumPy OUT", usage);
  if (inputs.size() != 1) return usage_error("convert: one safetensors IN to convert to NumPy", usage);
  return from_safetensors(inputs[0], out, kind, cast, a.has("--compress"), quiet_requested(a));
}

}  // namespace safeweights_cli
