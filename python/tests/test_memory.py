"""Loading and dropping a model many times does not grow the process."""

import gc
import resource

import kvlab


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def cycle():
    m = kvlab.load("stories260K")
    s = m.stream(kv="h2o:budget=32")
    s.feed(m.tokenizer.encode("Once upon a time there was"))
    del s, m
    gc.collect()


def test_rss_stays_flat_over_100_load_unload_cycles(assets):
    for _ in range(10):  # let allocator pools and caches reach their steady size
        cycle()
    before = rss_bytes()
    for _ in range(100):
        cycle()
    grown = rss_bytes() - before
    # One model with its stream and tokenizer is ~2 MB here; a leak of one per cycle would be ~200 MB.
    assert grown < 4 << 20, f"RSS grew by {grown / 1e6:.1f} MB over 100 cycles"
