// .npz through libzip (loaded on first use: zip_library.hpp). Reading opens the archive with ZIP_CHECKCONS and
// streams members through zip_fread, which checks each CRC at the end.
// Writing goes through libzip source callbacks: each member's bytes are made
// as libzip asks for them, and the archive is written into a safeweights
// atomic_file (libzip's own file output would skip the fsync and name its
// own temporary), committed only when zip_close has succeeded.
#include "npz.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "safeweights/io/atomic_file.hpp"
#include "zip_library.hpp"

namespace safeweights_cli {
namespace {

// Entries get a fixed time (1980-01-02, the DOS epoch plus a day so no time
// zone moves it before 1980): the same input gives the same bytes.
constexpr time_t fixed_mtime = 315619200;

// Every function below runs after npz_reader::open or npz_writer::create has
// loaded the library.
const zip_library& lib() { return *load_zip_library({}).value(); }

// libzip's ZIP_SOURCE_GET_ARGS, which would call zip_error_set directly.
template <class T>
T* source_args(void* data, zip_uint64_t len, zip_error_t* error) {
  if (len < sizeof(T)) {
    lib().zip_error_set(error, ZIP_ER_INVAL, 0);
    return nullptr;
  }
  return static_cast<T*>(data);
}

std::string zip_message(int code) {
  zip_error_t e;
  lib().zip_error_init_with_code(&e, code);
  std::string m = lib().zip_error_strerror(&e);
  lib().zip_error_fini(&e);
  if (!m.empty() && m[0] >= 'A' && m[0] <= 'Z') m[0] = static_cast<char>(m[0] - 'A' + 'a');  // our style
  return m;
}

zip_t* archive_of(const std::shared_ptr<void>& p) { return static_cast<zip_t*>(p.get()); }

}  // namespace

// ------------------------------------------------------------------ reading

std::optional<std::uint64_t> npz_reader::most_bytes(std::uint16_t method, std::uint64_t packed) {
  constexpr std::uint64_t deflate_ratio = 1032;
  if (method == ZIP_CM_STORE) return packed;
  if (method == ZIP_CM_DEFLATE)
    return packed > UINT64_MAX / deflate_ratio ? UINT64_MAX : packed * deflate_ratio;
  return std::nullopt;
}

sw::result<npz_reader> npz_reader::open(const std::string& path) {
  if (auto loaded = load_zip_library(path); !loaded) return std::move(loaded).error_value();
  int code = 0;
  zip_t* za = lib().zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!za) {
    std::string why = zip_message(code);
    if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS)
      return sw::make_error(sw::errc::data_truncated,
                            path + ": not a readable .npz: truncated or damaged zip archive (" + why + ")");
    return sw::make_error(sw::errc::io_error, path + ": cannot open as a zip archive: " + why);
  }
  npz_reader r;
  r.path_ = path;
  r.archive_ = std::shared_ptr<void>(za, [](void* p) { lib().zip_discard(static_cast<zip_t*>(p)); });
  zip_int64_t n = lib().zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    lib().zip_stat_init(&st);
    constexpr zip_uint64_t needed = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
    if (lib().zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &st) != 0 || (st.valid & needed) != needed)
      return sw::make_error(sw::errc::invalid_argument,
                            path + ": zip entry " + std::to_string(i) + " cannot be read: " + lib().zip_strerror(za));
    member m{st.name, static_cast<std::uint64_t>(i), st.size, st.comp_size, st.comp_method};
    if (auto most = most_bytes(m.method, m.packed); most && m.size > *most)
      return sw::make_error(
          sw::errc::data_truncated,
          path + ": member " + sw::quote_name(m.name) + ": the zip directory says it holds " +
              std::to_string(m.size) + " bytes, but its " + std::to_string(m.packed) +
              (m.method == ZIP_CM_STORE ? " bytes are stored uncompressed"
                                        : " deflated bytes inflate to at most " + std::to_string(*most)) +
              " (a damaged or hostile archive)");
    r.members_.push_back(std::move(m));
  }
  return r;
}

