// safeweights._core integrity functions: SHA-256 of a file and of each
// tensor, sealing, checking a sealed file, and signing and verifying models
// in the OpenSSF model-signing format, all through the core (OpenSSL).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "errors.hpp"
#include "safeweights/integrity.hpp"

namespace py = pybind11;
namespace sw = safeweights;

namespace safeweights_py {
namespace {

std::string file_sha256(const std::string& path) {
  py::gil_scoped_release unlocked;
  auto d = unwrap(sw::digest_file(path));
  return sw::to_hex(d.sha256);
}

py::dict tensor_sha256(const std::string& path) {
  sw::reader r = unwrap(sw::reader::open(path));
  std::vector<sw::sha256_digest> digests;
  {
    py::gil_scoped_release unlocked;
    digests = unwrap(sw::digest_tensors(r));
  }
  py::dict out;
  auto infos = r.tensors();
  for (std::size_t i = 0; i < infos.size(); ++i)
    out[py::str(infos[i].name.data(), infos[i].name.size())] = sw::to_hex(digests[i]);
  return out;
}

void seal(const std::string& in, const std::string& out) {
  py::gil_scoped_release unlocked;
  unwrap(sw::seal_file(in, out));
}

// (tensors checked, [failure messages]); not_sealed is raised for a file without a seal.
py::tuple verify_seal(const std::string& path) {
  sw::seal_report report;
  {
    py::gil_scoped_release unlocked;
    auto sealed = unwrap(sw::sealed_reader::open(path));
    report = unwrap(sealed.verify_all());
  }
  py::list failures;
  for (const sw::error& e : report.failures) failures.append(e.message);
  return py::make_tuple(report.tensors, failures);
}

// Signs a model; returns the number of resources signed.
std::size_t sign_model(const std::string& model, const std::string& signature, const std::string& private_key,
                       const std::optional<std::string>& signing_certificate, const std::vector<std::string>& chain,
                       const std::vector<std::string>& ignore_paths, const std::string& serialization,
                       std::uint64_t shard_size, bool allow_symlinks, bool ignore_git_paths) {
  py::gil_scoped_release unlocked;
  sw::model_signer signer{unwrap(sw::private_key::load(private_key)), {}};
  if (signing_certificate) {
    signer.certificate_chain.push_back(unwrap(sw::x509_certificate::load_pem_file(*signing_certificate)).front());
    for (const auto& c : chain) {
      auto certs = unwrap(sw::x509_certificate::load_pem_file(c));
      signer.certificate_chain.insert(signer.certificate_chain.end(), certs.begin(), certs.end());
    }
  }
  sw::model_sign_options o;
  o.signature_path = signature;
  o.ignore_paths = ignore_paths;
  o.method = serialization == "shards" ? sw::serialization_method::shards : sw::serialization_method::files;
  o.shard_size = shard_size;
  o.allow_symlinks = allow_symlinks;
  o.ignore_git_paths = ignore_git_paths;
  auto bundle = unwrap(sw::sign_model(model, signer, o));
  unwrap(sw::write_model_signature(signature, bundle));
  return unwrap(sw::parse_in_toto_statement(bundle.payload, signature)).resources.size();
}

// (signer, resources, changed, missing, extra, notes); raises when the signature is not authentic.
py::tuple verify_model(const std::string& model, const std::string& signature, const std::optional<std::string>& public_key,
                       const std::vector<std::string>& certificate_chain, const std::optional<std::string>& identity,
                       const std::optional<std::string>& identity_provider, const std::optional<std::string>& trust_config,
                       const std::vector<std::string>& ignore_paths, bool ignore_git_paths) {
  sw::model_verification r;
  {
    py::gil_scoped_release unlocked;
    sw::model_trust trust;
    if (public_key) trust.key = unwrap(sw::public_key::load(*public_key));
    for (const auto& c : certificate_chain) {
      auto certs = unwrap(sw::x509_certificate::load_pem_file(c));
      trust.certificate_authorities.insert(trust.certificate_authorities.end(), certs.begin(), certs.end());
    }
    if (trust_config) {
      trust.sigstore_root = unwrap(sw::load_trust_root(*trust_config));
      trust.identity.identity = identity.value_or("");
      trust.identity.issuer = identity_provider.value_or("");
    }
    sw::model_verify_options o;
    o.ignore_paths = ignore_paths;
    o.ignore_git_paths = ignore_git_paths;
    r = unwrap(sw::verify_model(model, signature, trust, o));
  }
  return py::make_tuple(r.signer, r.resources, r.changed, r.missing, r.extra, r.notes);
}

}  // namespace

void register_integrity(py::module_& m) {
  m.def("sign_model", &sign_model, py::arg("model"), py::arg("signature"), py::arg("private_key"),
        py::arg("signing_certificate"), py::arg("certificate_chain"), py::arg("ignore_paths"), py::arg("serialization"),
        py::arg("shard_size"), py::arg("allow_symlinks"), py::arg("ignore_git_paths"));
  m.def("verify_model", &verify_model, py::arg("model"), py::arg("signature"), py::arg("public_key"),
        py::arg("certificate_chain"), py::arg("identity"), py::arg("identity_provider"), py::arg("trust_config"),
        py::arg("ignore_paths"), py::arg("ignore_git_paths"));
  m.def("file_sha256", &file_sha256, py::arg("path"));
  m.def("tensor_sha256", &tensor_sha256, py::arg("path"));
  m.def("seal", &seal, py::arg("source"), py::arg("destination"));
  m.def("verify_seal", &verify_seal, py::arg("path"));
}

}  // namespace safeweights_py
