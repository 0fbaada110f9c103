// The README's C++ snippets, compiled as they are written (tests/readme/extract.py
// turns each ```cpp block into a function) and run in a scratch directory once
// per way of reading a file: mapped, pread, and mapped with shrink_safe. Under
// the sanitizer build this is the check that the README's idioms cannot dangle.
// Also: what a temporary view, result or typed_tensor refuses to hand out.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <span>
#include <string_view>
#include <vector>

#include "safeweights/integrity.hpp"
#include "safeweights/nn/state_dict.hpp"
#include "safeweights/registry/registry.hpp"
#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace nn = safeweights::nn;

namespace readme {

struct snippet {
  std::string_view name;
  int (*run)();
};

// The read options every snippet's `reader::open("FILE")` gets in this run.
inline sw::read_options current_options;
inline const sw::read_options& options() { return current_options; }

inline std::vector<float> ramp(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = 0.25f * static_cast<float>(i) - 1.0f;
  return v;
}

// A chunk_source for `total` bytes of F32 values 0, 1, 2, ...
inline auto filler(std::uint64_t total) {
  return [total, done = std::uint64_t{0}](std::span<std::byte> chunk) mutable {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), total - done)) / 4 * 4;
    for (std::size_t i = 0; i < n; i += 4) {
      float v = static_cast<float>((done + i) / 4);
      std::memcpy(chunk.data() + i, &v, 4);
    }
    done += n;
    return n;
  };
}

// What the integrity snippet finds: model.safetensors sealed; model/ holding it, signed in
// model.sig; and the public key.
inline void seal_and_sign_model() {
  sw::seal_file("model.safetensors", "model.safetensors").value();
  std::filesystem::create_directories("model");
  std::filesystem::copy_file("model.safetensors", "model/model.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  sw::model_signer signer{sw::private_key::generate(sw::key_algorithm::ecdsa_p384).value(), {}};
  sw::write_model_signature("model.sig", sw::sign_model("model", signer).value()).value();
  test_support::write_text("public.pem", signer.key.public_half().pem());
}

// What the classic-model snippet finds: the registry `models` whose `iris@production` is a
// scikit-learn random forest saved by safeweights.sklearn (tests/data/classic).
inline void register_iris() {
  std::filesystem::remove_all("models");
  auto models = sw::registry::init("models").value();
  auto version = models.add(SAFEWEIGHTS_TEST_DATA "/classic/random_forest_iris.safetensors", "iris").value();
  models.alias("iris@" + version.version, "production").value();
}

}  // namespace readme

// The names each snippet uses but does not declare (they stand for the reader's own data).
#define README_CONTEXT_reading
#define README_CONTEXT_slices auto model = sw::reader::open("slices.safetensors", readme::options());
#define README_CONTEXT_writing                                                        \
  const std::uint64_t out = 4, in = 3, vocab = 16, dim = 8, context = 5;              \
  std::vector<float> weights = readme::ramp(out * in), bias = readme::ramp(out),      \
                     table = readme::ramp(vocab * dim);                                \
  auto fill = readme::filler(context * dim * sizeof(float));
#define README_CONTEXT_bf16 const std::uint64_t vocab = 16, dim = 8;
#define README_CONTEXT_model_card std::vector<float> coef{0.5f, -1.25f};
#define README_CONTEXT_integrity readme::seal_and_sign_model();
#define README_CONTEXT_mlp std::vector<float> pixels(64, 0.5f);
#define README_CONTEXT_buffers
#define README_CONTEXT_classic_registry readme::register_iris();

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include "readme_snippets.inc"
#pragma GCC diagnostic pop

namespace {

// The order the snippets run in: writing makes the file the others read.
constexpr std::string_view run_order[] = {"writing", "reading", "slices", "bf16",
                                          "model_card", "mlp", "buffers", "integrity", "classic_registry"};

struct working_directory {
  explicit working_directory(const std::filesystem::path& p) : before(std::filesystem::current_path()) {
    std::filesystem::current_path(p);
  }
  ~working_directory() { std::filesystem::current_path(before); }
  std::filesystem::path before;
};

void make_slices_file() {
  std::vector<float> w(768 * 3072, 0.5f);
  sw::writer out;
  out.add<float>("h.0.mlp.c_fc.weight", {768, 3072}, w).value();
  out.write_file("slices.safetensors").value();
}

}  // namespace

TEST_CASE("every C++ snippet of the README is run by this test") {
  for (const readme::snippet& s : readme::all_snippets) {
    bool listed = false;
    for (std::string_view n : run_order) listed = listed || n == s.name;
    INFO("snippet ", s.name);
    CHECK(listed);
  }
  CHECK(std::size(readme::all_snippets) == std::size(run_order));
}

