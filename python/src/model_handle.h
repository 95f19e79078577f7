// ModelHandle: what `kvlab.load` returns: the model, the name it was loaded by, and its tokenizer (read on
// first use: a 33 MB tokenizer.json takes seconds, and many uses need only ids). Streams and tokenizers
// hold it through a shared_ptr, so a model lives as long as anything that runs on it.
#pragma once

#include <memory>
#include <string>

#include "kvlab/model/model.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab::python {

struct ModelHandle {
  std::string name;                // as given to load(): a path or a name under $KVLAB_ASSETS/models
  std::string weights;             // load(weights=...): auto, f32, bf16, f16 or q8
  std::string tokenizer_override;  // load(tokenizer=...): a tokenizer file instead of the model's own
  std::unique_ptr<Model> model;
  mutable std::shared_ptr<const Tokenizer> tokenizer;  // null until GetTokenizer() first runs (the GIL
                                                       // serializes that first call)

  // Loads the tokenizer on first call (throws kvlab::Error when the model has none).
  std::shared_ptr<const Tokenizer> GetTokenizer() const;
};

}  // namespace kvlab::python
