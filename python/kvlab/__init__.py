"""kvlab from Python: models, streams under KV-cache policies, the evaluations, and results as DataFrames.

    import kvlab
    model = kvlab.load("stories260K")                   # a name under $KVLAB_ASSETS/models, or a path
    stream = model.stream(kv="h2o:budget=64,recent=16")
    logits = stream.feed(model.tokenizer.encode("Once upon a time"))
    kvlab.perplexity(model, text="tinystories_val.txt", kv="window:budget=64", vs_full=True)

The engine is C++ (kvlab._kvlab); forward passes release the GIL. Errors raise kvlab.Error (a ValueError)
with kvlab's one-line message. docs/PYTHON.md has the whole tour.
"""

from kvlab._kvlab import (
    Error,
    Model,
    Stream,
    Tokenizer,
    __version__,
    bench,
    fidelity,
    gen_compare,
    load,
    perplexity,
    policies,
    policy_spec,
    set_threads,
    threads,
)
from kvlab.policy import H2O, ScorePolicy
from kvlab import results

__all__ = [
    "Error",
    "H2O",
    "Model",
    "ScorePolicy",
    "Stream",
    "Tokenizer",
    "__version__",
    "bench",
    "fidelity",
    "gen_compare",
    "load",
    "perplexity",
    "policies",
    "policy_spec",
    "results",
    "set_threads",
    "threads",
]
