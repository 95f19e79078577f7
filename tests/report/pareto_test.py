#!/usr/bin/python3
"""Unit tests of the report's "Quality against KV bytes" section (tools/report/kvlab_report_pareto.py): the
Pareto frontier, the bytes it is drawn against, the spec parsing behind colours, markers and labels, and the
frontier file it writes. Run with Debian's python3 (matplotlib), as `kvlab report` runs the script; exit
code 77 (skipped) where matplotlib is missing."""

import csv
import os
import sys
import tempfile
import unittest

try:
    import matplotlib  # noqa: F401
except ImportError:
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "report"))
sys.dont_write_bytecode = True
import kvlab_report as kr  # noqa: E402
import kvlab_report_pareto as kp  # noqa: E402


def row(policy, kv, kl=None, ppl=None, policy_bytes=0, model="m"):
    r = {"model": model, "text": "t.txt", "policy": policy, "kv_bytes": kv, "policy_bytes": policy_bytes}
    if kl is not None:
        r["kl_mean"] = kl
    if ppl is not None:
        r["ppl"] = ppl
    return r


class Frontier(unittest.TestCase):
    def test_keeps_exactly_the_undominated_points_sorted_by_bytes(self):
        pts = [(100, 0.5, "a"), (200, 0.2, "b"), (250, 0.3, "c"), (60, 0.9, "d"), (400, 0.25, "e"),
               (500, 0.01, "f"), (1000, 0.0, "full"), (700, 0.4, "g")]
        self.assertEqual([p[2] for p in kp.frontier(pts)], ["d", "a", "b", "f", "full"])

    def test_ties(self):
        # Same bytes: only the lower value. Same value: only the fewer bytes. Exact duplicates: the first.
        pts = [(100, 0.3, "worse"), (100, 0.2, "better"), (150, 0.2, "same value, more bytes"),
               (50, 0.9, "x"), (50, 0.9, "x again")]
        self.assertEqual([p[2] for p in kp.frontier(pts)], ["x", "better"])

    def test_empty_and_single(self):
        self.assertEqual(kp.frontier([]), [])
        self.assertEqual(kp.frontier([(1, 1, "only")]), [(1, 1, "only")])

    def test_every_point_is_on_the_frontier_or_dominated_by_one_on_it(self):
        import random
        rng = random.Random(7)
        pts = [(rng.randint(1, 50), rng.randint(0, 50), i) for i in range(300)]
        front = kp.frontier(pts)
        ids = {p[2] for p in front}
        for p in pts:
            dominated = any(q[0] <= p[0] and q[1] <= p[1] and (q[0] < p[0] or q[1] < p[1]) for q in pts)
            if p[2] in ids:
                self.assertFalse(dominated, p)
            elif not dominated:  # an exact duplicate of a frontier point
                self.assertTrue(any(q[:2] == p[:2] for q in front), p)


