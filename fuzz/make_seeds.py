#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/corpus/: small valid and malformed
files for the whole-file targets (reader, roundtrip), and their JSON headers,
plus the headers of the conformance files, for the header target. Run from
the repository root; it rewrites only the seed-*.bin files it makes."""
import hashlib
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
BITS = {"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
        "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
        "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64}


def image(header: str, data: bytes = b"") -> bytes:
    h = header.encode("utf-8", "surrogatepass")
    return struct.pack("<Q", len(h)) + h + data


def entry(name, dtype, shape, begin, end, extra=""):
    return (json.dumps(name) + ':{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]%s}'
            % (dtype, json.dumps(shape, separators=(",", ":")), begin, end, extra))


def tiled(tensors, metadata=None, pad=0):
    """tensors: [(name, dtype, shape)], laid out back to back; returns an image."""
    parts, offset, data = [], 0, b""
    if metadata is not None:
        parts.append('"__metadata__":' + json.dumps(metadata, separators=(",", ":")))
    for name, dtype, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        size = n * BITS[dtype] // 8
        parts.append(entry(name, dtype, shape, offset, offset + size))
        data += bytes((offset + i * 37) & 0xFF for i in range(size))
        offset += size
    header = "{" + ",".join(parts) + "}"
    return image(header + " " * pad, data)


def sealed(tensors, corrupt=None, seal_text=None):
    """A file with a seal (spec/EXTENSIONS.md) over `tensors`; `corrupt` names
    a tensor whose first byte is flipped after sealing."""
    data, offset, layout = b"", 0, []
    for name, dtype, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        blob = bytes((offset + i * 11) & 0xFF for i in range(n * BITS[dtype] // 8))
        layout.append((name, dtype, shape, offset, offset + len(blob), blob))
        data += blob
        offset += len(blob)
    entries = ",".join(json.dumps(name) + ':{"dtype":"%s","shape":%s,"sha256":"%s"}'
                       % (dtype, json.dumps(shape, separators=(",", ":")), hashlib.sha256(blob).hexdigest())
                       for name, dtype, shape, _, _, blob in layout)
    seal = seal_text if seal_text is not None else '{"version":1,"algorithm":"sha256","tensors":{%s}}' % entries
    parts = ['"__metadata__":' + json.dumps({"format": "pt", "safeweights.seal": seal}, separators=(",", ":"))]
    parts += [entry(name, dtype, shape, b, e) for name, dtype, shape, b, e, _ in layout]
    if corrupt is not None:
        for name, _, _, b, e, _ in layout:
            if name == corrupt and e > b:
                data = data[:b] + bytes([data[b] ^ 1]) + data[b + 1:]
    return image("{" + ",".join(parts) + "}", data)


def file_seeds():
    seeds = {}
    seeds["every_dtype"] = tiled([("t_" + d, d, [4]) for d in BITS])
    seeds["every_dtype_misaligned"] = tiled([("t_" + d, d, [2, 2]) for d in BITS], pad=3)
    seeds["metadata"] = tiled([("w", "F32", [2, 3])], {"format": "pt", "k": "v\n\u00e9"})
    seeds["metadata_empty"] = tiled([("w", "F16", [1])], {})
    seeds["metadata_only"] = image('{"__metadata__":{"a":"b"}}')
    seeds["metadata_null"] = image('{"__metadata__":null,' + entry("x", "U8", [1], 0, 1) + "}", b"\x07")
    seeds["scalar_and_empty"] = tiled([("s", "F64", []), ("e", "F32", [0, 5]), ("z", "I8", [3, 0])])
    seeds["escaped_names"] = image('{"\\u0061\\n":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                   '"\\ud83d\\ude00":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"ab")
    seeds["white_space"] = image(' {\n "a" : { "shape" : [ 2 ] , "dtype" : "I16" , "data_offsets" : [ 0 , 4 ] } }\t',
                                 b"\x01\x02\x03\x04")
    seeds["unknown_field"] = image('{' + entry("a", "U8", [2], 0, 2, ',"x":[{"y":null},true,1.5e3,"s"]') + '}', b"zz")
    seeds["out_of_order"] = image('{' + entry("b", "U8", [1], 1, 2) + ',' + entry("a", "U8", [1], 0, 1) + '}', b"ab")
    seeds["zero_size_shared"] = image('{' + entry("a", "F32", [0], 0, 0) + ',' + entry("b", "F32", [0], 0, 0) + ','
                                      + entry("c", "U8", [1], 0, 1) + '}', b"c")
    seeds["subbyte"] = tiled([("f4", "F4", [6]), ("f6", "F6_E2M3", [4]), ("g6", "F6_E3M2", [2, 4])])
    seeds["trailing_bytes"] = tiled([("w", "U8", [2])]) + b"\0\0\0"
    seeds["many_small"] = tiled([("layer.%d.weight" % i, "BF16", [2, 2]) for i in range(40)], {"n": "40"})
    # Malformed, one fault each.
    num = lambda s: image('{"a":{"dtype":"U8","shape":[%s],"data_offsets":[0,1]}}' % s, b"x")
    seeds["leading_zero"] = num("01")
    seeds["minus_zero"] = num("-0")
    seeds["exponent"] = num("1e0")
    seeds["fraction"] = num("1.0")
    seeds["huge_integer"] = num("18446744073709551616")
    seeds["long_integer"] = num("1" * 400)
    seeds["deep_unknown"] = image('{' + entry("a", "U8", [1], 0, 1, ',"x":' + "[" * 200 + "]" * 200) + '}', b"x")
    seeds["deep_root"] = image("[" * 300 + "]" * 300)
    seeds["missing_value"] = image('{"a":{"dtype":,"shape":[1],"data_offsets":[0,1]}}', b"x")
    seeds["dup_metadata_key"] = image('{"__metadata__":{"k":"1","k":"2"}}')
    seeds["overflow_shape"] = num("4294967296,4294967296")
    seeds["prefix_past_end"] = struct.pack("<Q", 1000) + b"{}"
    seeds["prefix_near_2_64"] = struct.pack("<Q", 2**64 - 3) + b"{}"
    seeds["empty_dtype"] = image('{"a":{"dtype":"","shape":[1],"data_offsets":[0,4]}}', b"abcd")
    three = [("a", "F32", [2, 2]), ("b", "I8", [3]), ("c", "BF16", [0])]
    seeds["sealed"] = sealed(three)
    seeds["sealed_flipped_bit"] = sealed(three, corrupt="a")
    seeds["sealed_garbled"] = sealed(three, seal_text='{"version":1,"algorithm":"sha256","tensors":{"a":{"dtype":"F32"')
    seeds["sealed_missing_tensor"] = sealed(three, seal_text='{"version":1,"algorithm":"sha256","tensors":{}}')
    return seeds


def state_dict_seeds():
    """Files shaped like fuzz_state_dict's module: exact, prefixed, in BF16,
    with a tensor missing, one unexpected, one of the wrong shape."""
    model = [("net.0.weight", "F32", [3, 4]), ("net.0.bias", "F32", [3]), ("net.2.weight", "F32", [2, 3]),
             ("emb.weight", "F32", [5, 4]), ("norm.weight", "F32", [4]), ("norm.bias", "F32", [4]),
             ("count", "I64", [1])]
    return {
        "sd_exact": tiled(model, {"format": "pt"}),
        "sd_prefixed": tiled([("model." + n, d, s) for n, d, s in model]),
        "sd_bf16": tiled([(n, "BF16" if d == "F32" else d, s) for n, d, s in model]),
        "sd_f16_i32": tiled([(n, "F16" if d == "F32" else "I32", s) for n, d, s in model]),
        "sd_missing": tiled(model[1:]),
        "sd_unexpected": tiled(model + [("h.0.attn.bias", "F32", [2]), ("extra", "U8", [3])]),
        "sd_wrong_shape": tiled([("net.0.weight", "F32", [4, 3])] + model[1:]),
    }


def main():
    for target in ("reader", "header", "roundtrip", "state_dict"):
        (CORPUS / target).mkdir(parents=True, exist_ok=True)
    seeds = file_seeds()
    for name, data in seeds.items():
        for target in ("reader", "roundtrip"):
            (CORPUS / target / ("seed-" + name + ".bin")).write_bytes(data)
        n = struct.unpack("<Q", data[:8])[0]
        if 8 + n <= len(data):
            (CORPUS / "header" / ("seed-" + name + ".bin")).write_bytes(data[8:8 + n])
    for name, data in state_dict_seeds().items():
        (CORPUS / "state_dict" / ("seed-" + name + ".bin")).write_bytes(data)
    # Headers of the conformance files, where they are small.
    for path in sorted((ROOT / "tests" / "data" / "conformance").glob("*/*.safetensors")):
        data = path.read_bytes()
        if len(data) < 8:
            continue
        n = struct.unpack("<Q", data[:8])[0]
        if 8 + n <= len(data) and n <= 65536:
            (CORPUS / "header" / ("seed-conformance-" + path.stem + ".bin")).write_bytes(data[8:8 + n])


if __name__ == "__main__":
    main()
