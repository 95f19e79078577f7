// kvlab.Stream (and Model.stream): feeding ids, generating, and reading the cache.
#include <pybind11/stl.h>

#include "bindings.h"
#include "kvlab/kv/registry.h"
#include "kvlab/util/error.h"
#include "python_policy.h"
#include "stream.h"

namespace kvlab::python {

namespace {

std::unique_ptr<KvPolicy> PolicyFrom(const py::object& kv) {
  if (py::isinstance<py::str>(kv)) return MakePolicy(kv.cast<std::string>());
  const py::object base = py::module_::import("kvlab.policy").attr("ScorePolicy");
  if (py::isinstance(kv, base)) return MakePythonPolicy(kv);
  throw Error("kv", "expected a policy spec string (e.g. 'h2o:budget=128') or a kvlab.ScorePolicy, got " +
                        py::str(py::type::of(kv).attr("__name__")).cast<std::string>());
}

std::unique_ptr<Stream> MakeStream(std::shared_ptr<ModelHandle> model, const py::object& kv, size_t context,
                                   size_t max_batch) {
  if (max_batch == 0) throw Error("max_batch", "must be >= 1");
  return std::make_unique<Stream>(std::move(model), PolicyFrom(kv), context, max_batch);
}

void CheckHead(const Stream& s, size_t layer, size_t kv_head) {
  const KvCache& c = s.cache();
  if (layer >= c.n_layers()) {
    throw Error("layer", std::to_string(layer) + " is out of range (the model has " +
                             std::to_string(c.n_layers()) + " layers)");
  }
  if (kv_head >= c.n_kv_heads()) {
    throw Error("kv_head", std::to_string(kv_head) + " is out of range (the model has " +
                               std::to_string(c.n_kv_heads()) + " kv heads)");
  }
}

// Keys or values of one head: a read-only view into the cache for a plain cache (zero-copy; the stream
// object stays alive while the view does), a decoded copy for a quantized one.
py::array CacheRows(const py::object& self, size_t layer, size_t kv_head, bool keys) {
  const Stream& s = self.cast<const Stream&>();
  CheckHead(s, layer, kv_head);
  const KvCache& c = s.cache();
  const size_t n = c.Size(layer, kv_head), d = c.head_dim();
  if (!c.quantized()) {
    const float* data = keys ? c.Keys(layer, kv_head) : c.Values(layer, kv_head);
    py::array_t<float> view({n, d}, {d * sizeof(float), sizeof(float)}, data, self);
    view.attr("flags").attr("writeable") = false;  // the cache is the policy's to change, not the caller's
    return view;
  }
  py::array_t<float> out({n, d});
  float* o = out.mutable_data();
  for (size_t i = 0; i < n; ++i) {
    const float* row =
        keys ? c.KeyRow(layer, kv_head, i, o + i * d) : c.ValueRow(layer, kv_head, i, o + i * d);
    if (row != o + i * d) std::copy(row, row + d, o + i * d);
  }
  return out;
}

std::vector<int32_t> PromptIds(Stream& s, const py::object& prompt, bool parse_special) {
  if (prompt.is_none()) return {};
  if (py::isinstance<py::str>(prompt)) {
    // A text: encoded by the model's tokenizer, with its BOS only at the start of the stream.
    auto tokenizer = s.model().GetTokenizer();
    EncodeOptions o;
    o.add_special = s.position() == 0 && tokenizer->add_bos_default();
    o.parse_special = parse_special;
    return tokenizer->Encode(prompt.cast<std::string>(), o);
  }
  return IdsFromPython(prompt, "prompt");
}

}  // namespace

void BindStream(py::module_& m) {
  py::class_<Stream>(m, "Stream",
                     "One sequence on a model: its KV cache under a policy, fed token ids in order.\n"
                     "Make one with Model.stream(kv=...).")
      .def(
          "feed",
          [](Stream& s, const py::object& ids_obj, bool all_logits) {
            const std::vector<int32_t> ids = IdsFromPython(ids_obj, "ids");
            const auto vocab = static_cast<size_t>(s.model().model->config().vocab_size);
            py::array_t<float> logits =
                all_logits ? py::array_t<float>({ids.size(), vocab}) : py::array_t<float>(vocab);
            float* out = logits.mutable_data();
            {
              py::gil_scoped_release release;
              s.Feed(ids, out, all_logits);
            }
            return logits;
          },
          py::arg("ids"), py::arg("all_logits") = false,
          "Runs token ids at the next positions (chunks of max_batch, the policy compressing after each).\n"
          "Returns the logits of the last token, float32 [vocab], or with all_logits [len(ids), vocab].")
      .def(
          "generate",
          [](Stream& s, const py::object& prompt, int32_t max_new_tokens, float temperature, int32_t top_k,
             float top_p, float repeat_penalty, uint64_t seed, bool stop_at_eos,
             std::vector<int32_t> stop_tokens, bool parse_special) {
            const std::vector<int32_t> ids = PromptIds(s, prompt, parse_special);
            GenerateSettings g;
            g.max_new_tokens = max_new_tokens;
            g.sampler.temperature = temperature;
            g.sampler.top_k = top_k;
            g.sampler.top_p = top_p;
            g.sampler.repeat_penalty = repeat_penalty;
            g.sampler.seed = seed;
            g.stop_at_eos = stop_at_eos;
            g.stop_tokens = std::move(stop_tokens);
            std::string reason;
            std::vector<int32_t> out;
            {
              py::gil_scoped_release release;
              out = s.Generate(ids, g, reason);
            }
            py::dict d;
            d["tokens"] = out;
            d["stop_reason"] = reason;
            try {
              const auto tokenizer = s.model().GetTokenizer();
              const std::string text = tokenizer->Decode(out);
              d["text"] = py::reinterpret_steal<py::str>(
                  PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace"));
            } catch (const Error&) {
              d["text"] = py::none();  // a model without a tokenizer generates ids only
            }
            return d;
          },
          py::arg("prompt") = py::none(), py::arg("max_new_tokens") = 32, py::arg("temperature") = 0.0f,
          py::arg("top_k") = 40, py::arg("top_p") = 0.95f, py::arg("repeat_penalty") = 1.0f,
          py::arg("seed") = 0, py::arg("stop_at_eos") = true, py::arg("stop_tokens") = std::vector<int32_t>{},
          py::arg("parse_special") = false,
          "Feeds `prompt` (a text, token ids, or None to go on from the last fed token), then samples up to\n"
          "max_new_tokens tokens (temperature 0: greedy) and feeds each. Returns {'tokens', 'text',\n"
          "'stop_reason'}.")
      .def("reset", &Stream::Reset, "Empties the cache and starts the policy afresh at position 0.")
      .def_property_readonly("position", &Stream::position, "The position the next fed token gets.")
      .def_property_readonly("context", &Stream::context, "Positions an unbounded cache has room for.")
      .def_property_readonly("spec", &Stream::Spec, "The policy's canonical spec.")
      .def_property_readonly(
          "kv_bytes", [](const Stream& s) { return s.cache().Bytes(); },
          "Exact bytes the cache's live slots hold (keys, values, scales, slot metadata).")
      .def_property_readonly(
          "policy_bytes",
          [](const Stream& s) { return s.policy() ? s.policy()->MetadataBytes() : size_t{0}; },
          "Bytes of policy state that count as KV memory (scores, sketches); 0 for Python policies.")
      .def_property_readonly(
          "slots",
          [](const Stream& s) {
            const KvCache& c = s.cache();
            py::array_t<int64_t> out({c.n_layers(), c.n_kv_heads()});
            for (size_t l = 0; l < c.n_layers(); ++l) {
              for (size_t h = 0; h < c.n_kv_heads(); ++h)
                out.mutable_at(l, h) = static_cast<int64_t>(c.Size(l, h));
            }
            return out;
          },
          "Live slots per (layer, kv head), int64 [n_layers, n_kv_heads].")
      .def(
          "keys",
          [](const py::object& self, size_t layer, size_t kv_head) {
            return CacheRows(self, layer, kv_head, true);
          },
          py::arg("layer"), py::arg("kv_head"),
          "Keys of one head's live slots, float32 [slots, head_dim], after RoPE. For a plain cache a "
          "read-only\n"
          "view into the cache (no copy) that shows the cache as it is now: the next feed, generate or "
          "reset\n"
          "moves slots, so .copy() what you keep. For a quantized cache a decoded copy.")
      .def(
          "values",
          [](const py::object& self, size_t layer, size_t kv_head) {
            return CacheRows(self, layer, kv_head, false);
          },
          py::arg("layer"), py::arg("kv_head"), "Values of one head's live slots, as keys().")
      .def(
          "positions",
          [](const Stream& s, size_t layer, size_t kv_head) {
            CheckHead(s, layer, kv_head);
            const auto meta = s.cache().Meta(layer, kv_head);
            py::array_t<int32_t> out(meta.size());
            for (size_t i = 0; i < meta.size(); ++i) out.mutable_data()[i] = meta[i].pos;
            return out;
          },
          py::arg("layer"), py::arg("kv_head"),
          "Original positions of one head's live slots, int32 [slots] (a copy).")
      .def(
          "counts",
          [](const Stream& s, size_t layer, size_t kv_head) {
            CheckHead(s, layer, kv_head);
            const auto meta = s.cache().Meta(layer, kv_head);
            py::array_t<uint32_t> out(meta.size());
            for (size_t i = 0; i < meta.size(); ++i) out.mutable_data()[i] = meta[i].count;
            return out;
          },
          py::arg("layer"), py::arg("kv_head"),
          "Tokens each live slot stands for, uint32 [slots]: 1, or more for a summary slot (cluster).")
      .def(
          "record_attention",
          [](Stream& s, std::vector<int> layers) { s.RecordAttention(std::move(layers)); }, py::arg("layers"),
          "Records the attention of these layers during each later feed (an empty list stops recording).")
      .def(
          "attention",
          [](const Stream& s, size_t layer) {
            const AttentionCapture* c = s.capture();
            const std::vector<float>* r = c ? c->Record(layer) : nullptr;
            if (r == nullptr)
              throw Error("layer", std::to_string(layer) + " is not recorded: call record_attention first");
            if (c->tokens() == 0)
              throw Error("attention", "nothing recorded yet: feed tokens after record_attention");
            const size_t width = static_cast<size_t>(c->start_pos()) + c->tokens();
            py::array_t<float> out({c->tokens(), c->n_heads(), width});
            std::copy(r->begin(), r->end(), out.mutable_data());
            return out;
          },
          py::arg("layer"),
          "The attention of one recorded layer during the last feed: float32 [tokens, n_heads, positions],\n"
          "entry [t, h, p] the probability query token t (head h) gave the slot of original position p (0\n"
          "where the cache holds no slot of p; a summary slot counts at its founder position). A copy.");

  auto model = py::reinterpret_borrow<py::class_<ModelHandle, std::shared_ptr<ModelHandle>>>(m.attr("Model"));
  model.def("stream", &MakeStream, py::arg("kv") = py::str("full"), py::arg("context") = 0,
            py::arg("max_batch") = 256,
            "A new stream on this model. kv: a policy spec string (docs/POLICIES.md, e.g. 'h2o:budget=128')\n"
            "or a kvlab.ScorePolicy instance. context: positions an unbounded cache must hold (0: the\n"
            "model's trained context). max_batch: tokens per forward chunk.");
}

}  // namespace kvlab::python
