// The digits proof: a small MLP and a small CNN trained in PyTorch on
// scikit-learn's digits (tests/fixtures/make_torch_fixtures.py), loaded into
// module definitions written here, predict the class PyTorch predicted for
// every one of the 1797 samples, with logits within 1e-5. Also: the
// documented metadata keys read back (the data hash checked against the
// committed inputs), and our writer reproduces the Python-written bytes.
#include <cmath>
#include <memory>
#include <vector>

#include "digits_models.hpp"  // src/examples: the one definition of the models
#include "isa_support.hpp"
#include "safeweights/integrity/sha256.hpp"
#include "safeweights/nn/model_card.hpp"
#include "safeweights/nn/state_dict.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace nn = safeweights::nn;
using test_support::for_each_isa;

namespace {

std::string fixture(const std::string& name) { return (test_support::data_dir() / "torch" / name).string(); }

struct expected_outputs {
  sw::reader file = sw::open(fixture("digits_expected.safetensors"));
  std::size_t samples() const { return file.find("labels")->elements; }
  // The inputs as the models saw them: pixel values 0..16 divided by 16.
  nn::tensor inputs() const {
    auto pixels = file.tensor("inputs").value();
    std::vector<float> x(pixels.elements());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(pixels.bytes()[i]) / 16.0f;
    return nn::tensor::from_floats(x, {samples(), 64});
  }
  std::vector<float> logits(const std::string& model) const {
    auto t = file.tensor(model + ".logits").value().typed<float>().value();
    return {t.span().begin(), t.span().end()};
  }
  std::vector<std::int64_t> predictions(const std::string& model) const {
    auto t = file.tensor(model + ".predictions").value().typed<std::int64_t>().value();
    return {t.span().begin(), t.span().end()};
  }
};

struct agreement {
  std::size_t same_class = 0;
  double max_diff = 0;
};

agreement compare(const nn::tensor& logits, const std::vector<float>& want, const std::vector<std::int64_t>& classes) {
  agreement a;
  const float* got = logits.f32();
  for (std::size_t i = 0; i < classes.size(); ++i) {
    std::size_t best = 0;
    for (std::size_t c = 0; c < 10; ++c) {
      a.max_diff = std::max(a.max_diff, double(std::abs(got[i * 10 + c] - want[i * 10 + c])));
      if (got[i * 10 + c] > got[i * 10 + best]) best = c;
    }
    a.same_class += static_cast<std::int64_t>(best) == classes[i];
  }
  return a;
}

template <class Model>
void check_model(const std::string& name) {
  expected_outputs expected;
  Model model;
  auto report = nn::load_state_dict(model, fixture("digits_" + name + ".safetensors"));
  REQUIRE(report);
  CHECK(report->zero_copy == report->loaded);  // F32 into F32: every tensor borrowed from the mapping
  const nn::tensor x = expected.inputs();
  const auto want = expected.logits(name);
  const auto classes = expected.predictions(name);
  REQUIRE(classes.size() == 1797);
  for_each_isa([&](sw::kernels::isa) {
    // All samples at once (the blocked product) ...
    agreement batch = compare(model.forward(x), want, classes);
    MESSAGE(name, ": ", batch.same_class, "/1797 classes agree, max |logit diff| ", batch.max_diff);
    CHECK(batch.same_class == 1797);
    CHECK(batch.max_diff <= 1e-5);
    // ... and one at a time (the matrix-vector path).
    std::vector<float> single(1797 * 10);
    for (std::size_t i = 0; i < 1797; ++i) {
      nn::tensor row = nn::tensor::from_floats({x.f32() + i * 64, 64}, {1, 64});
      nn::tensor out = model.forward(row);
      std::copy(out.f32(), out.f32() + 10, single.begin() + static_cast<std::ptrdiff_t>(i * 10));
    }
    agreement one = compare(nn::tensor::from_floats(single, {1797, 10}), want, classes);
    CHECK(one.same_class == 1797);
    CHECK(one.max_diff <= 1e-5);
  });
}

}  // namespace

TEST_CASE("digits: the C++ MLP gives PyTorch's class for all 1797 samples and its logits within 1e-5") {
  check_model<digits::mlp>("mlp");
}

TEST_CASE("digits: the C++ CNN (Conv2d) gives PyTorch's class for all 1797 samples and its logits within 1e-5") {
  check_model<digits::cnn>("cnn");
}

TEST_CASE("digits: the documented metadata keys read back; the data hash is that of the committed inputs") {
  expected_outputs expected;
  for (const char* name : {"digits_mlp.safetensors", "digits_cnn.safetensors"}) {
    sw::reader file = sw::open(fixture(name));
    auto card = nn::model_card::from_metadata([&](std::string_view k) { return file.metadata_value(k); });
    REQUIRE(card);
    REQUIRE(card->feature_names);
    CHECK(card->feature_names->size() == 64);
    CHECK(card->feature_names->front() == "pixel_0_0");
    CHECK(card->feature_names->back() == "pixel_7_7");
    REQUIRE(card->scores);
    for (const auto& [score, value] : *card->scores) CHECK(value > 0.95);
    REQUIRE(card->library_versions);
    CHECK(card->library_versions->front().first == "torch");
    REQUIRE(card->training_date);
    CHECK(card->training_date->size() == 20);  // 2024-05-01T12:00:00Z
    REQUIRE(card->data_sha256);
    sw::sha256_hasher h;
    sw::tensor_view inputs = expected.file.tensor("inputs").value(), labels = expected.file.tensor("labels").value();
    h.update(inputs.bytes());
    h.update(labels.bytes());
    auto digest = h.finish();
    CHECK(*card->data_sha256 == sw::to_hex(digest));
  }
}

