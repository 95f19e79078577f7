// The policy registry from Python: what policies exist, and a spec's canonical form.
#include <pybind11/stl.h>

#include "bindings.h"
#include "kvlab/kv/registry.h"

namespace kvlab::python {

void BindPolicy(py::module_& m) {
  m.def(
      "policies",
      [] {
        py::dict out;
        for (const PolicyInfo& p : RegisteredPolicies()) out[py::str(p.name)] = p.summary;
        return out;
      },
      "The registered C++ policies: {name: one-line summary} (docs/POLICIES.md has their keys).");
  m.def(
      "policy_spec", [](const std::string& spec) { return MakePolicy(spec)->Spec(); }, py::arg("spec"),
      "The canonical form of a policy spec (keys in order, the defaults a reader needs); raises kvlab.Error\n"
      "on a bad one.");
}

}  // namespace kvlab::python
