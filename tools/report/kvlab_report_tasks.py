"""kvlab report: the "Retrieval tasks" section (needle-in-a-haystack / RULER-style tasks of `kvlab sweep`).

Imported by kvlab_report.py (which must sit next to this file) only when some sweep row has task fields:
`task_accuracy`, `task_retention`, `task_merged`, `task_needle_attention`, `task_kv_bytes`,
`task_kv_bytes_full` and `task_cells` (docs/SWEEP.md, "Results file"). Rows without them draw nothing here.

Plots (each file name after the section's prefix):
  tasks_heatmap_accuracy_<task>, tasks_heatmap_retention_<task>
      one panel per policy configuration: needle depth (0 % top ... 100 % bottom) x context length, for
      every task with a depth axis; tasks_heatmap_*_all_tasks averages them when there are several
  tasks_vs_budget      accuracy and needle retention against the budget; budget-free rows as reference lines
  tasks_vs_kv_bytes    the same against the KV bytes held when the question began; the full cache as reference
  tasks_by_length      accuracy against context length for tasks without a depth (cwe, fwe)
  tasks_retention_by_layer  needle retention per layer and configuration
"""

import math
import re
import textwrap
from collections import OrderedDict, defaultdict

import kvlab_report as kr

plt = kr.plt
num, Skip, policy_group, row_label, has_task_fields = (kr.num, kr.Skip, kr.policy_group, kr.row_label,
                                                       kr.has_task_fields)

CMAP = "RdYlGn"  # red (0) -> green (1), for accuracy and retention alike
MAX_PANELS = 24  # policy configurations per heatmap grid
MAX_DEPTH_TASKS = 8  # per-task heatmap figures


def config_key(r):
    """Panel and table order: full first, then by policy family, budget and spec."""
    g = policy_group(r)
    return (g != "full", g, r["budget"] if num(r.get("budget")) else -1, str(r.get("policy", g)))


def config_name(r):
    return str(r.get("policy") or policy_group(r))


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def is_full(r):
    return policy_group(r) == "full"


def depth_of(cell):
    d = cell.get("depth")
    return d if num(d) and d >= 0 else None


def collect_cells(rows):
    """{config: [cell, ...]} in config order; rows that share a spec (seeds, texts) pool their cells."""
    out = OrderedDict()
    for r in sorted(rows, key=config_key):
        cells = [c for c in (r.get("task_cells") or []) if isinstance(c, dict) and c.get("task") is not None]
        out.setdefault(config_name(r), []).extend(cells)
    return OrderedDict((k, v) for k, v in out.items() if v)


def cell_means(cells, tasks, metric):
    """{(length, depth): mean metric over the cells of `tasks` (mean over tasks that have the cell)}."""
    acc = defaultdict(list)
    for c in cells:
        if c["task"] in tasks and num(c.get(metric)) and num(c.get("length")) and depth_of(c) is not None:
            acc[(c["length"], depth_of(c))].append(c[metric])
    return {k: mean(v) for k, v in acc.items()}


def mean_groups(rows, key_x, key_y, label=policy_group):
    """{line name: [(x, mean y)]}: like kr.grouped, with repeated x (seeds, texts) averaged."""
    acc = defaultdict(lambda: defaultdict(list))
    for r in rows:
        x, y = key_x(r), r.get(key_y)
        if x is not None and num(x) and num(y):
            acc[label(r)][x].append(y)
    return {g: sorted((x, mean(ys)) for x, ys in pts.items()) for g, pts in sorted(acc.items())}


def percent(d):
    return "%d%%" % round(100 * d)


def file_part(s):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(s))


def legend_right(ax):
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))


# ----------------------------------------------------------------------------------------------- heatmaps

def niah_grid(fig, per_config, tasks, metric, label):
    """Small multiples: one depth x length heatmap per configuration, one colour bar for all."""
    means = OrderedDict()
    for name, cells in per_config.items():
        m = cell_means(cells, tasks, metric)
        if m:
            means[name] = m
    if not means:
        raise Skip("no cells with %s" % metric)
    names = list(means)[:MAX_PANELS]
    lengths = sorted({l for m in means.values() for (l, _) in m})
    depths = sorted({d for m in means.values() for (_, d) in m})
    n = len(names)
    ncols = min(n, 4)
    nrows = int(math.ceil(n / float(ncols)))
    w = max(2.3, 0.45 * len(lengths) + 1.1)
    h = max(1.9, 0.2 * len(depths) + 1.2)
    fig.set_size_inches(min(ncols * w + 0.9, 16), min(nrows * h + 0.7, 30))
    gs = fig.add_gridspec(nrows, ncols + 1, width_ratios=[1.0] * ncols + [0.06])
    xl = [str(int(l)) if float(l).is_integer() else str(l) for l in lengths]
    yl = [percent(d) for d in depths]
    im = None
    for k, name in enumerate(names):
        row, col = divmod(k, ncols)
        ax = fig.add_subplot(gs[row, col])
        m = [[means[name].get((l, d), float("nan")) for l in lengths] for d in depths]
        im = kr.heatmap(fig, ax, m, xl, yl, label, cmap=CMAP, vmin=0, vmax=1, colorbar=False, text_color="auto")
        ax.set_title("\n".join(textwrap.wrap(name, 30)[:3]), fontsize=7)
        if row == nrows - 1 or k + ncols >= n:
            ax.set_xlabel("context length (tokens)", fontsize=7)
        if col == 0:
            ax.set_ylabel("needle depth", fontsize=7)
    fig.colorbar(im, cax=fig.add_subplot(gs[:, -1]), label=label)


