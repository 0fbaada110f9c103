// Integrity, opt-in (needs OpenSSL's libcrypto): SHA-256 of files and
// tensors, sealed files verified on access, and model signatures in the
// OpenSSF model-signing format (Sigstore bundles). spec/EXTENSIONS.md
// describes the seal and how signatures are made and checked.
#pragma once

#include "safeweights/integrity/sha256.hpp"
#include "safeweights/integrity/hex.hpp"
#include "safeweights/integrity/file_digest.hpp"
#include "safeweights/integrity/tensor_digests.hpp"
#include "safeweights/integrity/seal_format.hpp"
#include "safeweights/integrity/sealed_reader.hpp"
#include "safeweights/integrity/seal_file.hpp"
#include "safeweights/integrity/base64.hpp"
#include "safeweights/integrity/signing_key.hpp"
#include "safeweights/integrity/certificate_chain.hpp"
#include "safeweights/integrity/sigstore_bundle.hpp"
#include "safeweights/integrity/dsse.hpp"
#include "safeweights/integrity/model_manifest.hpp"
#include "safeweights/integrity/model_hashing.hpp"
#include "safeweights/integrity/trust_root.hpp"
#include "safeweights/integrity/keyless.hpp"
#include "safeweights/integrity/model_signature.hpp"
