"""kvlab report: the "Quality against KV bytes" section, the first of the page.

Imported by kvlab_report.py (which must sit next to this file) only when some row has `kv_bytes` and
`kl_mean` or `ppl`. One point per row (configuration): its quality against the bytes it held,

    bytes = kv_bytes + policy_bytes

the cache (codes, scales, slot metadata) plus the policy's own state (scores, sketches, observation windows):
what a run pays, the numerator of a sweep row's kv_ratio (docs/METRICS.md, "Memory"). Colour: the first
part of the spec's policy (`h2o` of `h2o:budget=64+quant:k=int4,v=int4`); a square marker: a quant part
(composite or quant alone). The Pareto frontier (no other row has fewer or equal bytes and lower or equal
KL / perplexity, one of them strictly) is a step line, its points labelled.

Per model (per model and text when one model's rows cover several texts): one figure `pareto_<model>` with
a KL panel (log scale; KL = 0, the full cache, on a line at the bottom) and a perplexity panel, and
`pareto_<model>.csv` with the frontier points of both. Rows of other contexts, lengths or seeds of the same
model and text are points of the same figure.
"""

import csv
import math
import os
import re
from collections import OrderedDict

import kvlab_report as kr
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullLocator
from matplotlib.transforms import Bbox

plt = kr.plt
num, Skip = kr.num, kr.Skip

QUANT_MARKER, PLAIN_MARKER = "s", "o"
METRICS = (("kl_mean", "KL(full || policy), nats"), ("ppl", "perplexity"))


# ----------------------------------------------------------------------------------------------- data

def spec_parts(r):
    """[(name, {param: value})] of the row's spec `a:k=v,...+b:...`; from policy_name when there is no spec."""
    spec = r.get("policy")
    if not isinstance(spec, str) or not spec:
        spec = str(r.get("policy_name") or "?")
    parts = []
    for part in spec.split("+"):
        name, _, params = part.partition(":")
        kv = OrderedDict()
        for p in params.split(","):
            k, eq, v = p.partition("=")
            if eq:
                kv[k.strip()] = v.strip()
        parts.append((name.strip(), kv))
    return parts


def family(r):
    """The first part's policy name: the colour."""
    return spec_parts(r)[0][0] or "?"


def quantized(r):
    """A quant part anywhere in the spec (or a codec field): the marker."""
    return bool(r.get("codec")) or any(name == "quant" for name, _ in spec_parts(r))


def total_bytes(r):
    """kv_bytes + policy_bytes, or None without kv_bytes."""
    if not num(r.get("kv_bytes")):
        return None
    return r["kv_bytes"] + (r["policy_bytes"] if num(r.get("policy_bytes")) else 0)


def short_label(r):
    """`h2o b=64+int4`, `sketch cms/agg w=256 b=64`, `window r=0.25`, `quant int8`, `full`: the policy, its
    budget (slots or ratio) and the parameters that tell the sweep's rows apart; the full spec is in the CSV
    and the table."""
    parts = spec_parts(r)
    out = []
    for i, (name, kv) in enumerate(parts):
        if name == "quant":
            k, v = kv.get("k", "int8"), kv.get("v", "int8")
            codec = k if k == v else "k=%s,v=%s" % (k, v)
            out.append(("+" if i else "quant ") + codec)
            continue
        label = name
        if name == "sketch":
            label += " " + kv.get("type", "cms")
            if kv.get("strategy") == "aggregate":
                label += "/agg"
            if "width" in kv:
                label += " w=" + kv["width"]
        if "budget" in kv:
            label += " b=" + kv["budget"]
        if "ratio" in kv:
            label += " r=" + kv["ratio"]
        out.append(("+" if i else "") + label)
    return "".join(out)


def frontier(points):
    """The points (x, y, ...) not dominated by another: none has x' <= x and y' <= y with one strictly
    smaller. Sorted by x (y falls along it). Of exact duplicates only the first is kept."""
    front, best = [], math.inf
    for p in sorted(points, key=lambda p: (p[0], p[1])):
        if p[1] < best:
            front.append(p)
            best = p[1]
    return front


def points_of(rows, metric):
    """[(bytes, value, row)] of the rows with both."""
    return [(total_bytes(r), r[metric], r) for r in rows if total_bytes(r) is not None and num(r.get(metric))]


has_fields = kr.has_pareto_fields


# ----------------------------------------------------------------------------------------------- drawing