sw::result<std::vector<std::byte>> npz_reader::read_prefix(const member& m, std::size_t n) const {
  zip_file_t* f = lib().zip_fopen_index(archive_of(archive_), m.index, 0);
  if (!f)
    return sw::make_error(sw::errc::io_error, path_ + ": member " + sw::quote_name(m.name) + ": " +
                                                  lib().zip_strerror(archive_of(archive_)));
  // Room at first for what the member can hold, but for no more than a 4:1
  // inflation (weights rarely deflate better) or 64 MiB: a deflated member may
  // claim up to 1032 times its packed size, so past that room grows only as
  // bytes arrive, and a lie costs at most twice what really came.
  std::optional<std::uint64_t> most = most_bytes(m.method, m.packed);
  const std::uint64_t plausible =
      std::max<std::uint64_t>(std::uint64_t{64} << 20, 4 * std::min<std::uint64_t>(m.packed, UINT64_MAX / 4));
  std::vector<std::byte> out(
      static_cast<std::size_t>(std::min<std::uint64_t>({n, most ? *most : m.packed, plausible})));
  std::size_t got = 0;
  std::string failure;
  while (got < n) {
    if (got == out.size()) out.resize(std::min(n, std::max<std::size_t>(2 * out.size(), 4096)));
    zip_int64_t k = lib().zip_fread(f, out.data() + got, out.size() - got);
    if (k < 0) failure = lib().zip_error_strerror(lib().zip_file_get_error(f));
    if (k <= 0) break;
    got += static_cast<std::size_t>(k);
  }
  lib().zip_fclose(f);
  out.resize(got);
  if (!failure.empty())
    return sw::make_error(sw::errc::invalid_argument,
                          path_ + ": member " + sw::quote_name(m.name) + ": " + failure);
  if (got < n)
    return sw::make_error(sw::errc::data_truncated,
                          path_ + ": member " + sw::quote_name(m.name) + " ends after " + std::to_string(got) +
                              " bytes");
  return out;
}

sw::chunk_source npz_reader::stream(const member& m, std::uint64_t skip, std::shared_ptr<std::string> failure) const {
  struct state {
    std::shared_ptr<void> archive;
    std::string where;
    member m;
    std::uint64_t skip = 0, left = 0;
    zip_file_t* file = nullptr;
    std::shared_ptr<std::string> failure;
    ~state() {
      if (file) lib().zip_fclose(file);
    }
    std::size_t fail(std::string why) {
      *failure = where + ": " + why;
      return 0;
    }
  };
  auto s = std::make_shared<state>();
  s->archive = archive_;
  s->where = path_ + ": member " + sw::quote_name(m.name);
  s->m = m;
  s->skip = skip;
  s->left = m.size - skip;
  s->failure = std::move(failure);
  return [s](std::span<std::byte> dst) -> std::size_t {
    zip_t* za = archive_of(s->archive);
    if (!s->file) {
      s->file = lib().zip_fopen_index(za, s->m.index, 0);
      if (!s->file) return s->fail(lib().zip_strerror(za));
      std::byte scratch[4096];
      while (s->skip > 0) {
        zip_int64_t k = lib().zip_fread(s->file, scratch, std::min<std::uint64_t>(s->skip, sizeof scratch));
        if (k <= 0) return s->fail(k < 0 ? lib().zip_error_strerror(lib().zip_file_get_error(s->file)) : "ends early");
        s->skip -= static_cast<std::uint64_t>(k);
      }
    }
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(dst.size(), s->left));
    if (want == 0) return 0;
    zip_int64_t k = lib().zip_fread(s->file, dst.data(), want);
    if (k < 0) return s->fail(lib().zip_error_strerror(lib().zip_file_get_error(s->file)));
    if (k == 0) return s->fail("ends " + std::to_string(s->left) + " bytes early (truncated)");
    s->left -= static_cast<std::uint64_t>(k);
    if (s->left == 0) {
      // Read past the end: libzip checks the CRC there, and nothing may follow.
      std::byte extra;
      zip_int64_t e = lib().zip_fread(s->file, &extra, 1);
      if (e < 0) return s->fail(lib().zip_error_strerror(lib().zip_file_get_error(s->file)));
      if (e > 0) return s->fail("holds more bytes than its directory entry says");
    }
    return static_cast<std::size_t>(k);
  };
}

// ------------------------------------------------------------------ writing

