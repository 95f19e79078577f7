#!/usr/bin/python3
"""kvlab report: plots (PNG + SVG) and one self-contained index.html from sweep results and analyses.

Called by `kvlab report` (tools/kvlab/report.cc) with Debian's /usr/bin/python3, which has matplotlib:

    kvlab_report.py --out DIR [--results RESULTS.jsonl ...] [--analysis ANALYSIS_DIR ...]

Sweep rows are flat JSON objects (one per run; a missing metric is an absent key). Analysis directories hold
the <mode>.json files of `kvlab analyze`. Every plot whose data is absent is skipped with a note in
index.html. Images are embedded in index.html as base64 data URIs, so the page stands alone; the PNG and
SVG files are written next to it as well. Any failure: one line on stderr, non-zero exit.

The page's first section, drawn by kvlab_report_pareto.py from the rows with kv_bytes and kl_mean or ppl, is
quality against KV bytes (policy metadata included) with the Pareto frontier, per model. Then, per model,
the sweep's plots and a table of every row (it scrolls in its own box; a click on a header sorts it). Rows
with retrieval-task fields (task_accuracy, task_cells, ...) add a section drawn by kvlab_report_tasks.py.
Both modules must sit next to this file; each is imported only when some row needs it.
"""

import argparse
import base64
import html
import importlib
import json
import math
import os
import re
import sys
from collections import OrderedDict, defaultdict

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.ticker import MaxNLocator
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write("matplotlib is missing for %s (%s): install the Debian package python3-matplotlib\n"
                     % (sys.executable, e))
    sys.exit(3)

plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "axes.grid": True,
                     "grid.alpha": 0.3, "svg.fonttype": "none"})


class Skip(Exception):
    """A plot whose data is absent: reported as a note, not an error."""


# ----------------------------------------------------------------------------------------------- inputs

def task_run_rows(j):
    """Rows from `kvlab tasks --json` output, shaped like a sweep's with [tasks]: one per policy, holding
    its cells of every task."""
    by_kv = OrderedDict()
    for run in j.get("runs", []):
        by_kv.setdefault(run.get("kv", "?"), []).extend(run.get("cells", []))
    rows = []
    for kv, cells in by_kv.items():
        budget = re.search(r"(?:^|[:,])budget=(\d+)", kv)
        quant = re.search(r"quant:k=(\w+),v=(\w+)", kv)
        needles = [c for c in cells if c.get("retention") is not None]

        def mean(cs, key):
            vals = [c[key] for c in cs if c.get(key) is not None]
            return sum(vals) / len(vals) if vals else None

        rows.append({"model": j.get("model"), "policy": kv,
                     "policy_name": "+".join(p.split(":")[0] for p in kv.split("+")),
                     "budget": int(budget.group(1)) if budget else None,
                     "codec": (quant.group(1) if quant.group(1) == quant.group(2) else "%s/%s" % quant.groups())
                     if quant else None,
                     "task_cells": cells, "task_accuracy": mean(cells, "accuracy"),
                     "task_retention": mean(needles, "retention"), "task_merged": mean(needles, "merged"),
                     "task_needle_attention": mean(needles, "needle_attention"),
                     "task_kv_bytes": mean(cells, "kv_bytes"), "task_kv_bytes_full": mean(cells, "kv_bytes_full")})
    return rows


def read_results(paths):
    """Sweep results (JSONL, one row per line), or `kvlab tasks --json` objects (one per file)."""
    rows = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            try:
                whole = json.load(f)
            except ValueError:
                whole = None
            if isinstance(whole, dict) and whole.get("command") == "tasks":
                rows.extend(task_run_rows(whole))
                continue
            f.seek(0)
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise SystemExit("%s:%d: not JSON (%s)" % (path, n, e))
                if not isinstance(row, dict):
                    raise SystemExit("%s:%d: not a JSON object" % (path, n))
                rows.append(row)
    return rows


def read_analysis(dirs):
    """{dir: {mode: json}} in the order given."""
    out = OrderedDict()
    for d in dirs:
        modes = OrderedDict()
        for name in sorted(os.listdir(d)):
            if name.endswith(".json"):
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    try:
                        j = json.load(f)
                    except ValueError as e:
                        raise SystemExit("%s: not JSON (%s)" % (os.path.join(d, name), e))
                modes[j.get("mode", name[:-5])] = j
        out[d] = modes
    return out


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def policy_group(r):
    """Name of the line a row belongs to: the policy family (plus codec / sketch type and the aggregate
    strategy when present)."""
    name = r.get("policy_name") or str(r.get("policy", "?")).split(":")[0]
    if r.get("codec"):
        name += "+" + str(r["codec"])
    if r.get("sketch_type") and r.get("sketch_type") not in name:
        name += "/" + str(r["sketch_type"])
    if r.get("sketch_strategy") == "aggregate":  # summary slots: a different policy, not a point on topk's line
        name += "/aggregate"
    return name


def row_label(r):
    label = policy_group(r)
    if r.get("budget") is not None:
        label += " b=%s" % r["budget"]
    return label


