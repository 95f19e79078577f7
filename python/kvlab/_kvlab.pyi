"""Type stubs of kvlab's compiled extension (python/src/): what editors complete and check."""

from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

from kvlab.policy import ScorePolicy

__version__: str

Ids = Sequence[int] | npt.NDArray[np.integer]

class Error(ValueError):
    """kvlab's one-line error: 'WHERE: WHAT (hint: ...)'."""

def set_threads(n: int) -> None:
    """Threads for every forward pass of this process (0: all cores)."""

def threads() -> int:
    """Threads the forward passes use."""

def load(model: str, weights: str = "auto", tokenizer: str = "", threads: int | None = None) -> Model:
    """Loads a model: a Hugging Face directory, a .gguf, a llama2.c checkpoint, or a name under
    $KVLAB_ASSETS/models. weights: auto, f32, bf16, f16 or q8."""

class Tokenizer:
    kind: str
    vocab_size: int
    bos_id: int
    eos_id: int
    def encode(self, text: str, add_special: bool | None = None, parse_special: bool = False) -> list[int]:
        """Token ids of text; add_special default: as the vocabulary asks (a BOS)."""
    def decode(self, ids: Ids, skip_special: bool = True) -> str: ...
    def piece(self, id: int) -> bytes: ...
    def is_special(self, id: int) -> bool: ...

class Model:
    name: str
    path: str
    weights: str
    config: dict[str, Any]
    tokenizer: Tokenizer
    def stream(self, kv: str | ScorePolicy = "full", context: int = 0, max_batch: int = 256) -> Stream:
        """A new stream: kv is a spec string ('h2o:budget=128') or a kvlab.ScorePolicy."""

class Stream:
    position: int
    context: int
    spec: str
    kv_bytes: int
    policy_bytes: int
    slots: npt.NDArray[np.int64]
    def feed(self, ids: Ids, all_logits: bool = False) -> npt.NDArray[np.float32]:
        """Logits float32 [vocab] of the last token, or [len(ids), vocab] with all_logits."""
    def generate(self, prompt: str | Ids | None = None, max_new_tokens: int = 32, temperature: float = 0.0,
                 top_k: int = 40, top_p: float = 0.95, repeat_penalty: float = 1.0, seed: int = 0,
                 stop_at_eos: bool = True, stop_tokens: Sequence[int] = (),
                 parse_special: bool = False) -> dict[str, Any]:
        """{'tokens': [...], 'text': str | None, 'stop_reason': str}."""
    def reset(self) -> None: ...
    def keys(self, layer: int, kv_head: int) -> npt.NDArray[np.float32]:
        """[slots, head_dim]; a read-only view of a plain cache (valid until the next feed)."""
    def values(self, layer: int, kv_head: int) -> npt.NDArray[np.float32]: ...
    def positions(self, layer: int, kv_head: int) -> npt.NDArray[np.int32]: ...
    def counts(self, layer: int, kv_head: int) -> npt.NDArray[np.uint32]: ...
    def record_attention(self, layers: Sequence[int]) -> None: ...
    def attention(self, layer: int) -> npt.NDArray[np.float32]:
        """[tokens of the last feed, n_heads, positions]."""

def perplexity(model: Model, *, text: str = "", ids: Ids | None = None, kv: str = "full", ctx: int = 0,
               max_tokens: int = 0, windowed: bool = False, stride: int = 0, vs_full: bool = False,
               stream_past_context: bool = False, curve_block: int = 0,
               parse_special: bool = False) -> dict[str, Any]:
    """As `kvlab ppl --json`."""

def fidelity(model: Model, *, text: str = "", ids: Ids | None = None, kv: str = "full",
             layers: Sequence[int] = (), warmup: int = 64, stride: int = 16, max_tokens: int = 0,
             parse_special: bool = False) -> dict[str, Any]:
    """As `kvlab fidelity --json`."""

def gen_compare(model: Model, prompts: Sequence[str], *, kv: str = "full", max_new_tokens: int = 64,
                stop_at_eos: bool = False, prompt_tokens: int = 0, parse_special: bool = False) -> dict[str, Any]:
    """As `kvlab gen-compare --json`."""

def bench(model: Model, *, kv: str = "full", prompt_tokens: int = 128, gen_tokens: int = 32, depth: int = 0,
          repetitions: int = 3, seed: int = 1, bandwidth: bool = False) -> dict[str, Any]:
    """Prefill and decode speed under a policy."""

def policies() -> dict[str, str]:
    """{name: summary} of the registered C++ policies."""

def policy_spec(spec: str) -> str:
    """The canonical form of a spec."""