namespace {

// The archive's destination: the atomic_file's descriptor. libzip asks
// whether an archive exists (it does not: start empty), then writes.
struct target {
  int fd = -1;
  zip_error_t error;
};

zip_int64_t target_callback(void* userdata, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
  auto* t = static_cast<target*>(userdata);
  switch (cmd) {
    case ZIP_SOURCE_SUPPORTS:
      return ZIP_SOURCE_SUPPORTS_WRITABLE;
    case ZIP_SOURCE_STAT:
      lib().zip_error_set(&t->error, ZIP_ER_READ, ENOENT);
      return -1;
    case ZIP_SOURCE_ERROR:
      return lib().zip_error_to_data(&t->error, data, len);
    case ZIP_SOURCE_WRITE: {
      const char* p = static_cast<const char*>(data);
      zip_uint64_t left = len;
      while (left > 0) {
        ssize_t w = ::write(t->fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          lib().zip_error_set(&t->error, ZIP_ER_WRITE, errno);
          return -1;
        }
        p += w;
        left -= static_cast<zip_uint64_t>(w);
      }
      return static_cast<zip_int64_t>(len);
    }
    case ZIP_SOURCE_SEEK_WRITE: {
      auto* args = source_args<zip_source_args_seek_t>(data, len, &t->error);
      if (!args) return -1;
      if (::lseek(t->fd, static_cast<off_t>(args->offset), args->whence) < 0) {
        lib().zip_error_set(&t->error, ZIP_ER_SEEK, errno);
        return -1;
      }
      return 0;
    }
    case ZIP_SOURCE_TELL_WRITE: {
      off_t at = ::lseek(t->fd, 0, SEEK_CUR);
      if (at < 0) {
        lib().zip_error_set(&t->error, ZIP_ER_TELL, errno);
        return -1;
      }
      return static_cast<zip_int64_t>(at);
    }
    case ZIP_SOURCE_BEGIN_WRITE:
    case ZIP_SOURCE_COMMIT_WRITE:    // the atomic_file commits once zip_close is done
    case ZIP_SOURCE_ROLLBACK_WRITE:  // the atomic_file's temporary is dropped
    case ZIP_SOURCE_REMOVE:
    case ZIP_SOURCE_OPEN:
    case ZIP_SOURCE_READ:
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_SEEK:
    case ZIP_SOURCE_TELL:
    case ZIP_SOURCE_FREE:
      return 0;
    default:
      lib().zip_error_set(&t->error, ZIP_ER_OPNOTSUPP, 0);
      return -1;
  }
}

// One member's bytes, made by its producer each time libzip opens it.
struct member_source {
  std::uint64_t size = 0, done = 0;
  npz_writer::producer make;
  sw::chunk_source current;
  zip_error_t error;
};

zip_int64_t member_callback(void* userdata, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
  auto* m = static_cast<member_source*>(userdata);
  switch (cmd) {
    case ZIP_SOURCE_SUPPORTS:
      return lib().zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                            ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    case ZIP_SOURCE_OPEN:
      m->current = m->make();
      m->done = 0;
      return 0;
    case ZIP_SOURCE_READ: {
      std::uint64_t want = std::min<std::uint64_t>(len, m->size - m->done);
      if (want == 0) return 0;
      std::size_t got = m->current(std::span(static_cast<std::byte*>(data), static_cast<std::size_t>(want)));
      if (got == 0 || got > want) {
        lib().zip_error_set(&m->error, ZIP_ER_READ, EIO);
        return -1;
      }
      m->done += got;
      return static_cast<zip_int64_t>(got);
    }
    case ZIP_SOURCE_CLOSE:
      m->current = nullptr;
      return 0;
    case ZIP_SOURCE_STAT: {
      auto* st = source_args<zip_stat_t>(data, len, &m->error);
      if (!st) return -1;
      lib().zip_stat_init(st);
      st->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
      st->size = m->size;
      st->mtime = fixed_mtime;
      return sizeof(zip_stat_t);
    }
    case ZIP_SOURCE_ERROR:
      return lib().zip_error_to_data(&m->error, data, len);
    case ZIP_SOURCE_FREE:
      lib().zip_error_fini(&m->error);
      delete m;
      return 0;
    default:
      lib().zip_error_set(&m->error, ZIP_ER_OPNOTSUPP, 0);
      return -1;
  }
}

}  // namespace