def human_bytes(v, _pos=None):
    for unit, scale in (("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if v >= scale:
            q = v / scale
            return ("%.0f %s" if q >= 10 or q == int(q) else "%.1f %s") % (q, unit)
    return "%.0f B" % v


def family_colors(families):
    """{family: colour}: the full cache black, quant alone grey, the others tab10's colours (its grey left
    out), then tab20's light ones, in order of first appearance."""
    fixed = {"full": "k", "quant": "0.55"}
    tab10, tab20 = plt.get_cmap("tab10").colors, plt.get_cmap("tab20").colors
    palette = [c for i, c in enumerate(tab10) if i != 7] + [c for i, c in enumerate(tab20) if i % 2 and i != 15]
    rest = [f for f in families if f not in fixed]
    colors = OrderedDict((f, fixed[f] if f in fixed else palette[rest.index(f) % len(palette)]) for f in families)
    return colors


def overlap(a, b):
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


# Label offsets (points) from the frontier point, tried in order. Below-left of a frontier point is empty
# (no row does better on both axes) and the step line runs right and up from it, so those come first.
OFFSETS = [(-5, -4, "right", "top"), (5, -4, "left", "top"), (-5, 4, "right", "bottom"),
           (0, -8, "center", "top"), (-14, -14, "right", "top"), (5, 4, "left", "bottom"),
           (-24, -4, "right", "top"), (-4, -22, "right", "top"), (14, -14, "left", "top"),
           (-30, -24, "right", "top"), (0, -30, "center", "top"), (-40, 8, "right", "bottom"),
           (20, -30, "left", "top"), (-50, -40, "right", "top")]


def place_labels(fig, ax, labelled, obstacles, line):
    """Annotates each (x, y, text) at the first offset whose text box overlaps no earlier label, no marker,
    not the step line through `line` (its corners) and stays inside the axes; else at the offset with the
    least overlap. Far offsets get a leader line."""
    r = fig.canvas.get_renderer()
    frame = ax.get_window_extent(r)
    marks = []
    for x, y in obstacles:
        px, py = ax.transData.transform((x, y))
        marks.append(Bbox([[px - 4, py - 4], [px + 4, py + 4]]))
    corners = [ax.transData.transform(p) for p in line]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):  # where="post": across at y0, then down to y1
        marks.append(Bbox([[x0, y0 - 1], [x1, y0 + 1]]))
        marks.append(Bbox([[x1 - 1, min(y0, y1)], [x1 + 1, max(y0, y1)]]))
    placed = []
    for x, y, text in labelled:
        best = None
        for dx, dy, ha, va in OFFSETS:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                              fontsize=7)
            box = ann.get_window_extent(r)
            ann.remove()
            cost = sum(overlap(box, b) for b in placed) + sum(overlap(box, m) for m in marks)
            outside = (box.width * box.height) - overlap(box, frame)
            cost += 4 * outside
            if best is None or cost < best[0]:
                best = (cost, dx, dy, ha, va, box)
            if cost == 0:
                break
        _, dx, dy, ha, va, box = best
        far = math.hypot(dx, dy) > 12
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=7,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75),
                    arrowprops=dict(arrowstyle="-", color="0.5", lw=0.6, shrinkA=0, shrinkB=3) if far else None,
                    annotation_clip=False)
        placed.append(box)


def panel(ax, rows, metric, ylabel, colors):
    """Scatter + frontier of one metric. Returns (finish, frontier): finish(fig) labels the frontier once the
    layout is final; (None, []) when no row has the metric."""
    pts = points_of(rows, metric)
    if not pts:
        ax.text(0.5, 0.5, "no rows with %s and kv_bytes" % metric, ha="center", va="center",
                transform=ax.transAxes, color="0.4")
        ax.set_axis_off()
        return None, []
    front = frontier(pts)
    on_front = {id(p[2]) for p in front}
    ys = [p[1] for p in pts]
    positive = [y for y in ys if y > 0]
    floor = None
    if metric == "kl_mean":  # log scale: KL = 0 (the full cache, exact codecs) drawn on a line at the bottom
        lo = min(positive) if positive else 1e-4
        hi = max(positive) if positive else 1.0
        floor = lo / 5
        ax.set_yscale("log")
        ax.set_ylim(floor / 2, hi * 2)
        ax.axhline(floor, color="0.6", lw=0.8, ls=":")
        ax.text(0.005, floor, " KL = 0", transform=ax.get_yaxis_transform(), fontsize=7, color="0.35",
                ha="left", va="bottom")
    elif positive and max(ys) / min(positive) > 4:
        ax.set_yscale("log")

    def at(y):
        return floor if floor is not None and y <= 0 else y

    for quant in (False, True):  # off the frontier: small and pale; on it: larger, edged in black
        for fam in colors:
            for front_pt in (False, True):
                sel = [p for p in pts if family(p[2]) == fam and quantized(p[2]) == quant
                       and (id(p[2]) in on_front) == front_pt]
                if sel:
                    ax.scatter([p[0] for p in sel], [at(p[1]) for p in sel], s=48 if front_pt else 24,
                               color=colors[fam], marker=QUANT_MARKER if quant else PLAIN_MARKER,
                               edgecolors="k" if front_pt else "none", linewidths=0.9,
                               alpha=1.0 if front_pt else 0.6, zorder=4 if front_pt else 3)
    fx, fy = [p[0] for p in front], [at(p[1]) for p in front]
    ax.step(fx, fy, where="post", color="k", lw=1.1, zorder=2)
    full = [r["ppl_full"] for r in rows if num(r.get("ppl_full"))]
    if metric == "ppl" and full:
        ax.axhline(sum(full) / len(full), color="0.5", lw=0.8, ls="--", zorder=1)
        ax.text(0.005, sum(full) / len(full), " full cache", transform=ax.get_yaxis_transform(), fontsize=7,
                color="0.35", ha="left", va="bottom")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(human_bytes))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("KV bytes, policy metadata included (log scale)")
    ax.set_ylabel(ylabel + (" (log scale)" if ax.get_yscale() == "log" else ""))
    xs = [p[0] for p in pts]
    ax.set_xlim(min(xs) / 2.2, max(xs) * 1.3)  # room for the labels left of the first point
    labelled = [(p[0], at(p[1]), short_label(p[2])) for p in front]
    return (lambda fig: place_labels(fig, ax, labelled, [(p[0], at(p[1])) for p in pts], list(zip(fx, fy)))), front


