#!/usr/bin/env python3
"""Expected RoPE tables for tests/unit/ops_rope_frequencies_test.cc.

Each function restates one function of transformers' src/transformers/modeling_rope_utils.py in numpy, operation
by operation: tensors are float32, Python scalars are float64 and become float32 where they meet a tensor, and
`scalar / tensor` is reciprocal(tensor) * scalar as torch evaluates it. Prints C++ initializer lists (%.9g is
enough to give back the exact float32). Run with a python3 that has numpy; the test embeds the output.
"""
import math

import numpy as np

f32 = np.float32


def rcp(x):  # torch's scalar / tensor == tensor.reciprocal() * scalar
    return f32(1.0) / x


def base_freqs(base, dim):  # base ** (torch.arange(0, dim, 2).float() / dim)
    return f32(base) ** (np.arange(0, dim, 2).astype(f32) / f32(dim))


def default(base, dim):  # _compute_default_rope_parameters
    return rcp(base_freqs(base, dim)), 1.0


def linear(base, dim, factor):  # _compute_linear_scaling_rope_parameters
    inv, _ = default(base, dim)
    return inv / f32(factor), 1.0


def llama3(base, dim, factor, low_freq_factor, high_freq_factor, old_context_len):  # _compute_llama3_parameters
    inv_freq, _ = default(base, dim)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = rcp(inv_freq) * f32(2 * math.pi)
    inv_freq_llama = np.where(wavelen > f32(low_freq_wavelen), inv_freq / f32(factor), inv_freq)
    smooth_factor = (rcp(wavelen) * f32(old_context_len) - f32(low_freq_factor)) / f32(
        high_freq_factor - low_freq_factor)
    smoothed = (f32(1) - smooth_factor) * inv_freq_llama / f32(factor) + smooth_factor * inv_freq_llama
    is_medium = ~(wavelen < f32(high_freq_wavelen)) & ~(wavelen > f32(low_freq_wavelen))
    return np.where(is_medium, smoothed, inv_freq_llama).astype(f32), 1.0


def yarn(base, dim, factor, original_max, beta_fast=32, beta_slow=1, attention_factor=None, mscale=None,
         mscale_all_dim=None, truncate=True):  # _compute_yarn_parameters (newest: truncate, mscale, original)
    def get_mscale(scale, m=1):
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = float(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim))
        else:
            attention_factor = get_mscale(factor)

    def correction_dim(rot):
        return (dim * math.log(original_max / (rot * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(dim // 2, dtype=f32) - f32(low)) / f32(high - low), f32(0), f32(1))
    pos_freqs = base_freqs(base, dim)
    extrapolation = rcp(pos_freqs)
    interpolation = rcp(f32(factor) * pos_freqs)
    extrapolation_factor = f32(1) - ramp
    inv = interpolation * (f32(1) - extrapolation_factor) + extrapolation * extrapolation_factor
    return inv.astype(f32), attention_factor


def longrope(base, dim, ext_factors, max_positions, original_max):  # _compute_longrope_parameters
    factor = max_positions / original_max
    attention_factor = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original_max))
    ext = np.array(ext_factors, dtype=f32)
    shape = np.arange(0, dim, 2).astype(f32) / f32(dim)
    return rcp(ext * (f32(base) ** shape)).astype(f32), attention_factor


# Synthetic but Phi-3-mini-128k-like LongRoPE factors for 48 pairs (head_dim 96): short near 1, long rising to ~60.
PHI3_SHORT = [round(1.0 + 0.08 * (i / 47) ** 2, 4) for i in range(48)]
PHI3_LONG = [round(1.0 + 59.0 * (i / 47) ** 3, 4) for i in range(48)]


def emit(name, values):
    def literal(v):  # a C++ float literal: 1 -> 1.0f, 0.5 -> 0.5f
        text = "%.9g" % v
        return text + ("f" if ("." in text or "e" in text) else ".0f")

    body = ", ".join(literal(v) for v in values)
    print(f"// {name}\n{{{body}}}\n")


def main():
    emit("llama3 arch-zoo", llama3(5e5, 32, 8.0, 1.0, 4.0, 32)[0])
    emit("llama3 Llama-3.1-8B", llama3(5e5, 128, 8.0, 1.0, 4.0, 8192)[0])
    emit("linear x2", linear(1e4, 16, 2.0)[0])
    inv, att = yarn(1e6, 128, 4.0, 32768)
    emit("yarn Qwen2.5 attention %.9g" % att, inv)
    inv, att = yarn(1e4, 64, 40.0, 4096, mscale=1.0, mscale_all_dim=0.707)
    emit("yarn DeepSeek-style attention %.9g" % f32(att), inv)
    inv, att = yarn(1.5e5, 64, 32.0, 4096, truncate=False)
    emit("yarn truncate=false attention %.9g" % att, inv)
    emit("phi3 short_factor", PHI3_SHORT)
    emit("phi3 long_factor", PHI3_LONG)
    inv, att = longrope(1e4, 96, PHI3_SHORT, 131072, 4096)
    emit("longrope short attention %.9g" % f32(att), inv)
    emit("longrope long", longrope(1e4, 96, PHI3_LONG, 131072, 4096)[0])


if __name__ == "__main__":
    main()
