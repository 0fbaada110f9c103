// nn/xtensor.hpp: tensors as xtensor views and back.
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "safeweights/nn/layers/linear.hpp"
#include "safeweights/nn/xtensor.hpp"
#include "support.hpp"

namespace nn = safeweights::nn;

TEST_CASE("nn xtensor: a tensor seen without copying; expressions evaluated into tensors that layers take") {
  nn::tensor t = nn::tensor::from_floats(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  auto view = nn::as_xtensor(t);
  CHECK(view.dimension() == 2);
  CHECK(view(1, 2) == 6.0f);
  CHECK(&view(0, 0) == t.f32());
  CHECK(xt::sum(view)() == 21.0f);
  nn::tensor doubled = nn::from_xtensor(2.0f * view + 1.0f);
  CHECK(doubled.shape() == nn::shape_type{2, 3});
  CHECK(doubled.f32()[5] == 13.0f);
  nn::tensor shared = t;
  auto writable = nn::as_mutable_xtensor(shared);  // shared bytes: copied first
  writable(0, 0) = -1.0f;
  CHECK(t.f32()[0] == 1.0f);
  CHECK(shared.f32()[0] == -1.0f);
  nn::linear lin(3, 1, false);
  nn::as_mutable_xtensor(lin.weight) = xt::ones<float>({1, 3});
  nn::tensor y = lin(nn::from_xtensor(xt::view(view, xt::all(), xt::all())));
  CHECK(y.f32()[0] == 6.0f);
  CHECK(y.f32()[1] == 15.0f);
}
