"""safeweights.integrity: SHA-256 digests, seals, seal checks, and model
signatures in the OpenSSF model-signing format, from Python.

A seal (spec/EXTENSIONS.md) records each tensor's SHA-256 in the file's
__metadata__; ``verify`` re-hashes every tensor and names each that differs.
``sign_model`` and ``verify_model`` sign and check a whole model directory
(or one file) with a Sigstore bundle that the ``model_signing`` tool reads
and writes too.
"""

import os

from . import _core
from ._errors import error


def _path(p):
    return os.fsdecode(os.fspath(p))


def digest(path):
    """The SHA-256 of the whole file, as lowercase hex (what ``sha256sum`` prints)."""
    return _core.file_sha256(_path(path))


def tensor_digests(path):
    """{name: SHA-256 hex of the tensor's bytes}, in file order."""
    return _core.tensor_sha256(_path(path))


def seal(source, destination):
    """Writes a sealed copy of ``source`` to ``destination`` (atomically)."""
    _core.seal(_path(source), _path(destination))


class SealReport:
    """What ``verify`` found: tensors checked and one message per tensor that differs."""

    def __init__(self, tensors, failures):
        self.tensors = tensors
        self.failures = list(failures)

    @property
    def ok(self):
        return not self.failures

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return f"SealReport(tensors={self.tensors}, failures={self.failures!r})"


def verify(path, *, check=False):
    """Re-hashes every tensor of a sealed file against its seal.

    Returns a SealReport; with ``check=True`` raises DigestMismatchError
    listing every tensor that differs instead. A file without a seal raises
    NotSealedError.
    """
    tensors, failures = _core.verify_seal(_path(path))
    report = SealReport(tensors, failures)
    if check and failures:
        raise error("digest_mismatch", "; ".join(failures))
    return report


def _paths(ps):
    return [_path(p) for p in ps]


def sign_model(model, signature, private_key, *, signing_certificate=None, certificate_chain=(),
               ignore_paths=(), serialization="files", shard_size=1_000_000_000, allow_symlinks=False,
               ignore_git_paths=True):
    """Signs ``model`` (a directory or a file), writing the bundle ``signature``.

    ``private_key``: ECDSA P-256/P-384/P-521 or Ed25519, PEM. With
    ``signing_certificate`` (and the ``certificate_chain`` files between it and
    the CA) the bundle carries the certificates. ``ignore_paths`` are relative
    to the model. Returns the number of files (or shards) signed.
    """
    if serialization not in ("files", "shards"):
        raise error("invalid_argument", f"serialization is 'files' or 'shards', not {serialization!r}")
    return _core.sign_model(_path(model), _path(signature), _path(private_key),
                            None if signing_certificate is None else _path(signing_certificate),
                            _paths(certificate_chain), [str(p) for p in ignore_paths], serialization,
                            int(shard_size), bool(allow_symlinks), bool(ignore_git_paths))


class ModelReport:
    """What ``verify_model`` found once the signature was authentic: who signed,
    how many resources it lists, the files that changed, are missing or are not
    signed, and notes on what could not be checked offline."""

    def __init__(self, signer, resources, changed, missing, extra, notes):
        self.signer, self.resources = signer, resources
        self.changed, self.missing, self.extra, self.notes = list(changed), list(missing), list(extra), list(notes)

    @property
    def ok(self):
        return not (self.changed or self.missing or self.extra)

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return (f"ModelReport(signer={self.signer!r}, resources={self.resources}, changed={self.changed!r}, "
                f"missing={self.missing!r}, extra={self.extra!r})")


def verify_model(model, signature, *, public_key=None, certificate_chain=(), identity=None,
                 identity_provider=None, trust_config=None, ignore_paths=(), ignore_git_paths=True, check=False):
    """Verifies ``model`` against the bundle ``signature``.

    Trust exactly one of: ``public_key`` (PEM or DER), ``certificate_chain``
    (CA files), or ``identity`` + ``identity_provider`` + ``trust_config``
    (keyless Sigstore, checked offline). An inauthentic signature raises
    (WrongKeyError, SignatureMismatchError, UntrustedSignerError,
    InvalidSignatureError). Returns a ModelReport; ``check=True`` raises
    DigestMismatchError naming every file that differs instead.
    """
    keyless = [identity, identity_provider, trust_config]
    given = (public_key is not None) + bool(certificate_chain) + any(k is not None for k in keyless)
    if given != 1 or (any(k is not None for k in keyless) and not all(k is not None for k in keyless)):
        raise error("invalid_argument", "give one of public_key, certificate_chain, or identity with "
                                        "identity_provider and trust_config")
    report = ModelReport(*_core.verify_model(
        _path(model), _path(signature), None if public_key is None else _path(public_key), _paths(certificate_chain),
        identity, identity_provider, None if trust_config is None else _path(trust_config),
        [str(p) for p in ignore_paths], bool(ignore_git_paths)))
    if check and not report.ok:
        parts = [f"changed: {p}" for p in report.changed] + [f"missing: {p}" for p in report.missing] + \
                [f"not signed: {p}" for p in report.extra]
        raise error("digest_mismatch", f"{_path(model)}: does not match its signature: " + "; ".join(parts))
    return report
