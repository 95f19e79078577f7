#include <cmath>
#include <limits>
#include <string>

#include "bindings.h"
#include "kvlab/util/error.h"

namespace kvlab::python {

py::object JsonToPython(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return py::none();
    case nlohmann::json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return py::int_(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return py::int_(j.get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return py::float_(j.get<double>());
    case nlohmann::json::value_t::string:
      // Generated text may end inside a UTF-8 sequence (byte tokens): replace what does not decode.
      return py::reinterpret_steal<py::object>(
          PyUnicode_DecodeUTF8(j.get_ref<const std::string&>().data(),
                               static_cast<Py_ssize_t>(j.get_ref<const std::string&>().size()), "replace"));
    case nlohmann::json::value_t::array: {
      py::list out;
      for (const auto& e : j) out.append(JsonToPython(e));
      return out;
    }
    case nlohmann::json::value_t::object: {
      py::dict out;
      for (const auto& [k, v] : j.items()) out[py::str(k)] = JsonToPython(v);
      return out;
    }
    default:
      return py::none();  // binary values: kvlab never produces them
  }
}

std::vector<int32_t> IdsFromPython(const py::handle& ids, const char* what) {
  if (py::isinstance<py::str>(ids) || py::isinstance<py::bytes>(ids)) {
    throw Error(what, "expected token ids (a list of ints or an integer array), got a string");
  }
  const auto check_range = [&](long long v) {
    if (v < 0 || v > std::numeric_limits<int32_t>::max())
      throw Error(what, "token id " + std::to_string(v) + " is out of range");
  };
  if (py::isinstance<py::array>(ids)) {
    const auto a = py::reinterpret_borrow<py::array>(ids);
    if (a.ndim() != 1)
      throw Error(what, "expected a 1-D array of token ids, got " + std::to_string(a.ndim()) + " dimensions");
    if (a.dtype().kind() != 'i' && a.dtype().kind() != 'u') {
      throw Error(what,
                  "expected an integer array of token ids, got dtype " + std::string(py::str(a.dtype())));
    }
    // Read in C++, not element by element through Python (a long prompt is many thousands of ids).
    const auto values = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    std::vector<int32_t> out(static_cast<size_t>(values.size()));
    for (size_t i = 0; i < out.size(); ++i) {
      check_range(values.data()[i]);
      out[i] = static_cast<int32_t>(values.data()[i]);
    }
    return out;
  }
  if (!py::isinstance<py::iterable>(ids)) {
    throw Error(what, "expected token ids (a list of ints or an integer array), got " +
                          py::str(py::type::of(ids).attr("__name__")).cast<std::string>());
  }
  std::vector<int32_t> out;
  const auto items = py::reinterpret_borrow<py::iterable>(ids);
  for (py::handle item : items) {
    if (!py::isinstance<py::int_>(item) && !py::hasattr(item, "__index__")) {
      throw Error(what, "token ids must be integers, got " +
                            std::string(py::str(py::type::of(item).attr("__name__"))));
    }
    const long long v = py::int_(py::reinterpret_borrow<py::object>(item)).cast<long long>();
    check_range(v);
    out.push_back(static_cast<int32_t>(v));
  }
  return out;
}

}  // namespace kvlab::python
