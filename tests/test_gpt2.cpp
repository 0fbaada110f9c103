// The GPT-2 proof, through the real gpt2-infer binary: for random-weight
// checkpoints in Hugging Face's layout (tests/fixtures/make_torch_fixtures.py:
// two sizes; F32, F16 and BF16; with and without the "transformer." prefix
// and the old mask buffers), the last-position logits match the PyTorch
// GPT-2 within 1e-4 and the greedy continuations are the same tokens. Also
// the loader's view of those files in process: zero copy, ignored buffers,
// dtype policies; and gpt2_checkpoint_layout against their headers.
#include <simdjson.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "process_support.hpp"
#include "safeweights/nn/gpt2.hpp"

namespace sw = safeweights;
namespace nn = safeweights::nn;
using test_support::run_program;

namespace {

std::string fixture(const std::string& name) { return (test_support::data_dir() / "torch" / name).string(); }

struct case_expectation {
  std::string variant;  // small_f32, small_f16, small_bf16, tiny_f32
  std::vector<std::int64_t> tokens, generated;
  std::vector<float> logits;
};

std::vector<case_expectation> expectations() {
  sw::reader file = sw::open(fixture("gpt2_expected.safetensors"));
  std::vector<case_expectation> out;
  for (const auto& t : file.tensors()) {
    std::string name(t.name);
    if (name.size() < 7 || name.compare(name.size() - 7, 7, ".tokens") != 0) continue;
    std::string key = name.substr(0, name.size() - 7);
    case_expectation c;
    c.variant = key.substr(0, key.find('.'));
    auto ints = [&](const std::string& n) {
      auto v = file.tensor(n).value().typed<std::int64_t>().value();
      return std::vector<std::int64_t>(v.span().begin(), v.span().end());
    };
    c.tokens = ints(key + ".tokens");
    c.generated = ints(key + ".generated");
    auto f = file.tensor(key + ".logits").value().typed<float>().value();
    c.logits.assign(f.span().begin(), f.span().end());
    out.push_back(std::move(c));
  }
  return out;
}

std::string joined(const std::vector<std::int64_t>& ids) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

struct infer_output {
  std::vector<double> logits;
  std::int64_t next = -1;
  std::vector<std::int64_t> generated;
};

infer_output parse_output(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element doc;
  REQUIRE(parser.parse(padded).get(doc) == simdjson::SUCCESS);
  infer_output out;
  simdjson::dom::array logits;
  REQUIRE(doc["logits"].get(logits) == simdjson::SUCCESS);
  for (double v : logits) out.logits.push_back(v);
  REQUIRE(doc["next_token"].get(out.next) == simdjson::SUCCESS);
  simdjson::dom::array gen;
  if (!doc["generated"].get(gen))
    for (std::int64_t v : gen) out.generated.push_back(v);
  return out;
}

std::vector<std::string> args_for(const case_expectation& c) {
  std::vector<std::string> a = {"--weights", fixture("gpt2_" + c.variant + ".safetensors"), "--tokens", joined(c.tokens),
                                "--json", "--generate", std::to_string(c.generated.size())};
  if (c.variant == "tiny_f32") a.insert(a.end(), {"--n-head", "3"});  // no n_head in that file's metadata
  return a;
}

}  // namespace

TEST_CASE("gpt2-infer: PyTorch's last-position logits within 1e-4 and its greedy tokens, every variant and prompt") {
  auto cases = expectations();
  REQUIRE(cases.size() == 14);
  double worst = 0;
  for (const auto& c : cases) {
    INFO(c.variant, " tokens ", joined(c.tokens));
    auto r = run_program(GPT2_INFER, args_for(c));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    infer_output out = parse_output(r.out);
    REQUIRE(out.logits.size() == c.logits.size());
    double diff = 0;
    for (std::size_t i = 0; i < out.logits.size(); ++i) diff = std::max(diff, std::abs(out.logits[i] - c.logits[i]));
    worst = std::max(worst, diff);
    CHECK(diff <= 1e-4);
    CHECK(out.generated == c.generated);
    CHECK(out.next == c.generated.front());
  }
  MESSAGE("gpt2: 14 prompts x 8 greedy tokens agree; max |logit diff| ", worst);
}

