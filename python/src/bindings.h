// The pieces of the `kvlab._kvlab` extension module, one Bind* function per concept (module.cc calls
// them in order), and the conversions they share.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace kvlab::python {

namespace py = pybind11;

void BindModel(py::module_& m);   // load, Model, Tokenizer, threads (model_bindings.cc)
void BindPolicy(py::module_& m);  // policies(), policy_spec() (policy_bindings.cc)
void BindStream(py::module_& m);  // Stream (stream_bindings.cc)
void BindEval(py::module_& m);    // perplexity, fidelity, gen_compare, bench (eval_bindings.cc)

// A JSON value as the Python object json.loads would give (dict, list, int, float, str, bool, None).
py::object JsonToPython(const nlohmann::json& j);

// Token ids from a Python sequence of ints or a 1-D integer numpy array; throws kvlab::Error naming
// `what` on anything else (floats, negative ids, more than one dimension).
std::vector<int32_t> IdsFromPython(const py::handle& ids, const char* what);

}  // namespace kvlab::python
