// A first tour of safeweights: write a small model file with metadata, open
// it again, look at its tensors without copying them, and watch a damaged
// copy get refused with a clear message.
//
//   demo [DIR]   (files go to DIR, default: the current directory)
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "safeweights/safeweights.hpp"

namespace sw = safeweights;

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : ".";
  std::string path = dir + "/demo.safetensors";

  // 1. Write: a tiny linear classifier, plus the metadata people keep beside a model.
  std::vector<float> weight = {0.5f, -1.0f, 0.25f, 2.0f, 0.0f, -0.75f};  // [2 classes, 3 features]
  std::vector<float> bias = {0.1f, -0.1f};
  std::vector<std::int64_t> classes = {0, 1};
  sw::writer w;
  w.add<float>("classifier.weight", {2, 3}, weight).value();
  w.add<float>("classifier.bias", {2}, bias).value();
  w.add<std::int64_t>("classes", {2}, classes).value();
  w.set_metadata("feature_names", R"(["age","income","savings"])");
  w.set_metadata("trained_at", "2026-11-22T09:00:00Z");
  w.set_metadata("accuracy", "0.93");
  w.write_file(path).value();  // atomic: temp file, fsync, rename
  std::printf("wrote %s\n\n", path.c_str());

  // 2. Read: open maps the file and validates the whole header; no tensor byte is copied.
  auto model = sw::open(path);
  std::printf("%zu tensors, data starts at byte %llu\n", model.tensors().size(),
              static_cast<unsigned long long>(model.index().data_offset()));
  for (const sw::tensor_info& t : model.tensors()) {
    std::string shape;
    for (auto d : t.shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
    std::printf("  %-18s %-4s [%s] %llu bytes\n", std::string(t.name).c_str(), std::string(sw::dtype_name(t.type)).c_str(),
                shape.c_str(), static_cast<unsigned long long>(t.byte_size()));
  }
  for (const auto& m : model.metadata())
    std::printf("  metadata %s = %s\n", std::string(m.key).c_str(), std::string(m.value).c_str());

  // 3. Use it: the weights, straight from the mapping (each typed_tensor keeps it alive).
  auto W = model.tensor("classifier.weight").value().as<float>().value();
  auto b = model.tensor("classifier.bias").value().as<float>().value();
  const float x[3] = {1.0f, 2.0f, 3.0f};
  for (int c = 0; c < 2; ++c) {
    float logit = b[c];
    for (int f = 0; f < 3; ++f) logit += W[c * 3 + f] * x[f];
    std::printf("logit[%d] = %.3f\n", c, logit);
  }

  // 4. Damage a copy: stretch one tensor's byte span by one. The reader refuses
  //    the file, naming it, the tensor and the numbers.
  std::string bad = dir + "/demo-damaged.safetensors";
  {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    auto at = bytes.find("\"data_offsets\":[16,24]");
    if (at != std::string::npos) bytes.replace(at, 22, "\"data_offsets\":[16,25]");
    std::ofstream(bad, std::ios::binary) << bytes;
  }
  auto refused = sw::reader::open(bad);
  std::printf("\nopening a damaged copy: %s (%s)\n", refused ? "accepted?!" : refused.error_value().message.c_str(),
              std::string(sw::to_string(refused.code())).c_str());
  return refused ? 1 : 0;
}