TEST_CASE("digits: our writer reproduces the bytes Python wrote, from the same tensors and metadata") {
  for (const char* name : {"digits_mlp.safetensors", "digits_cnn.safetensors", "digits_expected.safetensors"}) {
    INFO(name);
    auto original = test_support::read_bytes(fixture(name));
    sw::reader file = sw::open(fixture(name));
    sw::writer w;
    for (const auto& t : file.tensors()) REQUIRE(w.add(file.tensor(t).value()));
    for (const auto& m : file.metadata()) w.set_metadata(std::string(m.key), std::string(m.value));
    CHECK(w.serialize().value() == original);
  }
  // And save_state_dict of the loaded module writes the same file again.
  digits::mlp model;
  REQUIRE(nn::load_state_dict(model, fixture("digits_mlp.safetensors")));
  sw::reader file = sw::open(fixture("digits_mlp.safetensors"));
  std::vector<std::pair<std::string, std::string>> metadata;
  for (const auto& m : file.metadata()) metadata.emplace_back(m.key, m.value);
  test_support::scratch_dir dir;
  REQUIRE(nn::save_state_dict(model, (dir / "again.safetensors").string(), metadata));
  CHECK(test_support::read_bytes(dir / "again.safetensors") == test_support::read_bytes(fixture("digits_mlp.safetensors")));
}

TEST_CASE("model_card: to_metadata and from_metadata round-trip; malformed values are invalid_metadata") {
  nn::model_card card;
  card.feature_names = std::vector<std::string>{"age", "income \"net\""};
  card.training_date = "2024-05-01";
  card.scores = std::vector<std::pair<std::string, double>>{{"auc", 0.875}, {"loss", 1e-05}};
  card.library_versions = std::vector<std::pair<std::string, std::string>>{{"torch", "1.13.0"}};
  card.data_sha256 = std::string(64, 'a');
  auto meta = card.to_metadata();
  REQUIRE(meta.size() == 6);
  CHECK(meta[0] == std::pair<std::string, std::string>{"format", "pt"});
  CHECK(meta[1].second == R"(["age","income \"net\""])");
  CHECK(meta[3].second == R"({"auc":0.875,"loss":1e-05})");
  auto lookup = [&](std::string_view k) -> std::optional<std::string_view> {
    for (const auto& [key, value] : meta)
      if (key == k) return value;
    return std::nullopt;
  };
  auto back = nn::model_card::from_metadata(lookup);
  REQUIRE(back);
  CHECK(*back->feature_names == *card.feature_names);
  CHECK(*back->scores == *card.scores);
  CHECK(*back->library_versions == *card.library_versions);
  for (auto [key, value] : {std::pair{"feature_names", "[1,2]"}, {"feature_names", "[\"a\"] x"}, {"scores", "{\"a\":\"b\"}"},
                            {"library_versions", "[]"}, {"data_sha256", "ABC"}, {"training_date", "2024-02-30"},
                            {"training_date", "01/05/2024"}}) {
    INFO(key, " = ", value);
    auto one = [&](std::string_view k) -> std::optional<std::string_view> {
      if (k == key) return std::string_view(value);
      return std::nullopt;
    };
    CHECK(nn::model_card::from_metadata(one).code() == sw::errc::invalid_metadata);
  }
}

TEST_CASE("model_card::check_value: one rule per documented key, any value for other keys") {
  for (auto [key, value] : {std::pair{"format", "pt"}, {"format", "flax"}, {"n_head", "12"}, {"training_date", "2024-05-01"},
                            {"training_date", "2024-05-01T12:00:00,5-03"}, {"training_date", "2000-02-29T00:00+0100"},
                            {"scores", "{}"}, {"note", "{not json"}}) {
    INFO(key, " = ", value);
    CHECK(nn::model_card::check_value(key, value));
  }
  for (auto [key, value] : {std::pair{"format", "np"}, {"format", ""}, {"n_head", "0"}, {"n_head", "+3"}, {"n_head", "3 "},
                            {"training_date", "1900-02-29"}, {"training_date", "2024-05-01T12"},
                            {"training_date", "2024-05-01T12:00:00."}, {"training_date", "2024-05-01T12:00+1"},
                            {"training_date", "2024-05-01Z"}, {"scores", "{\"a\": 1"}}) {
    INFO(key, " = ", value);
    auto checked = nn::model_card::check_value(key, value);
    CHECK(checked.code() == sw::errc::invalid_metadata);
    CHECK(checked.error_value().message.find(std::string("`") + key + "`") != std::string::npos);
  }
}
