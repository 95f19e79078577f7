// kvlab._kvlab: the compiled half of the Python package (python/kvlab/ is the other). kvlab::Error becomes
// kvlab.Error, a ValueError subclass carrying kvlab's one-line message.
#include "bindings.h"
#include "kvlab/util/error.h"

PYBIND11_MODULE(_kvlab, m) {
  namespace py = pybind11;
  m.doc() = "kvlab's C++ engine: models, streams under KV-cache policies, and the evaluations.";
  m.attr("__version__") = KVLAB_VERSION;
  py::register_exception<kvlab::Error>(m, "Error", PyExc_ValueError);
  kvlab::python::BindModel(m);
  kvlab::python::BindPolicy(m);
  kvlab::python::BindStream(m);
  kvlab::python::BindEval(m);
}
