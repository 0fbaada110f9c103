// --ignore-paths as sign and verify take them: a path as the shell names it
// (relative to the working directory, or absolute) when it lies inside the
// model, otherwise a path relative to the model, as model_signing reads them.
#pragma once

#include <string>
#include <vector>

#include "safeweights/integrity/model_signature.hpp"

namespace safeweights_cli {

inline safeweights::result<std::vector<std::string>> model_relative_paths(const std::string& model_path,
                                                                          const std::vector<std::string>& given) {
  std::vector<std::string> out;
  for (const std::string& p : given) {
    if (auto rel = safeweights::detail::inside_model(model_path, p); rel && std::filesystem::exists(p)) {
      out.push_back(*rel);
    } else if (safeweights::detail::is_safe_relative_path(p)) {
      out.push_back(p);
    } else {
      return safeweights::make_error(safeweights::errc::invalid_argument,
                                     "--ignore-paths " + safeweights::quote_name(p) + " is not inside the model " +
                                         safeweights::quote_name(model_path));
    }
  }
  return out;
}

}  // namespace safeweights_cli