class Rows(unittest.TestCase):
    def test_bytes_include_policy_metadata(self):
        self.assertEqual(kp.total_bytes(row("snapkv:budget=64", 87840, policy_bytes=82949)), 170789)
        self.assertEqual(kp.total_bytes({"kv_bytes": 10}), 10)
        self.assertIsNone(kp.total_bytes({"policy_bytes": 10}))

    def test_frontier_uses_the_total(self):
        # c holds fewer cache bytes than b, but with its metadata more: b dominates it.
        rows = [row("a", 100, kl=0.5), row("b", 200, kl=0.2), row("c", 150, kl=0.3, policy_bytes=100)]
        self.assertEqual([p[2]["policy"] for p in kp.frontier(kp.points_of(rows, "kl_mean"))], ["a", "b"])

    def test_rows_without_the_metric_are_left_out(self):
        rows = [row("a", 100, kl=0.5, ppl=3), row("b", 50, ppl=4), {"policy": "c", "kl_mean": 0.1}]
        self.assertEqual([p[2]["policy"] for p in kp.points_of(rows, "kl_mean")], ["a"])
        self.assertEqual([p[2]["policy"] for p in kp.points_of(rows, "ppl")], ["a", "b"])

    def test_family_marker_and_label_from_the_spec(self):
        cases = [
            ("h2o:budget=64,recent=16+quant:k=int4,v=int4,group=32,residual=0", "h2o", True, "h2o b=64+int4"),
            ("quant:k=int8,v=int8,group=32,residual=0", "quant", True, "quant int8"),
            ("quant:k=int8,v=int4", "quant", True, "quant k=int8,v=int4"),
            ("sketch:type=cms,width=256,depth=4,budget=64,recent=16,strategy=aggregate,summaries=16",
             "sketch", False, "sketch cms/agg w=256 b=64"),
            ("sketch:type=race,width=128,depth=4,bits=7,budget=128,strategy=topk", "sketch", False,
             "sketch race w=128 b=128"),
            ("window:budget=256", "window", False, "window b=256"),
            ("h2o:ratio=0.25,budget=128", "h2o", False, "h2o b=128 r=0.25"),
            ("full", "full", False, "full"),
        ]
        for spec, fam, quant, label in cases:
            r = {"policy": spec}
            self.assertEqual(kp.family(r), fam, spec)
            self.assertEqual(kp.quantized(r), quant, spec)
            self.assertEqual(kp.short_label(r), label, spec)
        # No spec: the policy name; a codec field alone marks quantization.
        self.assertEqual(kp.family({"policy_name": "h2o+quant"}), "h2o")
        self.assertTrue(kp.quantized({"policy": "x", "codec": "int4"}))


class Section(unittest.TestCase):
    def test_one_figure_and_frontier_file_per_model(self):
        rows = [row("full", 1000, kl=0.0, ppl=10), row("window:budget=8", 100, kl=0.5, ppl=14),
                row("h2o:budget=8+quant:k=int4,v=int4", 50, kl=0.9, ppl=20, policy_bytes=10),
                row("window:budget=16", 300, kl=0.6, ppl=9), row("full", 900, kl=0.0, ppl=8, model="n/2")]
        with tempfile.TemporaryDirectory() as out:
            rep = kr.Report(out)
            kp.pareto_plots(rep, rows + [{"policy": "no bytes", "kl_mean": 0.1}])
            self.assertEqual(rep.sections[0][0], "Quality against KV bytes")
            self.assertEqual(sorted(f for f in os.listdir(out) if f.endswith(".csv")),
                             ["pareto_m.csv", "pareto_n_2.csv"])
            for name in ("pareto_m", "pareto_n_2"):
                self.assertGreater(os.path.getsize(os.path.join(out, name + ".png")), 1000)
            with open(os.path.join(out, "pareto_m.csv"), encoding="utf-8") as f:
                got = [(c["metric"], c["policy"], c["bytes"], c["value"]) for c in csv.DictReader(f)]
            self.assertEqual(got, [
                ("kl_mean", "h2o:budget=8+quant:k=int4,v=int4", "60", "0.9"),
                ("kl_mean", "window:budget=8", "100", "0.5"),
                ("kl_mean", "full", "1000", "0"),
                ("ppl", "h2o:budget=8+quant:k=int4,v=int4", "60", "20"),
                ("ppl", "window:budget=8", "100", "14"),
                ("ppl", "window:budget=16", "300", "9"),
            ])

    def test_no_rows_with_bytes_and_quality_draws_nothing(self):
        with tempfile.TemporaryDirectory() as out:
            rep = kr.Report(out)
            kp.pareto_plots(rep, [{"policy": "full", "ppl": 3}, {"policy": "x", "kv_bytes": 5}])
            self.assertEqual(rep.sections, [])
            self.assertEqual(os.listdir(out), [])


if __name__ == "__main__":
    unittest.main()
