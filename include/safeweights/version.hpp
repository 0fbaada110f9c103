// Library version, and the inline namespace that carries it so that two
// versions linked into one program cannot silently mix their types.
#pragma once

#define SAFEWEIGHTS_VERSION_MAJOR 0
#define SAFEWEIGHTS_VERSION_MINOR 1
#define SAFEWEIGHTS_VERSION_PATCH 0
#define SAFEWEIGHTS_VERSION_STRING "0.1.0"

#define SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN inline namespace v0_1 {
#define SAFEWEIGHTS_INLINE_NAMESPACE_END }