TEST_CASE("gpt2-infer: the baseline instruction set gives the same tokens and logits (SAFEWEIGHTS_ISA=baseline)") {
  const std::string f32 = fixture("gpt2_small_f32.safetensors");
  auto forced = run_program(GPT2_INFER, {"--weights", f32, "--tokens", "1", "--threads", "1"}, {"SAFEWEIGHTS_ISA=baseline"});
  CHECK(forced.out.find("(baseline, 1 threads)") != std::string::npos);
  for (const auto& c : expectations()) {
    if (c.variant != "small_bf16" && c.variant != "tiny_f32") continue;
    auto base = run_program(GPT2_INFER, args_for(c), {"SAFEWEIGHTS_ISA=baseline"});
    auto best = run_program(GPT2_INFER, args_for(c));
    REQUIRE(base.status == 0);
    REQUIRE(best.status == 0);
    infer_output a = parse_output(base.out), b = parse_output(best.out);
    CHECK(a.generated == c.generated);
    double diff = 0;
    for (std::size_t i = 0; i < a.logits.size(); ++i) diff = std::max(diff, std::abs(a.logits[i] - b.logits[i]));
    CHECK(diff <= 1e-4);
  }
}

TEST_CASE("gpt2-infer: readable output, usage errors exit 2, bad input exits 1") {
  const std::string f32 = fixture("gpt2_small_f32.safetensors");
  auto text = run_program(GPT2_INFER, {"--weights", f32, "--tokens", "1,2,3", "--generate", "3"});
  CHECK(text.status == 0);
  CHECK(text.out.find("next token: 303") != std::string::npos);
  CHECK(text.out.find("generated: 303 150 374") != std::string::npos);
  auto plain = run_program(GPT2_INFER, {"--weights", f32, "--tokens", "1,2,3", "--json"});
  CHECK(plain.status == 0);
  CHECK(plain.out.find("\"generated\"") == std::string::npos);
  CHECK(parse_output(plain.out).next == 303);
  CHECK(run_program(GPT2_INFER, {"--tokens", "1"}).status == 2);
  CHECK(run_program(GPT2_INFER, {"--weights", f32, "--tokens", "1,,2"}).status == 2);
  CHECK(run_program(GPT2_INFER, {"--weights", f32, "--tokens", "1", "--bogus"}).status == 2);
  CHECK(run_program(GPT2_INFER, {"--weights", f32, "--tokens", "384"}).status == 1);  // outside the vocabulary
  CHECK(run_program(GPT2_INFER, {"--weights", f32, "--tokens", "1", "--generate", "64"}).status == 0);  // 64 positions
  CHECK(run_program(GPT2_INFER, {"--weights", f32, "--tokens", "1", "--generate", "65"}).status == 1);  // past n_ctx
  auto no_heads = run_program(GPT2_INFER, {"--weights", fixture("gpt2_tiny_f32.safetensors"), "--tokens", "1"});
  CHECK(no_heads.status == 1);
  CHECK(no_heads.err.find("n_head") != std::string::npos);
  CHECK(run_program(GPT2_INFER, {"--weights", fixture("digits_mlp.safetensors"), "--tokens", "1"}).status == 1);
  auto wrong_heads = run_program(GPT2_INFER, {"--weights", f32, "--tokens", "1", "--n-head", "5"});
  CHECK(wrong_heads.status == 1);  // 64 is not a multiple of 5
}

TEST_CASE("load_gpt2: zero copy under the keep policy, the old buffers and the tied head ignored, the prefix stripped") {
  for (const char* name : {"gpt2_small_f32.safetensors", "gpt2_small_f16.safetensors", "gpt2_small_bf16.safetensors"}) {
    INFO(name);
    nn::load_report report;
    auto model = nn::load_gpt2(fixture(name), std::nullopt, nn::dtype_policy::keep, &report);
    REQUIRE(model);
    CHECK(report.loaded == (*model)->state().size());
    CHECK(report.zero_copy == report.loaded);
    CHECK(report.conversions.empty());
    CHECK(report.missing_keys.empty());
    CHECK(report.unexpected_keys.empty());
    CHECK((*model)->config().n_head == 4);
    CHECK((*model)->wte.weight.is_borrowed());
  }
  nn::load_report report;
  REQUIRE(nn::load_gpt2(fixture("gpt2_small_bf16.safetensors"), std::nullopt, nn::dtype_policy::keep, &report));
  // h.0/1.attn.bias, h.0/1.attn.masked_bias and lm_head.weight.
  CHECK(report.ignored_keys.size() == 5);
  CHECK((*nn::load_gpt2(fixture("gpt2_small_bf16.safetensors")))->wte.weight.type() == sw::dtype::BF16);

  // Loading the prefixed file without stripping the prefix: one error listing everything.
  auto file = nn::checkpoint::open(fixture("gpt2_small_bf16.safetensors")).value();
  nn::gpt2 model(nn::gpt2_config_from(file).value());
  auto strict = nn::load_state_dict(model, file);
  CHECK(strict.code() == sw::errc::state_dict_mismatch);
  CHECK(strict.error_value().message.find("missing key(s): `wte.weight`") != std::string::npos);
  CHECK(strict.error_value().message.find("unexpected key(s): `transformer.") != std::string::npos);
  CHECK(strict.error_value().message.find("`transformer.wte.weight`") != std::string::npos);
}