def heatmap_plots(rep, rows, prefix):
    per_config = collect_cells(rows)
    if not per_config:
        rep.add(("note", "Needle heatmaps: skipped (no task_cells)"))
        return
    all_cells = [c for cells in per_config.values() for c in cells]
    depth_tasks = list(OrderedDict.fromkeys(c["task"] for c in all_cells if depth_of(c) is not None))
    if not depth_tasks:
        rep.add(("note", "Needle heatmaps: skipped (no task with a depth axis)"))
    shown = depth_tasks[:MAX_DEPTH_TASKS]
    if len(depth_tasks) > len(shown):
        rep.add(("note", "Needle heatmaps for %d more tasks left out (see the combined panel)"
                 % (len(depth_tasks) - len(shown))))
    groups = [(t, [t], t) for t in shown]
    if len(depth_tasks) > 1:
        groups.append(("all_tasks", depth_tasks, "all depth tasks (mean)"))
    panels = min(len(per_config), MAX_PANELS)
    more = "" if len(per_config) <= MAX_PANELS else "; %d configurations left out" % (len(per_config) - MAX_PANELS)
    for metric, what, caption in (
            ("accuracy", "accuracy", "mean score over the cell's samples"),
            ("retention", "needle retention",
             "share of the asked-for needle tokens the cache still held when the question began")):
        for fname, tasks, title in groups:
            rep.plot(prefix + "tasks_heatmap_%s_%s" % (metric, file_part(fname)),
                     "Needle in a haystack, %s: %s" % (what, title),
                     lambda fig, tasks=tasks, metric=metric, what=what: niah_grid(fig, per_config, set(tasks),
                                                                                 metric, what),
                     "%s; depth 0%% = needle at the start of the context; %d panels, one per policy%s"
                     % (caption, panels, more), wide=panels > 2)


# ----------------------------------------------------------------------------------------------- curves

def reference_lines(ax, refs, with_full=True):
    """Horizontal lines for budget-free rows: the full cache solid black, the others dashed grey."""
    styles = ["--", "-.", ":"]
    for i, (name, v) in enumerate(refs.items()):
        if name == "full":
            if with_full:
                ax.axhline(v, color="k", lw=1.2, label="full cache")
        else:
            ax.axhline(v, color="0.45", lw=1.0, ls=styles[i % len(styles)], label="%s (no budget)" % name)


def versus(fig, rows, key_x, xlabel, logx, refs_of, extra=None):
    """Accuracy and needle retention (a panel each, where present) against key_x; refs_of(rows, key) gives
    the reference lines."""
    order = sorted({policy_group(r) for r in rows if not is_full(r)})  # same colour per policy in every plot
    panels = []
    for key, ylabel in (("task_accuracy", "task accuracy"), ("task_retention", "needle retention")):
        groups = mean_groups([r for r in rows if key_x(r) is not None], key_x, key)
        refs = refs_of(rows, key)
        if groups or refs:
            panels.append((key, ylabel, groups, refs))
    if not panels:
        raise Skip("no rows with task_accuracy or task_retention")
    for k, (key, ylabel, groups, refs) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        if groups:
            kr.lines(ax, groups, xlabel, ylabel, logx=logx, legend=False, order=order)
        else:
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
        reference_lines(ax, refs)
        if extra:
            extra(ax, key)
        ax.set_ylim(-0.03, 1.03)
    legend_right(fig.axes[-1])
    fig.set_size_inches(10 if len(panels) == 2 else 6.5, 3.8)


def budget_free_refs(rows, key):
    """{policy group: mean} over rows without a budget (the full cache, quant-only baselines)."""
    acc = defaultdict(list)
    for r in rows:
        if not num(r.get("budget")) and num(r.get(key)):
            acc[policy_group(r)].append(r[key])
    return OrderedDict((g, mean(v)) for g, v in sorted(acc.items(), key=lambda kv: (kv[0] != "full", kv[0])))


def full_refs(rows, key):
    vals = [r[key] for r in rows if is_full(r) and num(r.get(key))]
    return {"full": mean(vals)} if vals else {}