def budget_x(r):
    """Budget in slots; the full cache sits at the row's token count."""
    if num(r.get("budget")):
        return r["budget"]
    if num(r.get("tokens")):
        return r["tokens"]
    return None


def grouped(rows, key_x, key_y):
    groups = defaultdict(list)
    for r in rows:
        x, y = key_x(r), r.get(key_y)
        if x is not None and num(y):
            groups[policy_group(r)].append((x, y))
    return {k: sorted(v) for k, v in sorted(groups.items())}


# ----------------------------------------------------------------------------------------------- drawing

class Report:
    def __init__(self, out):
        self.out = out
        # (title, [items]); item: ("img", name, title, caption, wide) | ("note", text) | ("table", html)
        self.sections = []

    def section(self, title):
        self.sections.append((title, []))

    def add(self, item):
        self.sections[-1][1].append(item)

    def plot(self, name, title, draw, caption="", wide=False):
        """draw(fig) fills the figure or raises Skip; a wide figure takes the page's full width. draw may
        return a function, called with the figure once the layout is final (to place text by its drawn size)."""
        fig = plt.figure(figsize=(7.0, 4.2))
        try:
            finish = draw(fig)
        except Skip as s:
            plt.close(fig)
            self.add(("note", "%s: skipped (%s)" % (title, s)))
            return
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
        below_suptitle(fig)
        if finish:
            finish(fig)
        fig.savefig(os.path.join(self.out, name + ".png"))
        fig.savefig(os.path.join(self.out, name + ".svg"))
        plt.close(fig)
        self.add(("img", name, title, caption, wide))

    def table(self, columns, rows):
        """Every row, in a box that scrolls (the header stays on top); a click on a header sorts by that
        column (again: the other way). Numeric cells carry their exact value in data-v, which the sort uses."""
        if not rows:
            return
        text = [not any(num(r[i]) for r in rows if i < len(r)) for i in range(len(columns))]  # left-aligned
        head = "".join("<th%s>%s</th>" % (" class=t" if t else "", html.escape(str(c)))
                       for c, t in zip(columns, text))
        body = []
        for r in rows:
            body.append("<tr>%s</tr>" % "".join(
                "<td data-v='%r'>%s</td>" % (float(v), html.escape(fmt(v))) if num(v)
                else "<td class=t>%s</td>" % html.escape(fmt(v)) for v in r))
        self.add(("table", "<div class=scroll><table class=sortable><thead><tr>%s</tr></thead><tbody>%s</tbody>"
                           "</table></div><p class=note>%d rows; click a column header to sort.</p>"
                  % (head, "".join(body), len(rows))))

    def write_html(self, inputs):
        parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>kvlab report</title><style>",
                 "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em;color:#222}",
                 "figure{display:inline-block;margin:0.5em;vertical-align:top;max-width:48%}",
                 "figure.wide{max-width:98%}",
                 "figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:0.85em;color:#555}",
                 "table{border-collapse:collapse;font-size:0.8em;margin:0.5em 0}",
                 "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f0f0f0}",
                 "td.t,th.t{text-align:left}td.t{max-width:26em;overflow-wrap:anywhere}",
                 ".scroll{max-height:30em;overflow:auto;border:1px solid #ccc;margin:0.5em 0}.scroll table{margin:0}",
                 "thead th{position:sticky;top:0;cursor:pointer;user-select:none;box-shadow:0 1px 0 #aaa}",
                 "th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}",
                 ".note{color:#885;font-size:0.85em}</style></head><body>",
                 "<h1>kvlab report</h1><p>Inputs: %s</p>" % html.escape(", ".join(inputs))]
        for title, items in self.sections:
            parts.append("<h2>%s</h2>" % html.escape(title))
            for it in items:
                if it[0] == "img":
                    _, name, t, caption, wide = it
                    with open(os.path.join(self.out, name + ".png"), "rb") as f:
                        data = base64.b64encode(f.read()).decode("ascii")
                    parts.append("<figure%s><img src='data:image/png;base64,%s' alt='%s'>"
                                 "<figcaption><b>%s</b> %s (<a href='%s.svg'>svg</a>)</figcaption></figure>"
                                 % (" class=wide" if wide else "", data, html.escape(t), html.escape(t),
                                    html.escape(caption), name))
                elif it[0] == "note":
                    parts.append("<p class=note>%s</p>" % html.escape(it[1]))
                else:
                    parts.append(it[1])
        parts.append(SORT_SCRIPT)
        # Marks every image as loaded or not, for people and for the headless-browser test.
        parts.append("<script>window.addEventListener('load',function(){var imgs=document.images,ok=0;"
                     "for(var i=0;i<imgs.length;i++){var good=imgs[i].complete&&imgs[i].naturalWidth>0;"
                     "imgs[i].setAttribute('data-loaded',good?'yes':'no');if(good)ok++;}"
                     "document.body.setAttribute('data-images-loaded',ok+'/'+imgs.length);});</script>")
        parts.append("</body></html>\n")
        with open(os.path.join(self.out, "index.html"), "w", encoding="utf-8") as f:
            f.write("".join(parts))


