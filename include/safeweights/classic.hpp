// Classic models, opt-in: fitted scikit-learn estimators stored as
// safetensors files (spec/CLASSIC.md), checked and run without Python.
#pragma once

#include "safeweights/classic/description.hpp"
#include "safeweights/classic/scaler.hpp"
#include "safeweights/classic/linear.hpp"
#include "safeweights/classic/trees.hpp"
#include "safeweights/classic/boosting.hpp"
#include "safeweights/classic/pipeline.hpp"
#include "safeweights/classic/model_rules.hpp"
#include "safeweights/classic/model.hpp"