def curve_plots(rep, rows, prefix):
    def by_budget(fig):
        versus(fig, rows, lambda r: r["budget"] if num(r.get("budget")) else None,
               "budget (slots per head)", True, budget_free_refs)
    rep.plot(prefix + "tasks_vs_budget", "Retrieval accuracy and needle retention vs budget", by_budget,
             "mean over every sample of every task cell; budget-free runs (full cache, quant only) as lines")

    full_bytes = [r["task_kv_bytes_full"] for r in rows if num(r.get("task_kv_bytes_full"))]

    def mark_full_bytes(ax, key):
        if full_bytes:
            ax.axvline(mean(full_bytes), color="k", lw=0.8, ls=":", label="full f32 cache bytes")
        for r in rows:
            if is_full(r) and num(r.get("task_kv_bytes")) and num(r.get(key)):
                ax.plot([r["task_kv_bytes"]], [r[key]], "k*", ms=8)

    def by_bytes(fig):
        kv = [r for r in rows if not is_full(r) and num(r.get("task_kv_bytes"))]
        if not kv:
            raise Skip("no task_kv_bytes on compressed runs")
        versus(fig, kv + [r for r in rows if is_full(r)],
               lambda r: None if is_full(r) or not num(r.get("task_kv_bytes")) else r["task_kv_bytes"],
               "KV bytes when the question began (incl. policy metadata)", False, full_refs, mark_full_bytes)
        for ax in fig.axes:
            ax.set_xscale("log")
    rep.plot(prefix + "tasks_vs_kv_bytes", "Retrieval accuracy and needle retention vs KV memory", by_bytes,
             "one point per configuration, lines per policy; the full cache is the star and the solid line")

    def by_length(fig):
        per_config = collect_cells(rows)
        tasks = list(OrderedDict.fromkeys(c["task"] for cells in per_config.values() for c in cells
                                          if depth_of(c) is None))
        if not tasks:
            raise Skip("no task without a depth axis (cwe, fwe)")
        label_of = {config_name(r): row_label(r) for r in rows}
        order = [label_of.get(name, name) for name in per_config]
        shown = tasks[:3]
        for k, t in enumerate(shown):
            ax = fig.add_subplot(1, len(shown), k + 1)
            groups = OrderedDict()
            for name, cells in per_config.items():
                acc = defaultdict(list)
                for c in cells:
                    if c["task"] == t and depth_of(c) is None and num(c.get("length")) and num(c.get("accuracy")):
                        acc[c["length"]].append(c["accuracy"])
                if acc:
                    groups[label_of.get(name, name)] = sorted((l, mean(v)) for l, v in acc.items())
            kr.lines(ax, groups, "context length (tokens)", "accuracy" if k == 0 else "",
                     logx=True, legend=k == len(shown) - 1, order=order)
            lengths = sorted({x for pts in groups.values() for x, _ in pts})
            ax.set_xticks(lengths)
            ax.set_xticklabels([str(int(l)) if float(l).is_integer() else str(l) for l in lengths], fontsize=7)
            ax.minorticks_off()
            ax.set_ylim(-0.03, 1.03)
            ax.set_title(t, fontsize=9)
        fig.set_size_inches(min(4.2 * len(shown) + 2.2, 16), 3.8)
    rep.plot(prefix + "tasks_by_length", "Accuracy vs context length, tasks without a depth", by_length,
             "mean score over the samples of each length")

    def by_layer(fig):
        per = OrderedDict()
        for r in sorted(rows, key=config_key):
            layers = defaultdict(list)
            for c in r.get("task_cells") or []:
                if isinstance(c, dict) and isinstance(c.get("retention_by_layer"), list):
                    for l, v in enumerate(c["retention_by_layer"]):
                        if num(v):
                            layers[l].append(v)
            if layers:
                per.setdefault(row_label(r), defaultdict(list))
                for l, vs in layers.items():
                    per[row_label(r)][l].extend(vs)
        if not per:
            raise Skip("no retention_by_layer in task_cells")
        names = list(per)[:30]
        n_layers = max(max(v) for v in per.values()) + 1
        m = [[mean(per[n][l]) if per[n].get(l) else float("nan") for l in range(n_layers)] for n in names]
        ax = fig.add_subplot(111)
        kr.heatmap(fig, ax, m, [str(l) for l in range(n_layers)], names, "needle retention", cmap=CMAP,
                   vmin=0, vmax=1, text_color="auto")
        ax.set_xlabel("layer")
        fig.set_size_inches(max(5.0, 0.5 * n_layers + 3.5), max(3.0, 0.25 * len(names) + 1.5))
    rep.plot(prefix + "tasks_retention_by_layer", "Needle retention per layer", by_layer,
             "mean over kv heads, samples and task cells")


# ----------------------------------------------------------------------------------------------- section

def task_plots(rep, rows, tag="", prefix=""):
    """The "Retrieval tasks" section for one model's rows; nothing when no row has task fields."""
    rows = [r for r in rows if has_task_fields(r)]
    if not rows:
        return
    rep.section("Retrieval tasks%s (%d runs)" % (tag, len(rows)))
    cols = ["policy", "task_accuracy", "task_retention", "task_merged", "task_needle_attention", "task_kv_bytes",
            "task_kv_bytes_full"]
    rep.table(cols, [[config_name(r) if c == "policy" else r.get(c) for c in cols]
                     for r in sorted(rows, key=config_key)])
    heatmap_plots(rep, rows, prefix)
    curve_plots(rep, rows, prefix)