def legend(fig, rows, colors):
    handles = [Line2D([], [], ls="", marker=PLAIN_MARKER, color=c, label=f, ms=6) for f, c in colors.items()]
    if any(quantized(r) for r in rows):
        handles.append(Line2D([], [], ls="", marker=PLAIN_MARKER, mfc="none", mec="0.3", label="no quant part",
                              ms=6))
        handles.append(Line2D([], [], ls="", marker=QUANT_MARKER, mfc="none", mec="0.3", label="+quant", ms=6))
    handles.append(Line2D([], [], color="k", lw=1.1, marker=PLAIN_MARKER, mfc="w", mec="k", ms=6,
                          label="Pareto frontier"))
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)


# ----------------------------------------------------------------------------------------------- section

def exact(v):
    return int(v) if float(v).is_integer() else repr(float(v))


def write_csv(path, fronts, model):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["model", "text", "metric", "label", "policy", "bytes", "kv_bytes", "policy_bytes", "value"])
        for metric, front in fronts.items():
            for x, y, r in front:
                w.writerow([model, r.get("text", ""), metric, short_label(r), r.get("policy", ""), exact(x),
                            exact(r["kv_bytes"]), exact(r.get("policy_bytes") or 0), exact(y)])


def pareto_figure(rep, rows, name, title):
    families = list(OrderedDict.fromkeys(family(r) for r in rows if has_fields(r)))
    colors = family_colors(families)
    fronts = OrderedDict()

    def draw(fig):
        fig.set_size_inches(12, 5.2)
        finishing = []
        for k, (metric, ylabel) in enumerate(METRICS):
            ax = fig.add_subplot(1, 2, k + 1)
            finish, front = panel(ax, rows, metric, ylabel, colors)
            if finish:
                finishing.append(finish)
                fronts[metric] = front
        if not fronts:
            raise Skip("no rows with kv_bytes and kl_mean or ppl")
        legend(fig, rows, colors)

        def finish_all(fig):
            fig.subplots_adjust(right=0.88)
            for f in finishing:
                f(fig)
        return finish_all

    rep.plot(name, title, draw,
             "x: bytes held at the end of the run, kv_bytes + policy_bytes (cache and policy metadata). One "
             "point per row; colour: the spec's first policy; square: with a quant part. Black line: the "
             "Pareto frontier (no other row is as good on both axes and better on one); its points are "
             "labelled.", wide=True)
    if fronts:
        write_csv(os.path.join(rep.out, name + ".csv"), fronts, str(rows[0].get("model", "?")))
        rep.add(("table", "<p class=note>Frontier points, exact: <a href='%s.csv'>%s.csv</a></p>" % (name, name)))


def file_part(s):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(s))


def pareto_plots(rep, rows):
    """The section over all rows: one figure per model (and text, when a model has several)."""
    rows = [r for r in rows if has_fields(r)]
    if not rows:
        return
    rep.section("Quality against KV bytes")
    by_model = OrderedDict()
    for r in rows:
        by_model.setdefault(str(r.get("model", "?")), []).append(r)
    names = set()
    for model, model_rows in by_model.items():
        by_text = OrderedDict()
        for r in model_rows:
            by_text.setdefault(str(r.get("text", "")), []).append(r)
        for text, text_rows in by_text.items():
            name = "pareto_" + file_part(model) + ("_" + file_part(text) if len(by_text) > 1 else "")
            while name in names:
                name += "_"
            names.add(name)
            where = model + (", " + text if len(by_text) > 1 and text else "")
            pareto_figure(rep, text_rows, name, "Quality against KV bytes: %s (%d runs)" % (where, len(text_rows)))