TEST_CASE("gpt2_checkpoint_layout: the names, shapes and dtypes of the PyTorch GPT-2's files, the mask buffers aside") {
  using entry = std::pair<std::vector<std::uint64_t>, sw::dtype>;
  auto file_tensors = [](const std::string& name) {
    sw::reader file = sw::open(fixture(name));
    std::map<std::string, entry> out;
    for (const auto& t : file.tensors()) {
      std::string key(t.name);
      // The causal mask gpt2 has no use for (gpt2_load_options ignores it).
      if (key.ends_with(".attn.bias")) continue;
      out[key] = {std::vector<std::uint64_t>(t.shape.begin(), t.shape.end()), t.type};
    }
    return out;
  };
  auto layout_tensors = [](const nn::gpt2_config& c, sw::dtype type) {
    std::map<std::string, entry> out;
    for (const auto& t : nn::gpt2_checkpoint_layout(c, type)) CHECK(out.emplace(t.name, entry{t.shape, t.type}).second);
    return out;
  };
  // make_torch_fixtures.py's sizes: small (384, 64, 64, 2 layers, 4 heads), tiny (97, 16, 36, 2 layers, 3 heads).
  const nn::gpt2_config small{.vocab_size = 384, .n_positions = 64, .n_embd = 64, .n_layer = 2, .n_head = 4};
  const nn::gpt2_config tiny{.vocab_size = 97, .n_positions = 16, .n_embd = 36, .n_layer = 2, .n_head = 3};
  CHECK(layout_tensors(tiny, sw::dtype::F32) == file_tensors("gpt2_tiny_f32.safetensors"));
  CHECK(layout_tensors(small, sw::dtype::F32) == file_tensors("gpt2_small_f32.safetensors"));
  CHECK(layout_tensors(small, sw::dtype::F16) == file_tensors("gpt2_small_f16.safetensors"));

  // PyTorch's state-dict order: embeddings, then block by block, then the final norm.
  auto layout = nn::gpt2_checkpoint_layout(tiny);
  REQUIRE(layout.size() == 2 + 2 * 12 + 2);
  CHECK(layout.front().name == "wte.weight");
  CHECK(layout[2].name == "h.0.ln_1.weight");
  CHECK(layout[14].name == "h.1.ln_1.weight");
  CHECK(layout.back().name == "ln_f.bias");
}

TEST_CASE("load_gpt2: converting to F32 or BF16 gives the same next tokens as computing from the file's dtype") {
  std::vector<std::int64_t> prompt = {200, 17, 5, 99, 300, 42};
  auto keep = nn::load_gpt2(fixture("gpt2_small_bf16.safetensors")).value();
  nn::load_report report;
  auto f32 = nn::load_gpt2(fixture("gpt2_small_bf16.safetensors"), std::nullopt, nn::dtype_policy::f32, &report).value();
  CHECK(f32->wte.weight.type() == sw::dtype::F32);
  CHECK(report.zero_copy == 0);
  CHECK(report.conversions.size() == report.loaded);
  std::vector<float> a, b;
  CHECK(keep->generate(prompt, 6, &a) == f32->generate(prompt, 6, &b));
  double diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, double(std::abs(a[i] - b[i])));
  CHECK(diff < 1e-5);
  // F32 weights rounded to BF16 are a different model: close, not equal.
  auto bf16 = nn::load_gpt2(fixture("gpt2_small_f32.safetensors"), std::nullopt, nn::dtype_policy::bf16).value();
  CHECK(bf16->h[0].mlp.c_fc.weight.type() == sw::dtype::BF16);
  std::vector<float> c;
  bf16->generate(prompt, 1, &c);
  CHECK(c.size() == 384);
}
