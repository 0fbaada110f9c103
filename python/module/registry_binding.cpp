// safeweights._core.Registry: the model registry (registry/registry.hpp)
// for Python, the same C++ core as the CLI's. Results come back as dicts
// and lists; a version's __metadata__ as the JSON text the registry
// recorded (safeweights/registry.py parses it). The GIL is released around
// every call (they hash and copy files); a mutex keeps one call at a time
// on a Registry, whose SQLite connection runs one transaction at a time.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mutex>
#include <optional>
#include <string>

#include "errors.hpp"
#include "safeweights/registry/registry.hpp"

namespace py = pybind11;
namespace sw = safeweights;

namespace safeweights_py {
namespace {

struct registry_handle {
  explicit registry_handle(sw::registry r) : reg(std::move(r)) {}
  sw::registry reg;
  std::mutex busy;

  // Runs `call` on the registry with the GIL released, one call at a time.
  template <class Call>
  auto run(Call&& call) {
    py::gil_scoped_release unlocked;
    std::lock_guard<std::mutex> one_at_a_time(busy);
    return unwrap(call(reg));
  }
};

py::object optional_str(const std::optional<std::string>& s) { return s ? py::object(py::str(*s)) : py::object(py::none()); }

py::dict version_dict(const sw::model_version& v) {
  py::dict d;
  d["model"] = v.model;
  d["version"] = v.version;
  d["seq"] = v.seq;
  d["kind"] = v.kind;
  d["size"] = v.size;
  d["aliases"] = v.aliases;
  d["added_by"] = v.added_by;
  d["added_at"] = v.added_at;
  d["note"] = optional_str(v.note);
  d["source"] = v.source;
  d["path"] = v.path;
  py::list files;
  for (const auto& f : v.files) {
    py::dict file;
    file["path"] = f.path;
    file["sha256"] = f.sha256;
    file["size"] = f.size;
    file["metadata_json"] = optional_str(f.metadata_json);
    files.append(file);
  }
  d["files"] = files;
  return d;
}

py::dict change_dict(const sw::alias_change& c) {
  py::dict d;
  d["model"] = c.model;
  d["alias"] = c.alias;
  d["previous"] = optional_str(c.previous);
  d["current"] = c.current;
  return d;
}

}  // namespace

void register_registry(py::module_& m) {
  py::class_<registry_handle>(m, "Registry")
      .def_static("open", [](const std::string& dir) {
        py::gil_scoped_release unlocked;
        return std::make_unique<registry_handle>(unwrap(sw::registry::open(dir)));
      }, py::arg("dir"))
      .def_static("init", [](const std::string& dir) {
        py::gil_scoped_release unlocked;
        return std::make_unique<registry_handle>(unwrap(sw::registry::init(dir)));
      }, py::arg("dir"))
      .def_property_readonly("dir", [](registry_handle& h) { return h.reg.dir(); })
      .def("add", [](registry_handle& h, const std::string& path, const std::string& name,
                     const std::optional<std::string>& version, const std::optional<std::string>& note, bool link) {
        sw::registry_add_options o;
        o.version = version;
        o.note = note;
        o.link = link;
        auto v = h.run([&](sw::registry& r) { return r.add(path, name, o); });
        return version_dict(v);
      }, py::arg("path"), py::arg("name"), py::arg("version") = py::none(), py::arg("note") = py::none(),
         py::arg("link") = false)
      .def("list", [](registry_handle& h, const std::optional<std::string>& name) {
        auto versions = h.run([&](sw::registry& r) { return r.list(name); });
        py::list out;
        for (const auto& v : versions) out.append(version_dict(v));
        return out;
      }, py::arg("name") = py::none())
      .def("show", [](registry_handle& h, const std::string& ref) {
        return version_dict(h.run([&](sw::registry& r) { return r.show(ref); }));
      }, py::arg("ref"))
      .def("alias", [](registry_handle& h, const std::string& ref, const std::string& alias) {
        return change_dict(h.run([&](sw::registry& r) { return r.alias(ref, alias); }));
      }, py::arg("ref"), py::arg("alias"))
      .def("rollback", [](registry_handle& h, const std::string& name, const std::string& alias) {
        return change_dict(h.run([&](sw::registry& r) { return r.rollback(name, alias); }));
      }, py::arg("name"), py::arg("alias"))
      .def("resolve", [](registry_handle& h, const std::string& ref, bool sizes_only) {
        auto check = sizes_only ? sw::resolve_check::sizes : sw::resolve_check::digests;
        return h.run([&](sw::registry& r) { return r.resolve(ref, check); }).string();
      }, py::arg("ref"), py::arg("sizes_only") = false)
      .def("verify", [](registry_handle& h, const std::optional<std::string>& key_path) {
        auto report = h.run([&](sw::registry& r) -> sw::result<sw::registry_verification> {
          std::optional<sw::public_key> key;
          if (key_path) {
            auto k = sw::public_key::load(*key_path);
            if (!k) return std::move(k).error_value();
            key = std::move(*k);
          }
          return r.verify(key);
        });
        py::dict d;
        d["ok"] = report.ok();
        d["versions"] = report.versions;
        d["objects"] = report.objects;
        d["bytes"] = report.bytes;
        d["signatures"] = report.signatures;
        py::list problems;
        for (const auto& p : report.problems) {
          py::dict problem;
          problem["model"] = p.model;
          problem["version"] = p.version;
          problem["path"] = p.path;
          problem["message"] = p.message;
          problems.append(problem);
        }
        d["problems"] = problems;
        d["notes"] = report.notes;
        return d;
      }, py::arg("key") = py::none())
      .def("gc", [](registry_handle& h, std::uint64_t keep) {
        auto report = h.run([&](sw::registry& r) { return r.gc(keep); });
        py::dict d;
        d["removed_versions"] = report.removed_versions;
        d["removed_objects"] = report.removed_objects;
        d["freed_bytes"] = report.freed_bytes;
        d["removed_strays"] = report.removed_strays;
        return d;
      }, py::arg("keep"))
      .def("log", [](registry_handle& h) {
        auto entries = h.run([&](sw::registry& r) { return r.log(); });
        py::list out;
        for (const auto& e : entries) {
          py::dict d;
          d["id"] = e.id;
          d["at"] = e.at;
          d["user"] = e.user;
          d["action"] = e.action;
          d["model"] = optional_str(e.model);
          d["version"] = optional_str(e.version);
          d["detail"] = e.detail;
          out.append(d);
        }
        return out;
      });
}

}  // namespace safeweights_py