# Sorts a table.sortable by the clicked header's column: ascending first, then the other way on each click.
# Numbers (data-v) sort as numbers, text in natural order; empty cells stay last either way.
SORT_SCRIPT = (
    "<script>function kvlabSort(th){var table=th.closest('table'),body=table.tBodies[0],col=th.cellIndex,"
    "asc=th.getAttribute('aria-sort')!=='ascending',ths=table.tHead.rows[0].cells;"
    "for(var i=0;i<ths.length;i++)ths[i].removeAttribute('aria-sort');"
    "th.setAttribute('aria-sort',asc?'ascending':'descending');"
    "function key(tr){var td=tr.cells[col];if(!td)return null;var v=td.getAttribute('data-v');"
    "if(v!==null)return Number(v);return td.textContent===''?null:td.textContent;}"
    "var rows=Array.prototype.slice.call(body.rows);rows.sort(function(a,b){var x=key(a),y=key(b);"
    "if(x===null||y===null)return (x===null)-(y===null);"
    "var c=typeof x==='number'&&typeof y==='number'?x-y:String(x).localeCompare(String(y),undefined,{numeric:true});"
    "return asc?c:-c;});rows.forEach(function(tr){body.appendChild(tr);});}"
    "document.addEventListener('click',function(e){var th=e.target.closest&&e.target.closest("
    "'table.sortable thead th');if(th)kvlabSort(th);});</script>")


def below_suptitle(fig):
    """Moves the axes down where tight_layout left them under the figure title (tall grids of panels)."""
    r = fig.canvas.get_renderer()
    title_bottom = fig._suptitle.get_window_extent(r).y0
    top = max((ax.get_tightbbox(r).y1 for ax in fig.axes if ax.get_visible()), default=0)
    if top > title_bottom - 4:
        fig.subplots_adjust(top=fig.subplotpars.top - (top - title_bottom + 8) / fig.bbox.height)


def fmt(v):
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return "%.4g" % v
    if v is None:
        return ""
    return str(v)


MARKERS = "osD^v<>ph*Xd"


def lines(ax, groups, xlabel, ylabel, logx=False, logy=False, legend=True, order=None):
    """One line per group; `order` (a list of all group names) keeps each name's colour and marker the same
    across plots that lack some groups."""
    if not groups:
        raise Skip("no rows with %s" % ylabel)
    colors = plt.get_cmap("tab20").colors
    for i, (name, pts) in enumerate(groups.items()):
        if order and name in order:
            i = order.index(name)
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker=MARKERS[i % len(MARKERS)], ms=3, color=colors[(2 * i) % 20 + (i // 10) % 2],
                label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    if legend:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))


def heatmap(fig, ax, matrix, xlabels, ylabels, label, cmap="viridis", fmt_cell="%.2f", vmin=None, vmax=None,
            colorbar=True, text_color="w"):
    """Cells annotated with their values (up to 120 cells); text_color "auto" picks black or white per cell.
    Returns the image, for a colour bar shared by several panels (colorbar=False)."""
    im = ax.imshow(matrix, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(xlabels)))
    ax.set_xticklabels(xlabels, fontsize=7, rotation=0 if len(xlabels) < 12 else 90)
    ax.set_yticks(range(len(ylabels)))
    ax.set_yticklabels(ylabels, fontsize=7)
    ax.grid(False)
    if colorbar:
        fig.colorbar(im, ax=ax, label=label, fraction=0.046)
    if len(xlabels) * len(ylabels) <= 120:
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                if v is not None and num(v):
                    color = text_color
                    if text_color == "auto":
                        r, g, b, _ = im.cmap(im.norm(v))
                        color = "k" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "w"
                    ax.text(j, i, fmt_cell % v, ha="center", va="center", fontsize=6, color=color)
    return im


# ----------------------------------------------------------------------------------------------- sweep plots

