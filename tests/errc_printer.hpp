// Lets doctest print an errc by name in a failed CHECK(code == errc::...).
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "safeweights/error.hpp"

namespace doctest {
template <>
struct StringMaker<safeweights::errc> {
  static String convert(safeweights::errc e) { return String(std::string(safeweights::to_string(e)).c_str()); }
};
}  // namespace doctest