struct npz_writer::impl {
  explicit impl(sw::atomic_file f) : file(std::move(f)) { lib().zip_error_init(&out.error); }
  ~impl() {
    if (archive) lib().zip_discard(archive);
    lib().zip_error_fini(&out.error);
  }
  sw::atomic_file file;
  target out;
  zip_t* archive = nullptr;
  std::string path;
  bool compress = false;
  std::size_t count = 0;
};

npz_writer::npz_writer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
npz_writer::npz_writer(npz_writer&&) noexcept = default;
npz_writer::~npz_writer() = default;

sw::result<npz_writer> npz_writer::create(const std::string& path, bool compress) {
  if (auto loaded = load_zip_library(path); !loaded) return std::move(loaded).error_value();
  auto file = sw::atomic_file::create(path);
  if (!file) return std::move(file).error_value();
  auto p = std::make_unique<impl>(std::move(*file));
  p->path = path;
  p->compress = compress;
  p->out.fd = p->file.fd();
  zip_error_t error;
  lib().zip_error_init(&error);
  zip_source_t* src = lib().zip_source_function_create(target_callback, &p->out, &error);
  if (src) p->archive = lib().zip_open_from_source(src, ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (!p->archive) {
    std::string why = lib().zip_error_strerror(&error);
    if (src) lib().zip_source_free(src);
    lib().zip_error_fini(&error);
    return sw::make_error(sw::errc::write_failed, path + ": cannot start a zip archive: " + why);
  }
  lib().zip_error_fini(&error);
  return npz_writer(std::move(p));
}

sw::result<void> npz_writer::add(const std::string& member_name, std::uint64_t size, producer bytes) {
  auto* m = new member_source{size, 0, std::move(bytes), {}, {}};
  lib().zip_error_init(&m->error);
  zip_error_t error;
  lib().zip_error_init(&error);
  zip_source_t* src = lib().zip_source_function_create(member_callback, m, &error);
  if (!src) {
    lib().zip_error_fini(&m->error);
    delete m;
    std::string why = lib().zip_error_strerror(&error);
    lib().zip_error_fini(&error);
    return sw::make_error(sw::errc::write_failed, impl_->path + ": " + why);
  }
  lib().zip_error_fini(&error);
  zip_int64_t index = lib().zip_file_add(impl_->archive, member_name.c_str(), src, ZIP_FL_ENC_UTF_8);
  if (index < 0) {
    lib().zip_source_free(src);  // frees m too
    return sw::make_error(sw::errc::write_failed, impl_->path + ": cannot add member " +
                                                      sw::quote_name(member_name) + ": " +
                                                      lib().zip_strerror(impl_->archive));
  }
  auto at = static_cast<zip_uint64_t>(index);
  if (lib().zip_set_file_compression(impl_->archive, at, impl_->compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0 ||
      lib().zip_file_set_mtime(impl_->archive, at, fixed_mtime, 0) != 0)
    return sw::make_error(sw::errc::write_failed, impl_->path + ": " + lib().zip_strerror(impl_->archive));
  ++impl_->count;
  return {};
}

sw::result<void> npz_writer::commit() {
  if (impl_->count == 0) {
    // libzip removes an archive left with no entries; NumPy writes the
    // 22-byte end-of-central-directory record of an empty zip.
    static constexpr unsigned char empty_zip[22] = {'P', 'K', 5, 6};
    lib().zip_discard(impl_->archive);
    impl_->archive = nullptr;
    if (::write(impl_->file.fd(), empty_zip, sizeof empty_zip) != static_cast<ssize_t>(sizeof empty_zip))
      return sw::errno_error(sw::errc::write_failed, impl_->path + ": write failed");
    return impl_->file.commit();
  }
  if (lib().zip_close(impl_->archive) != 0) {
    std::string why = lib().zip_strerror(impl_->archive);
    return sw::make_error(sw::errc::write_failed, impl_->path + ": cannot write the archive: " + why);
  }
  impl_->archive = nullptr;
  return impl_->file.commit();
}

}  // namespace safeweights_cli