def sweep_plots(rep, rows, tag="", prefix=""):
    rep.section("Sweep results%s (%d runs)" % (tag, len(rows)))
    cols = ["policy", "budget", "codec", "ppl", "ppl_ratio", "kl_mean", "top1", "kv_bytes", "policy_bytes", "kv_ratio",
            "decode_tok_s"]
    table = sorted(rows, key=lambda r: (policy_group(r), budget_x(r) or 0))
    rep.table(cols, [[r.get(c) if c != "policy" else r.get("policy", policy_group(r)) for c in cols] for r in table])

    def memory(fig):
        ax = fig.add_subplot(111)
        lines(ax, grouped(rows, budget_x, "kv_bytes"), "budget (slots per head; full = tokens)", "KV bytes", logx=True)
    rep.plot(prefix + "kv_memory_vs_budget", "KV memory vs budget", memory, "bytes held by the cache at the end of the run")

    def decode(fig):
        ax = fig.add_subplot(111)
        groups = defaultdict(list)
        for r in rows:
            by_ctx = r.get("ms_per_token_by_ctx")
            if isinstance(by_ctx, dict):
                pts = sorted((int(k), v) for k, v in by_ctx.items() if num(v) and str(k).isdigit())
                if pts:
                    groups[row_label(r)] = pts
        if not groups:
            pts = defaultdict(list)
            for r in rows:
                if num(r.get("ctx")) and num(r.get("decode_ms_per_token")):
                    pts[policy_group(r)].append((r["ctx"], r["decode_ms_per_token"]))
            groups = {k: sorted(v) for k, v in pts.items() if len(v) > 1}
        if not groups:
            raise Skip("no ms_per_token_by_ctx or decode_ms_per_token at several contexts")
        lines(ax, dict(sorted(groups.items())[:12]), "context length (tokens)", "decode ms / token", logx=True)
    rep.plot(prefix + "decode_ms_vs_context", "Decode latency vs context length", decode)

    def throughput(fig):
        ax = fig.add_subplot(111)
        pts = [(row_label(r), r["decode_tok_s"]) for r in table if num(r.get("decode_tok_s"))]
        if not pts:
            raise Skip("no decode_tok_s")
        pts = pts[:40]
        ax.barh(range(len(pts)), [p[1] for p in pts], color="#4c72b0")
        ax.set_yticks(range(len(pts)))
        ax.set_yticklabels([p[0] for p in pts], fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("decode tokens / s")
    rep.plot(prefix + "throughput_per_policy", "Decode throughput per policy", throughput)

    def scaling(fig):
        ax = fig.add_subplot(111)
        # Bytes per slot from each run, scaled to other lengths: full grows linearly, bounded policies flatten
        # at their budget (plus their metadata). kv_bytes is the cache alone; policy_bytes comes on top.
        curves = {}
        for r in table:
            if not (num(r.get("kv_bytes")) and num(r.get("tokens"))):
                continue
            held = min(r["budget"], r["tokens"]) if num(r.get("budget")) else r["tokens"]
            if held <= 0:
                continue
            per_slot = r["kv_bytes"] / held
            budget = r["budget"] if num(r.get("budget")) else None
            curves.setdefault(row_label(r), (per_slot, budget, r.get("policy_bytes") or 0))
        if not curves:
            raise Skip("no kv_bytes with tokens")
        lengths = [2 ** i for i in range(6, 16)]
        for name, (per_slot, budget, meta) in list(curves.items())[:12]:
            ys = [per_slot * (min(n, budget) if budget else n) + meta for n in lengths]
            ax.plot(lengths, ys, marker=".", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (tokens)")
        ax.set_ylabel("KV bytes")
        ax.legend(fontsize=7, ncol=2)
    rep.plot(prefix + "memory_scaling", "KV memory scaling with sequence length", scaling,
             "bytes per slot measured in each run, extrapolated: linear for the full cache, flat past the budget")

    def bubble(fig):
        ax = fig.add_subplot(111)
        pts = [r for r in table if num(r.get("decode_tok_s")) and num(r.get("kv_bytes"))]
        if not pts:
            raise Skip("no rows with both decode_tok_s and kv_bytes")
        lat = [r.get("decode_ms_per_token") if num(r.get("decode_ms_per_token")) else 1000.0 / r["decode_tok_s"]
               for r in pts]
        top = max(lat) or 1.0
        color = [r.get("ppl_ratio") if num(r.get("ppl_ratio")) else 1.0 for r in pts]
        sc = ax.scatter([r["kv_bytes"] for r in pts], [r["decode_tok_s"] for r in pts],
                        s=[40 + 400 * l / top for l in lat], c=color, cmap="coolwarm", alpha=0.7, edgecolors="k")
        fig.colorbar(sc, ax=ax, label="perplexity ratio")
        seen = set()
        for r in pts:
            if row_label(r) not in seen and len(seen) < 25:
                seen.add(row_label(r))
                ax.annotate(row_label(r), (r["kv_bytes"], r["decode_tok_s"]), fontsize=6)
        ax.set_xscale("log")
        ax.set_xlabel("KV bytes")
        ax.set_ylabel("decode tokens / s")
    rep.plot(prefix + "tradeoff_bubble", "Throughput x memory x latency", bubble,
             "bubble area = decode ms/token, colour = perplexity ratio vs the full cache")

    def quality(fig):
        a1, a2 = fig.add_subplot(121), fig.add_subplot(122)
        lines(a1, grouped(rows, budget_x, "ppl"), "budget (slots)", "perplexity", logx=True, legend=False)
        kl = grouped(rows, budget_x, "kl_mean")
        if kl:
            lines(a2, kl, "budget (slots)", "KL(full || policy), nats", logx=True)
        else:
            a2.set_axis_off()
    rep.plot(prefix + "quality_vs_budget", "Perplexity and KL vs budget", quality,
             "the full cache and budget-free codecs sit at the run's token count")

    def fidelity(fig):
        per = OrderedDict()
        for r in table:
            layers = r.get("fidelity_layers")
            if isinstance(layers, list) and layers:
                per[row_label(r)] = {int(x.get("layer", i)): x for i, x in enumerate(layers) if isinstance(x, dict)}
        if per:
            n_layers = max(max(v) for v in per.values() if v) + 1
            names = list(per)[:30]
            for k, (metric, cmap) in enumerate((("attn_kl", "magma_r"), ("attn_cosine", "viridis"))):
                ax = fig.add_subplot(1, 2, k + 1)
                m = [[per[n].get(l, {}).get(metric, float("nan")) for l in range(n_layers)] for n in names]
                m = [[v if num(v) else float("nan") for v in row] for row in m]
                heatmap(fig, ax, m, [str(l) for l in range(n_layers)], names, metric, cmap=cmap, fmt_cell="%.2g")
                ax.set_xlabel("layer")
            return
        pts = [(row_label(r), r.get("attn_kl"), r.get("attn_cosine")) for r in table
               if num(r.get("attn_kl")) or num(r.get("attn_cosine"))]
        if not pts:
            raise Skip("no attn_kl / attn_cosine / fidelity_layers")
        a1, a2 = fig.add_subplot(121), fig.add_subplot(122)
        for ax, idx, label in ((a1, 1, "attention KL"), (a2, 2, "attention cosine")):
            ax.barh(range(len(pts)), [p[idx] if num(p[idx]) else 0 for p in pts])
            ax.set_yticks(range(len(pts)))
            ax.set_yticklabels([p[0] for p in pts], fontsize=6)
            ax.set_xlabel(label)
    rep.plot(prefix + "attention_fidelity", "Attention fidelity per policy and layer", fidelity,
             "KL and cosine between the full cache's attention rows and the policy's")

    sketch_rows = [r for r in rows if num(r.get("sketch_width")) and num(r.get("sketch_depth"))]
    types = sorted({str(r.get("sketch_type") or "sketch") for r in sketch_rows})

    def sketch(fig):
        if not sketch_rows:
            raise Skip("no rows with sketch_width and sketch_depth")
        metric = "ppl_ratio" if any(num(r.get("ppl_ratio")) for r in sketch_rows) else "kl_mean"
        for k, t in enumerate(types[:3]):
            rs = [r for r in sketch_rows if str(r.get("sketch_type") or "sketch") == t and num(r.get(metric))]
            widths = sorted({r["sketch_width"] for r in rs})
            depths = sorted({r["sketch_depth"] for r in rs})
            cells = defaultdict(list)
            for r in rs:
                cells[(r["sketch_depth"], r["sketch_width"])].append(r[metric])
            m = [[(sum(cells[(d, w)]) / len(cells[(d, w)])) if cells[(d, w)] else float("nan") for w in widths]
                 for d in depths]
            ax = fig.add_subplot(1, min(len(types), 3), k + 1)
            heatmap(fig, ax, m, [str(w) for w in widths], [str(d) for d in depths], metric, cmap="magma_r",
                    fmt_cell="%.3g")
            ax.set_xlabel("sketch width")
            ax.set_ylabel("sketch depth")
            ax.set_title(t, fontsize=9)
    rep.plot(prefix + "sketch_width_depth", "Sketch width x depth", sketch, "mean over budgets and seeds of each cell")


# ----------------------------------------------------------------------------------------------- task plots

def has_task_fields(r):
    """Rows of a sweep with a [tasks] section (needle-in-a-haystack, RULER-style): see kvlab_report_tasks.py."""
    return isinstance(r.get("task_cells"), list) or num(r.get("task_accuracy")) or num(r.get("task_retention"))


def section_module(name):
    """A section's module (kvlab_report_tasks.py, kvlab_report_pareto.py), which sits next to this script and
    uses its helpers; imported only when some row needs it."""
    sys.modules.setdefault("kvlab_report", sys.modules[__name__])  # this script, also when run as __main__
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree or next to an installed binary
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        raise SystemExit("%s.py is missing next to %s (keep tools/report/*.py together)"
                         % (name, os.path.abspath(__file__)))


def task_module():
    return section_module("kvlab_report_tasks")


# ----------------------------------------------------------------------------------------------- quality vs bytes

def has_pareto_fields(r):
    """Rows with bytes and a quality metric: the "Quality against KV bytes" section (kvlab_report_pareto.py)."""
    return num(r.get("kv_bytes")) and (num(r.get("kl_mean")) or num(r.get("ppl")))


# ----------------------------------------------------------------------------------------------- analysis plots

def analysis_plots(rep, tag, modes, prefix):
    rep.section("Analysis: %s" % tag)
    if not modes:
        rep.add(("note", "no analysis files"))
        return

    def need(mode):
        if mode not in modes:
            raise Skip("no %s.json" % mode)
        return modes[mode]

    def table_of(j):
        t = j.get("table", {})
        cols = t.get("columns", [])
        return [dict(zip(cols, r)) for r in t.get("rows", [])]

    if "heads" in modes:
        j = modes["heads"]
        rep.table(["type", "heads"], [[k, v] for k, v in j.get("type_counts", {}).items()])

    def heads(fig):
        j = need("heads")
        ent, sp, pot = j["entropy_norm"], j["sparsity_0.01"], j["prune_potential_90"]
        types = j["types"]
        L, H = len(ent), len(ent[0]) if ent else 0
        xl, yl = [str(h) for h in range(H)], [str(l) for l in range(L)]
        for k, (m, label, cmap) in enumerate(((ent, "normalized entropy", "viridis"),
                                              (sp, "sparsity (p < 0.01)", "magma"),
                                              (pot, "prunable share (90% mass)", "cividis"))):
            ax = fig.add_subplot(2, 2, k + 1)
            heatmap(fig, ax, m, xl, yl, label, cmap=cmap, vmin=0, vmax=1)
            ax.set_xlabel("head")
            ax.set_ylabel("layer")
        ax = fig.add_subplot(2, 2, 4)
        codes = {"sink": 0, "local": 1, "global": 2}
        m = [[codes.get(t, 2) for t in row] for row in types]
        ax.imshow(m, aspect="auto", cmap=ListedColormap(["#d62728", "#2ca02c", "#1f77b4"]), vmin=0, vmax=2)
        for i, row in enumerate(types):
            for jx, t in enumerate(row):
                ax.text(jx, i, t[0].upper(), ha="center", va="center", color="w", fontsize=7)
        ax.set_xticks(range(H))
        ax.set_yticks(range(L))
        ax.grid(False)
        ax.set_title("type: S sink, L local, G global", fontsize=8)
        fig.set_size_inches(9, 6)
    rep.plot(prefix + "heads", "Heads: attention entropy, sparsity, type (layer x head)", heads)

    def layers(fig):
        rows = table_of(need("layers"))
        xs = [r["layer"] for r in rows]
        a1, a2, a3 = fig.add_subplot(131), fig.add_subplot(132), fig.add_subplot(133)
        a1.plot(xs, [r["k_norm_mean"] for r in rows], "o-", label="K norm")
        a1.plot(xs, [r["v_norm_mean"] for r in rows], "s-", label="V norm")
        a1.set_xlabel("layer")
        a1.legend(fontsize=7)
        for key in [k for k in rows[0] if k.startswith("attn_sparsity_")]:
            a2.plot(xs, [r[key] for r in rows], "o-", label=key.replace("attn_sparsity_", "p < "))
        a2.plot(xs, [r["attn_entropy_norm"] for r in rows], "k--", label="norm. entropy")
        a2.set_xlabel("layer")
        a2.legend(fontsize=7)
        a3.plot(xs, [r["prune_potential_90"] for r in rows], "o-", label="keep 90% mass")
        a3.plot(xs, [r["prune_potential_99"] for r in rows], "s-", label="keep 99% mass")
        a3.set_xlabel("layer")
        a3.set_ylabel("prunable share of slots")
        a3.legend(fontsize=7)
        fig.set_size_inches(10, 3.6)
        for ax in (a1, a2, a3):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    rep.plot(prefix + "layers", "Layers: norms, attention sparsity, pruning potential", layers)

    def tokens(fig):
        j = need("tokens")
        rows = table_of(j)
        a1, a2 = fig.add_subplot(121), fig.add_subplot(122)
        a1.plot([r["position"] for r in rows], [r["received_mean"] for r in rows], lw=0.8)
        hh = [r for r in rows if r["heavy_hitter"]]
        a1.scatter([r["position"] for r in hh], [r["received_mean"] for r in hh], s=8, c="r", label="heavy hitters")
        a1.set_yscale("log")
        a1.set_xlabel("position")
        a1.set_ylabel("mean attention received")
        a1.legend(fontsize=7)
        p = j.get("heavy_hitter_persistence", [])
        a2.plot([x["step"] for x in p], [x["still_heavy_at_end"] for x in p], "o-", label="still heavy at the end")
        a2.plot([x["step"] for x in p], [x["kept_from_previous"] for x in p], "s-", label="kept from previous")
        if p and "mean_still_heavy_at_end" in p[0]:
            a2.plot([x["step"] for x in p], [x["mean_still_heavy_at_end"] for x in p], "^-",
                    label="by mean attention: still heavy at the end")
        a2.set_ylim(0, 1.05)
        a2.set_xlabel("tokens seen")
        a2.legend(fontsize=7)
        fig.set_size_inches(9, 3.6)
    rep.plot(prefix + "tokens", "Tokens: attention received and heavy-hitter persistence", tokens)

    def embeddings(fig):
        j = need("embeddings")
        layers = j["layers"]
        a1, a2 = fig.add_subplot(121), fig.add_subplot(122)
        last = layers[-1]
        a1.bar(range(len(last["K"]["mean_abs"])), last["K"]["mean_abs"], color="#1f77b4", label="K")
        a1.bar(range(len(last["V"]["mean_abs"])), last["V"]["mean_abs"], color="#ff7f0e", alpha=0.6, label="V")
        a1.set_xlabel("channel (kv head x dim), layer %d" % last["layer"])
        a1.set_ylabel("mean |x|")
        a1.legend(fontsize=7)
        a2.plot([l["layer"] for l in layers], [l["K"]["max_over_median"] for l in layers], "o-", label="K")
        a2.plot([l["layer"] for l in layers], [l["V"]["max_over_median"] for l in layers], "s-", label="V")
        a2.axhline(3.0, color="gray", ls=":", label="outlier threshold")
        a2.set_xlabel("layer")
        a2.xaxis.set_major_locator(MaxNLocator(integer=True))
        a2.set_ylabel("max / median channel magnitude")
        a2.legend(fontsize=7)
        fig.set_size_inches(9, 3.6)
    rep.plot(prefix + "embeddings", "Embeddings: per-channel magnitude of K and V", embeddings,
             "outlier channels in K but not V are why KIVI quantizes keys per channel")

    def generation(fig):
        rows = table_of(need("generation"))
        stages = list(OrderedDict.fromkeys(r["stage"] for r in rows))
        a1, a2 = fig.add_subplot(121), fig.add_subplot(122)
        layers_ = sorted({r["layer"] for r in rows})
        for l in layers_:
            rs = [r for r in rows if r["layer"] == l]
            a1.plot([r["stage"] for r in rs], [r["entropy_norm"] for r in rs], "o-", label="layer %d" % l)
        a1.set_ylabel("normalized attention entropy")
        a1.legend(fontsize=7)
        width = 0.25
        for k, key in enumerate(("sink_mass", "local_mass", "prompt_mass")):
            vals = [sum(r[key] for r in rows if r["stage"] == s) / max(1, len(layers_)) for s in stages]
            a2.bar([i + k * width for i in range(len(stages))], vals, width, label=key.replace("_", " "))
        a2.set_xticks([i + width for i in range(len(stages))])
        a2.set_xticklabels(stages)
        a2.set_ylabel("attention share")
        a2.legend(fontsize=7)
        fig.set_size_inches(9, 3.6)
    rep.plot(prefix + "generation", "Generation: early / middle / late", generation)

    def similarity(fig):
        j = need("similarity")
        rows = table_of(j)
        a1 = fig.add_subplot(131)
        xs = [r["layer"] for r in rows]
        a1.plot(xs, [r["adjacent_k_cos_mean"] for r in rows], "o-", label="adjacent K")
        a1.plot(xs, [r["adjacent_v_cos_mean"] for r in rows], "s-", label="adjacent V")
        a1.plot(xs, [r["cross_head_attn_cos"] if num(r["cross_head_attn_cos"]) else float("nan") for r in rows],
                "^-", label="cross-head attention")
        a1.set_xlabel("layer")
        a1.xaxis.set_major_locator(MaxNLocator(integer=True))
        a1.set_ylabel("mean cosine")
        a1.legend(fontsize=7)
        L = len(j["cross_layer_k"])
        for k, key in enumerate(("cross_layer_k", "cross_layer_v")):
            ax = fig.add_subplot(1, 3, k + 2)
            heatmap(fig, ax, j[key], [str(i) for i in range(L)], [str(i) for i in range(L)], "cosine",
                    cmap="coolwarm", vmin=-1, vmax=1)
            ax.set_title(key.replace("_", " "), fontsize=8)
        fig.set_size_inches(11, 3.6)
    rep.plot(prefix + "similarity", "Similarity: adjacent tokens, cross-layer K/V", similarity)

    if "tucker" in modes:
        t = modes["tucker"]
        rep.table(["fraction", "ranks", "compression", "K rel err", "V rel err", "ppl", "ppl change", "KL"],
                  [[s["fraction"], "x".join(map(str, s["ranks"])), s["compression_ratio"], s["rel_error_k_mean"],
                    s["rel_error_v_mean"], s["ppl"], s["ppl_change"], s["kl_mean"]] for s in t.get("rank_sweep", [])])

    def tucker_sweep(fig):
        j = need("tucker")
        s = j["rank_sweep"]
        a1, a2 = fig.add_subplot(121), fig.add_subplot(122)
        cr = [x["compression_ratio"] for x in s]
        a1.plot(cr, [x["rel_error_k_mean"] for x in s], "o-", label="K")
        a1.plot(cr, [x["rel_error_v_mean"] for x in s], "s-", label="V")
        a1.set_xscale("log", base=2)
        a1.set_xlabel("compression ratio")
        a1.set_ylabel("relative reconstruction error")
        a1.legend(fontsize=7)
        a2.plot(cr, [x["ppl_change"] for x in s], "o-", label="perplexity change")
        a2.plot(cr, [x["kl_mean"] for x in s], "s-", label="KL")
        a2.set_xscale("log", base=2)
        a2.set_xlabel("compression ratio")
        a2.legend(fontsize=7)
        fig.set_size_inches(9, 3.6)
    rep.plot(prefix + "tucker_sweep", "Tucker rank sweep (all layers)", tucker_sweep)

    def tucker_components(fig):
        j = need("tucker")
        for k, mode in enumerate(("tokens", "heads", "dim")):
            ax = fig.add_subplot(1, 3, k + 1)
            for layer in j["spectra"]:
                for kind, style in (("K", "-"), ("V", "--")):
                    e = [max(v, 0.0) for v in layer[kind][mode]]
                    total = sum(e) or 1.0
                    cum, acc = [], 0.0
                    for v in e:
                        acc += v
                        cum.append(acc / total)
                    ax.plot(range(1, len(cum) + 1), cum, style, label="L%d %s" % (layer["layer"], kind))
            ax.set_xlabel("%s components" % mode)
            ax.set_ylim(0, 1.02)
            if k == 0:
                ax.set_ylabel("cumulative energy")
                ax.set_xscale("log", base=2)
            if k == 2:
                ax.legend(fontsize=6, ncol=2)
        fig.set_size_inches(11, 3.6)
    rep.plot(prefix + "tucker_components", "Tucker components: energy per mode", tucker_components,
             "solid K, dashed V")

    def tucker_sensitivity(fig):
        rows = table_of(need("tucker"))
        a1, a2 = fig.add_subplot(121), fig.add_subplot(122)
        for kind, off in (("K", -0.2), ("V", 0.2)):
            rs = [r for r in rows if r["kind"] == kind]
            a1.bar([r["layer"] + off for r in rs], [r["rel_error"] for r in rs], 0.4, label=kind)
        a1.set_xlabel("layer")
        a1.set_ylabel("relative error")
        a1.legend(fontsize=7)
        rs = [r for r in rows if r["kind"] == "K"]
        a2.bar([r["layer"] for r in rs], [r["ppl_change"] for r in rs], 0.6)
        a2.set_xlabel("layer (only this layer's cache reconstructed)")
        a2.set_ylabel("perplexity change")
        fig.set_size_inches(9, 3.6)
    rep.plot(prefix + "tucker_sensitivity", "Tucker per-layer sensitivity", tucker_sensitivity)

    def prune(fig):
        j = need("prune")
        a1, a2 = fig.add_subplot(121), fig.add_subplot(122)
        a1.bar(range(len(j["layer_kl"])), j["layer_kl"])
        a1.set_yscale("log")
        a1.set_xlabel("layer removed")
        a1.set_ylabel("KL vs full model")
        m = j["head_kl"]
        heatmap(fig, a2, m, [str(h) for h in range(len(m[0]))], [str(l) for l in range(len(m))], "KL",
                cmap="magma_r", fmt_cell="%.2g")
        a2.set_xlabel("kv head removed")
        a2.set_ylabel("layer")
        fig.set_size_inches(9, 3.6)
    rep.plot(prefix + "prune", "Pruning sensitivity: layers and KV heads", prune)

    def compress_dims(fig):
        rows = table_of(need("compress-dims"))
        ax = fig.add_subplot(111)
        for target, sel, style in (("kv", "top", "o-"), ("k", "top", "s-"), ("v", "top", "^-"), ("kv", "bottom", "x:")):
            rs = [r for r in rows if r["target"] == target and r["selection"] == sel]
            ax.plot([r["kept_dims"] for r in rs], [max(r["kl_mean"], 1e-9) for r in rs], style,
                    label="%s, %s-r dims" % (target.upper(), sel))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("dimensions kept per head")
        ax.set_ylabel("KL vs full cache")
        ax.legend(fontsize=7)
    rep.plot(prefix + "compress_dims", "Keeping the top-r K/V dimensions", compress_dims)


def has_stream_metrics(rows):
    """Whether any row measured the text stream (a sweep may run only [tasks])."""
    keys = ("ppl", "kl_mean", "retained_mass", "attn_kl", "decode_tok_s", "kv_bytes")
    return any(r.get(k) is not None for r in rows for k in keys)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--results", action="append", default=[])
    ap.add_argument("--analysis", action="append", default=[])
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rep = Report(a.out)
    rows = read_results(a.results)
    models = list(OrderedDict.fromkeys(str(r.get("model", "?")) for r in rows))
    tasks = task_module() if any(has_task_fields(r) for r in rows) else None
    if any(has_pareto_fields(r) for r in rows):  # the first section: what each configuration costs and gives
        section_module("kvlab_report_pareto").pareto_plots(rep, rows)
    if len(models) == 1:
        if has_stream_metrics(rows) or not tasks:
            sweep_plots(rep, rows)
        if tasks:
            tasks.task_plots(rep, rows)
    else:  # one section per model: policies of different models are not one line
        for i, m in enumerate(models):
            model_rows = [r for r in rows if str(r.get("model", "?")) == m]
            if has_stream_metrics(model_rows) or not tasks:
                sweep_plots(rep, model_rows, ": " + m, "s%d_" % i)
            if tasks:
                tasks.task_plots(rep, model_rows, ": " + m, "s%d_" % i)
    for i, (d, modes) in enumerate(read_analysis(a.analysis).items()):
        tag = os.path.basename(os.path.normpath(d))
        model = next((m.get("model") for m in modes.values() if m.get("model")), None)
        analysis_plots(rep, "%s (%s)" % (tag, model) if model else tag, modes, "a%d_" % i)
    rep.write_html(a.results + a.analysis)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # one line for kvlab's error message
        sys.stderr.write("plotting failed: %s: %s\n" % (type(e).__name__, e))
        sys.exit(1)
