// kvlab.load, kvlab.Model, kvlab.Tokenizer and the process-wide thread count.
#include <pybind11/stl.h>

#include "bindings.h"
#include "kvlab/model/config.h"
#include "kvlab/ops/threads.h"
#include "kvlab/util/assets.h"
#include "kvlab/util/error.h"
#include "model_handle.h"

namespace kvlab::python {

std::shared_ptr<const Tokenizer> ModelHandle::GetTokenizer() const {
  if (!tokenizer) {
    const LoadedModel& m = model->loaded();
    tokenizer = LoadTokenizer({m.path, m.format, m.config.vocab_size}, tokenizer_override);
  }
  return tokenizer;
}

namespace {

std::shared_ptr<ModelHandle> Load(const std::string& name, const std::string& weights,
                                  const std::string& tokenizer, std::optional<int> threads) {
  if (threads) {
    if (*threads < 0) throw Error("threads", "must be >= 0 (0: all cores)");
    SetNumThreads(*threads);
  }
  LoadOptions load;
  load.weights = ParseWeightFormat(weights, "weights");  // before loading: a typo fails fast
  const std::filesystem::path path = ResolveModelPath(name);
  auto handle = std::make_shared<ModelHandle>();
  handle->name = name;
  handle->weights = weights;
  handle->tokenizer_override = tokenizer;
  {
    py::gil_scoped_release release;  // reading and packing weights takes a while; other threads may run
    handle->model = std::make_unique<Model>(LoadModel(path, load));
  }
  return handle;
}

py::dict ConfigDict(const ModelConfig& c) {
  py::dict d;
  d["arch"] = ArchName(c.arch);
  d["dim"] = c.dim;
  d["n_layers"] = c.n_layers;
  d["n_heads"] = c.n_heads;
  d["n_kv_heads"] = c.n_kv_heads;
  d["head_dim"] = c.head_dim;
  d["ffn_dim"] = c.ffn_dim;
  d["vocab_size"] = c.vocab_size;
  d["max_seq_len"] = c.max_seq_len;
  d["norm_eps"] = c.norm_eps;
  d["rope_theta"] = c.rope_theta;
  d["activation"] = ActivationName(c.activation);
  d["tied_embeddings"] = c.tied_embeddings;
  d["bos_id"] = c.bos_id;
  d["eos_id"] = c.eos_id;
  std::vector<int32_t> windows;
  for (int32_t l = 0; l < c.n_layers; ++l) windows.push_back(c.Window(static_cast<size_t>(l)));
  d["layer_window"] = windows;  // 0: global attention
  d["kv_bytes_per_token"] = c.KvBytesPerToken();
  return d;
}

}  // namespace

void BindModel(py::module_& m) {
  m.def("set_threads", &SetNumThreads, py::arg("n"),
        "Threads for every forward pass of this process (0: all cores).");
  m.def("threads", &NumThreads, "Threads the forward passes use.");

  py::class_<Tokenizer, std::shared_ptr<Tokenizer>>(m, "Tokenizer",
                                                    "A model's tokenizer: text <-> token ids.")
      .def_property_readonly("kind", [](const Tokenizer& t) { return std::string(t.Kind()); })
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def_property_readonly("bos_id", &Tokenizer::bos_id)
      .def_property_readonly("eos_id", &Tokenizer::eos_id)
      .def(
          "encode",
          [](const Tokenizer& t, const std::string& text, std::optional<bool> add_special,
             bool parse_special) {
            EncodeOptions o;
            o.add_special = add_special.value_or(t.add_bos_default());
            o.parse_special = parse_special;
            std::vector<int32_t> ids;
            {
              py::gil_scoped_release release;
              ids = t.Encode(text, o);
            }
            return ids;
          },
          py::arg("text"), py::arg("add_special") = py::none(), py::arg("parse_special") = false,
          "Token ids of `text`. add_special: what the vocabulary adds around a text (a BOS); default: as "
          "the\n"
          "vocabulary asks (the evaluations do the same). parse_special: special-token text such as\n"
          "'<|eot_id|>' becomes that token (off: it is tokenized as plain text).")
      .def(
          "decode",
          [](const Tokenizer& t, py::handle ids, bool skip_special) {
            DecodeOptions o;
            o.skip_special = skip_special;
            const std::string text = t.Decode(IdsFromPython(ids, "ids"), o);
            return py::reinterpret_steal<py::str>(
                PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace"));
          },
          py::arg("ids"), py::arg("skip_special") = true,
          "Text of token ids (special tokens skipped by default).")
      .def(
          "piece", [](const Tokenizer& t, int32_t id) { return py::bytes(std::string(t.Piece(id))); },
          py::arg("id"), "The raw vocabulary entry of a token (bytes; empty for an id out of range).")
      .def("is_special", &Tokenizer::IsSpecial, py::arg("id"));

  py::class_<ModelHandle, std::shared_ptr<ModelHandle>>(m, "Model",
                                                        "A loaded model (read-only; any number of streams).")
      .def_readonly("name", &ModelHandle::name)
      .def_property_readonly("path", [](const ModelHandle& h) { return h.model->loaded().path.string(); })
      .def_property_readonly(
          "config", [](const ModelHandle& h) { return ConfigDict(h.model->config()); },
          "The model's shape and settings as a dict.")
      .def_readonly("weights", &ModelHandle::weights, "The weight format load() was asked for.")
      .def_property_readonly(
          "tokenizer",
          [](const ModelHandle& h) { return std::const_pointer_cast<Tokenizer>(h.GetTokenizer()); },
          "The model's tokenizer (loaded on first use).")
      .def("__repr__", [](const ModelHandle& h) {
        const ModelConfig& c = h.model->config();
        return "<kvlab.Model " + h.name + ": " + ArchName(c.arch) + ", " + std::to_string(c.n_layers) +
               " layers, dim " + std::to_string(c.dim) + ">";
      });

  m.def("load", &Load, py::arg("model"), py::arg("weights") = "auto", py::arg("tokenizer") = "",
        py::arg("threads") = py::none(),
        "Loads a model: a Hugging Face directory, a .gguf file, a llama2.c checkpoint, or a name under\n"
        "$KVLAB_ASSETS/models (e.g. 'stories260K'). weights: auto (as stored), f32, bf16, f16 or q8.\n"
        "tokenizer: a tokenizer file to use instead of the model's own. threads: sets kvlab.set_threads.");
}

}  // namespace kvlab::python
