// Integrity, opt-in (needs OpenSSL's libcrypto): SHA-256 of files and
// tensors, sealed files verified on access, detached Ed25519 signatures.
// spec/EXTENSIONS.md describes the seal and signature formats.
#pragma once

#include "safeweights/integrity/sha256.hpp"
#include "safeweights/integrity/hex.hpp"
#include "safeweights/integrity/file_digest.hpp"
#include "safeweights/integrity/tensor_digests.hpp"
#include "safeweights/integrity/seal_format.hpp"
#include "safeweights/integrity/sealed_reader.hpp"
#include "safeweights/integrity/seal_file.hpp"
#include "safeweights/integrity/ed25519_key.hpp"
#include "safeweights/integrity/signature_file.hpp"
#include "safeweights/integrity/signature.hpp"