TEST_CASE("the README's snippets run clean in every io_mode") {
  struct mode {
    const char* name;
    sw::read_options options;
  };
  const mode modes[] = {{"mmap", {}},
                        {"pread", {.mode = sw::io_mode::pread}},
                        {"mmap, shrink_safe", {.shrink_safe = true}}};
  for (const mode& m : modes) {
    SUBCASE(m.name) {
      readme::current_options = m.options;
      test_support::scratch_dir dir;
      std::filesystem::copy_file(test_support::data_dir() / "torch" / "digits_mlp.safetensors",
                                 dir / "digits_mlp.safetensors");
      working_directory here(dir.path());
      make_slices_file();
      for (std::string_view name : run_order) {
        for (const readme::snippet& s : readme::all_snippets) {
          if (s.name != name) continue;
          INFO("snippet ", s.name);
          int status = -1;
          CHECK_NOTHROW(status = s.run());
          CHECK(status == 0);
        }
      }
      // What the snippets wrote reads back as they said.
      auto model = sw::reader::open("model.safetensors", m.options).value();
      CHECK(model.tensor("embeddings").value().type() == sw::dtype::BF16);
      CHECK(model.tensor("embeddings").value().to_floats().value() == readme::ramp(16 * 8));  // exact in BF16
      auto half = sw::reader::open("half.safetensors", m.options).value();
      CHECK(half.tensor("embeddings").value().type() == sw::dtype::F16);
      CHECK(half.tensor("raw").value().to_floats().value() == std::vector<float>(128, 1.0f));
      auto norm = sw::reader::open("normalizer.safetensors", m.options).value();
      CHECK(norm.tensors().size() == 1);
      CHECK(norm.tensors()[0].name == "mean");
    }
  }
}

// A member is callable on a value category when this expression compiles.
template <class V>
concept bytes_of = requires(V&& v) { std::forward<V>(v).bytes(); };
template <class V>
concept shape_of = requires(V&& v) { std::forward<V>(v).shape(); };
template <class V>
concept name_of = requires(V&& v) { std::forward<V>(v).name(); };
template <class R>
concept arrow_of = requires(R&& r) { std::forward<R>(r).operator->(); };
template <class T>
concept span_of = requires(T&& t) { std::forward<T>(t).span(); };
template <class T>
concept tensors_of = requires(T&& t) { std::forward<T>(t).tensors(); };
template <class T>
concept metadata_of = requires(T&& t) { std::forward<T>(t).metadata_value("k"); };

TEST_CASE("a temporary view, typed_tensor or result hands out nothing that would dangle") {
  // What would dangle does not compile on a temporary, and still does on a variable.
  static_assert(bytes_of<sw::tensor_view&> && !bytes_of<sw::tensor_view>);
  static_assert(shape_of<const sw::tensor_view&> && !shape_of<sw::tensor_view>);
  static_assert(name_of<sw::tensor_view&> && !name_of<sw::tensor_view>);
  static_assert(arrow_of<sw::result<sw::tensor_view>&> && !arrow_of<sw::result<sw::tensor_view>>);
  static_assert(arrow_of<sw::result<sw::reader>&> && !arrow_of<sw::result<sw::reader>>);
  static_assert(tensors_of<sw::reader&> && !tensors_of<sw::reader>);  // sw::open(path).tensors()
  static_assert(metadata_of<sw::reader&> && !metadata_of<sw::reader>);
  static_assert(tensors_of<sw::loaded_tensors&> && !tensors_of<sw::loaded_tensors>);
  static_assert(!arrow_of<sw::result<sw::loaded_tensors>>);
  static_assert(span_of<sw::typed_tensor<float>&> && !span_of<sw::typed_tensor<float>>);
  static_assert(std::is_convertible_v<sw::typed_tensor<float>&, std::span<const float>>);
  static_assert(!std::is_convertible_v<sw::typed_tensor<float>, std::span<const float>>);
  // as<T>() on a variable is a span; on a temporary, an owning typed_tensor.
  static_assert(std::is_same_v<decltype(std::declval<sw::tensor_view&>().as<float>()),
                               sw::result<std::span<const float>>>);
  static_assert(std::is_same_v<decltype(std::declval<sw::tensor_view>().as<float>()),
                               sw::result<sw::typed_tensor<float>>>);

  // The owning form outlives the view and the reader in every mode (ASan sees a dangling read).
  test_support::scratch_dir dir;
  std::vector<float> values = readme::ramp(1000);
  sw::writer w;
  w.add<float>("w", {1000}, values).value();
  w.write_file((dir / "w.safetensors").string()).value();
  for (sw::io_mode mode : {sw::io_mode::mmap, sw::io_mode::pread}) {
    CAPTURE(static_cast<int>(mode));
    sw::typed_tensor<float> kept;
    {
      auto r = sw::reader::open((dir / "w.safetensors").string(), {.mode = mode}).value();
      kept = r.tensor("w").value().as<float>().value();
      CHECK_FALSE(kept.is_copy());
    }
    REQUIRE(kept.size() == values.size());
    CHECK(std::vector<float>(kept.begin(), kept.end()) == values);
  }
}
