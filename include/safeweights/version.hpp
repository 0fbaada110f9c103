// Library version, and the inline namespace that carries it so that two
// versions linked into one program cannot silently mix their types.
#pragma once

// The headers need C++20 (std::endian, std::span, concepts); without it the
// first error would be one of hundreds deep inside them. GCC and Clang go on
// past #error, so a missing include follows it to stop there.
#if (defined(_MSVC_LANG) ? _MSVC_LANG : __cplusplus) < 202002L
#error "safeweights needs C++20: compile with -std=c++20 (or /std:c++20)"
#include "safeweights: stopped, see the error above"
#endif

#define SAFEWEIGHTS_VERSION_MAJOR 0
#define SAFEWEIGHTS_VERSION_MINOR 1
#define SAFEWEIGHTS_VERSION_PATCH 0
#define SAFEWEIGHTS_VERSION_STRING "0.1.0"

#define SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN inline namespace v0_1 {
#define SAFEWEIGHTS_INLINE_NAMESPACE_END }
