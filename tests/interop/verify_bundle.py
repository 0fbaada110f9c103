"""An independent check of a model signature safeweights made: Python's
cryptography (not our OpenSSL calls), hashlib and json (not our hashing and
parsers) verify the bundle as model_signing does. Exit 0 and "verified", or 1
naming what failed.

usage: verify_bundle.py SIG MODEL_DIR (--public-key PUB.pem | --certificate)
"""
import base64
import hashlib
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


def pae(payload_type: bytes, payload: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


def fail(why):
    print("failed:", why)
    sys.exit(1)


def main():
    sig_path, model = sys.argv[1], sys.argv[2]
    bundle = json.load(open(sig_path))
    if bundle["mediaType"] != "application/vnd.dev.sigstore.bundle.v0.3+json":
        fail("media type")
    material = bundle["verificationMaterial"]
    if sys.argv[3] == "--public-key":
        pem = open(sys.argv[4], "rb").read()
        key = serialization.load_pem_public_key(pem)
        canonical = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        if material["publicKey"]["hint"] != hashlib.sha256(canonical).hexdigest():
            fail("key hint")
    else:
        der = base64.b64decode(material["x509CertificateChain"]["certificates"][0]["rawBytes"])
        key = x509.load_der_x509_certificate(der).public_key()
    envelope = bundle["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"])
    signature = base64.b64decode(envelope["signatures"][0]["sig"])
    message = pae(envelope["payloadType"].encode(), payload)
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, message)
    else:
        algorithm = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key.curve.key_size]
        key.verify(signature, message, ec.ECDSA(algorithm))
    statement = json.loads(payload)
    if statement["_type"] != "https://in-toto.io/Statement/v1":
        fail("statement type")
    if statement["predicateType"] != "https://model_signing/signature/v1.0":
        fail("predicate type")
    predicate = statement["predicate"]
    root = hashlib.sha256()
    for r in predicate["resources"]:
        root.update(bytes.fromhex(r["digest"]))
    if root.hexdigest() != statement["subject"][0]["digest"]["sha256"]:
        fail("subject digest")
    serialization_ = predicate["serialization"]
    ignored = set(serialization_.get("ignore_paths", []))
    expected = {}
    for dirpath, dirnames, filenames in os.walk(model):
        for f in filenames:
            rel = os.path.relpath(os.path.join(dirpath, f), model).replace(os.sep, "/")
            if any(rel == p or rel.startswith(p + "/") for p in ignored):
                continue
            data = open(os.path.join(model, rel), "rb").read()
            if serialization_["method"] == "files":
                expected[rel] = hashlib.sha256(data).hexdigest()
            else:
                size = serialization_["shard_size"]
                for start in range(0, len(data), size):
                    end = min(start + size, len(data))
                    expected[f"{rel}:{start}:{end}"] = hashlib.sha256(data[start:end]).hexdigest()
    signed = {r["name"]: r["digest"] for r in predicate["resources"]}
    if signed != expected:
        fail(f"manifest differs: {sorted(set(signed.items()) ^ set(expected.items()))[:4]}")
    names = [r["name"] for r in predicate["resources"]]
    if names != sorted(names, key=lambda n: (n.split(":")[0].split("/"),) + tuple(int(x) for x in n.split(":")[1:])):
        fail("resources not in model_signing's order")
    print(f"verified: {len(signed)} resources, {serialization_['method']}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # an invalid signature raises InvalidSignature
        fail(repr(e))
