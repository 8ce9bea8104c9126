"""report.py - a sweep's HTML report: one self-contained folder

    DIR/index.html        summary, failed runs, trade-off, sortable run table,
                          one section per varied parameter (comparison grid and
                          plots), one section per run (#run-ID: evolution strip
                          and plots)
    DIR/runs.csv          the run table (Archive.runs)
    DIR/img/*.png         every picture, linked relatively
    DIR/.stylesweep-report  marks the folder as a report (so it may be replaced)

that opens from disk or any static web server. It works on an archive that a
sweep is still writing (it shows what is there and says so at the top), and
says at the top when runs used random weights. The folder is built under a
temporary name next to DIR and moved into place at the end, so a report
that stopped half-way never looks complete.
"""
import html
import math
import os
import re
import shutil
import sys
import time

import numpy as np

from . import grids, plots
from .archive import ArchiveError, _short

MARKER = ".stylesweep-report"


def safe_name(index, run_id):
    """A file-name-safe stem for a run: its index and id."""
    return f"{index:04d}-" + re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)[:80]


def _e(x):
    return html.escape(str(x), quote=True)


def _fmt(v):
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return ""
        return f"{v:.4g}"
    return _short(v) if isinstance(v, str) else str(v)


def _duration(s):
    if not plots.finite(s):
        return "-"
    s = float(s)
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def check_target(out, force):
    """Raises ArchiveError unless `out` may be written: it is missing, an
    empty folder, or an earlier report (holds MARKER); anything else only
    with force."""
    if not os.path.exists(out):
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise ArchiveError(f"{out}: its folder {parent} does not exist")
        return
    if not os.path.isdir(out):
        if force:
            return
        raise ArchiveError(f"{out}: exists and is not a folder (use --force to replace it)")
    if os.listdir(out) and not os.path.exists(os.path.join(out, MARKER)) and not force:
        raise ArchiveError(f"{out}: exists and is not a stylesweep report (use --force to replace it)")


def _progress(msg):
    print(f"report: {msg}", file=sys.stderr, flush=True)


SCRIPT = """
function sortTable(th) {
  var table = th.closest('table'), col = Array.prototype.indexOf.call(th.parentNode.children, th);
  var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
  var asc = th.getAttribute('data-dir') !== 'asc';
  Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute('data-dir'); });
  th.setAttribute('data-dir', asc ? 'asc' : 'desc');
  function key(r) { var c = r.cells[col]; return c.hasAttribute('data-v') ? c.getAttribute('data-v') : c.textContent; }
  rows.sort(function (a, b) {
    var x = key(a), y = key(b), fx = parseFloat(x), fy = parseFloat(y), r;
    if (!isNaN(fx) && !isNaN(fy) && isFinite(x) && isFinite(y)) r = fx - fy;
    else r = x < y ? -1 : (x > y ? 1 : 0);
    return asc ? r : -r;
  });
  rows.forEach(function (r) { body.appendChild(r); });
}
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;
  var b = document.body;
  b.setAttribute('data-images', imgs.length);
  b.setAttribute('data-images-loaded', ok);
  b.setAttribute('data-run-rows', document.querySelectorAll('#runs tbody tr').length);
  b.setAttribute('data-checked', '1');
});
"""

STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 1400px; color: #222; }
.banner { padding: .6em 1em; margin: .5em 0; border-radius: 4px; }
.random { background: #fff3cd; border: 1px solid #e0c36a; }
.running { background: #d9ecff; border: 1px solid #7fb2e5; }
table { border-collapse: collapse; font-size: 13px; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
#runs th { cursor: pointer; background: #f0f0f0; position: sticky; top: 0; }
#runs th[data-dir=asc]::after { content: " \\25B2"; } #runs th[data-dir=desc]::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failed { color: #b00; } .done { color: #070; } .running { } .pending { color: #777; }
img { max-width: 100%; height: auto; display: block; margin: .4em 0; }
section { border-top: 1px solid #ddd; margin-top: 1.5em; }
.small { color: #666; font-size: 12px; }
"""


def write_report(archive, out, force=False, progress=_progress):
    """Writes the report of `archive` (an Archive) into folder `out` and
    returns the path of its index.html. Refuses (ArchiveError) to replace
    anything but an earlier report unless force. Progress lines go to
    `progress` (stderr by default)."""
    check_target(out, force)
    out = os.path.abspath(out)
    tmp = f"{out}.tmp-{os.getpid()}"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(os.path.join(tmp, "img"))
    try:
        _build(archive, tmp, progress)
        open(os.path.join(tmp, MARKER), "w").write("written by python3 -m analysis report\n")
        if os.path.exists(out):
            old = f"{out}.old-{os.getpid()}"
            os.rename(out, old)
            os.rename(tmp, out)
            if os.path.isdir(old):
                shutil.rmtree(old)
            else:
                os.unlink(old)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return os.path.join(out, "index.html")


def _build(archive, d, progress):
    runs = archive.runs
    n = len(runs)
    varied = archive.varied()
    defaults = archive.defaults()
    progress(f"{archive.path}: sweep {archive.sweep}, {n} runs, varied: {', '.join(varied) or 'none'}")
    runs.to_csv(os.path.join(d, "runs.csv"), index=False)
    parts = []
    w = parts.append
    counts = runs["status"].value_counts().to_dict() if n else {}
    unfinished = counts.get("running", 0) + counts.get("pending", 0)

    w("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>")
    w(f"<title>stylesweep report: {_e(archive.sweep)}</title><style>{STYLE}</style></head><body>")
    w(f"<h1>Sweep {_e(archive.sweep)}</h1>")
    w(f"<p class='small'>archive {_e(os.path.basename(archive.path))}, created "
      f"{_e(archive.attrs.get('created', '?'))} by stylesweep {_e(archive.attrs.get('stylesweep_version', '?'))};"
      f" report written {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}</p>")
    rand = [rid for rid in runs.index if str(runs.loc[rid, "weights_used"]).startswith("random")]
    if rand:
        w(f"<p class='banner random' id='random-weights'><b>Random weights.</b> {len(rand)} of {n} runs used "
          "seeded random VGG weights (no ImageNet weights file was found), so the images show colour and "
          "texture moved by random features, not the familiar results of trained weights.</p>")
    if unfinished:
        w(f"<p class='banner running' id='unfinished'><b>Sweep not finished.</b> {counts.get('running', 0)} "
          f"running and {counts.get('pending', 0)} pending runs when this report was written; it shows what "
          "the archive held then. Write the report again to see more.</p>")

    # ------------------------------------------------------------ summary
    w("<h2 id='summary'>Summary</h2><table>")
    w(f"<tr><th>runs</th><td>{n}</td></tr>")
    for st in ("done", "running", "pending", "interrupted", "failed"):
        if counts.get(st):
            w(f"<tr><th>{st}</th><td class='{st}'>{counts[st]}</td></tr>")
    sec = runs["seconds"].astype(float) if n else []
    if n:
        w(f"<tr><th>time in iterations</th><td>{_duration(float(np.nansum(sec)))} in all; per run "
          f"{_duration(float(np.nanmedian(sec)))} median, {_duration(float(np.nanmax(sec)))} longest</td></tr>")
        st_, en_ = runs["start_time"].astype(float), runs["end_time"].astype(float)
        if np.isfinite(st_).any() and np.isfinite(en_).any():
            w(f"<tr><th>wall time</th><td>{_duration(float(np.nanmax(en_) - np.nanmin(st_)))} from the first "
              "start to the last end</td></tr>")
    for col, name in (("weights_used", "weights used"), ("device", "devices")):
        vals = runs[col][runs[col].astype(str) != ""] if n else []
        if len(vals):
            items = ", ".join(f"{_e(v)} ({c} runs)" for v, c in vals.value_counts().items())
            w(f"<tr><th>{name}</th><td>{items}</td></tr>")
    if n:
        hosts = runs[runs["host"] != ""][["host", "backend"]].drop_duplicates()
        if len(hosts):
            w("<tr><th>hosts</th><td>" + ", ".join(f"{_e(h)} ({_e(b)})" for h, b in hosts.values) + "</td></tr>")
    w(f"<tr><th>varied</th><td>{_e(', '.join(varied) or 'nothing: every run has the same parameters')}</td></tr>")
    w("</table>")
    w("<p class='small'>Measures comparable across runs: <b>SSIM</b> is the structural similarity of the final "
      "image to the content image (luminance, 0..1, 1 = structure kept); <b>colour distance</b> is the mean over "
      "R, G, B of the earth mover's distance between the final image's value histogram and that of all the "
      "run's style images together (0..255, lower = closer to the style's colours). Loss values depend on each "
      "run's weights and normalisation and compare only between runs that share them. "
      "<a href='runs.csv'>runs.csv</a> holds the whole run table.</p>")

    failed = runs[runs["status"].isin(["failed", "interrupted"])] if n else []
    if len(failed):
        w("<h2 id='failed'>Failed and interrupted runs</h2><table><tr><th>run</th><th>status</th>"
          "<th>attempts</th><th>error</th></tr>")
        for rid, r in failed.iterrows():
            w(f"<tr><td><a href='#run-{_e(rid)}'>{_e(rid)}</a></td><td class='{r['status']}'>{r['status']}</td>"
              f"<td>{r['attempts']}</td><td>{_e(r['error'])}</td></tr>")
        w("</table>")

    # ------------------------------------------------------------ trade-off
    if n:
        progress("trade-off plot")
        plots.tradeoff_plot(archive, os.path.join(d, "img", "tradeoff.png"))
        w("<h2 id='tradeoff'>Content/style trade-off</h2>")
        w("<img src='img/tradeoff.png' alt='trade-off of all runs'>")

    # ------------------------------------------------------------ run table
    cols = (["status", "attempts"] + varied + ["iterations_done", "final_loss", "final_content", "final_style",
                                               "final_tv", "ssim_content", "colour_distance_style", "seconds",
                                               "host", "device"])
    heads = {"iterations_done": "iterations", "final_loss": "loss", "final_content": "content",
             "final_style": "style", "final_tv": "tv", "ssim_content": "SSIM",
             "colour_distance_style": "colour distance", "seconds": "seconds"}
    w("<h2 id='table'>Runs</h2><p class='small'>Click a column to sort. Final loss and terms are the last "
      "iteration's.</p><table id='runs'><thead><tr><th onclick='sortTable(this)'>run</th>")
    for c in cols:
        w(f"<th onclick='sortTable(this)'>{_e(heads.get(c, c))}</th>")
    w("</tr></thead><tbody>")
    for rid, r in runs.iterrows():
        w(f"<tr><td data-v='{r['index']:08d}'><a href='#run-{_e(rid)}'>{_e(rid)}</a></td>")
        for c in cols:
            v = r[c]
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            cls = " class='num'" if num else (f" class='{v}'" if c == "status" else "")
            dv = f" data-v='{float(v)!r}'" if num and plots.finite(v) else (" data-v=''" if num else "")
            w(f"<td{cls}{dv} title='{_e(v)}'>{_e(_fmt(v))}</td>")
        w("</tr>")
    w("</tbody></table>")

    # ------------------------------------------------------------ parameters
    if varied:
        w("<h2 id='parameters'>Varied parameters</h2><ul>")
        for p in varied:
            w(f"<li><a href='#param-{_e(p)}'>{_e(p)}</a></li>")
        w("</ul>")
    for k, p in enumerate(varied):
        progress(f"parameter {k + 1}/{len(varied)}: {p}")
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", p)
        gpaths = grids.comparison_grid(archive, p, os.path.join(d, "img", f"grid-{stem}.png"))
        plots.param_plot(archive, p, os.path.join(d, "img", f"param-{stem}.png"))
        rows = archive.groups(p)
        w(f"<section id='param-{_e(p)}'><h3>{_e(p)}</h3>")
        w(f"<p class='small'>Default (most common) value: {_e(_fmt(defaults.get(p)))}. "
          f"{len(rows)} comparison row(s): runs that share every other varied parameter.</p>")
        for g in gpaths:
            w(f"<img class='grid' src='img/{_e(os.path.basename(g))}' alt='final images by {_e(p)}'>")
        w(f"<img class='plot' src='img/param-{_e(stem)}.png' alt='plots of {_e(p)}'></section>")

    # ------------------------------------------------------------ runs
    w("<h2 id='per-run'>Each run</h2>")
    for k, (rid, r) in enumerate(runs.iterrows()):
        progress(f"run {k + 1}/{n}: {rid} ({r['status']})")
        stem = safe_name(int(r["index"]), rid)
        diff = {p: archive.params(rid).get(p) for p in archive.param_names
                if str(archive.params(rid).get(p)) != str(defaults.get(p))}
        w(f"<section id='run-{_e(rid)}'><h3>{_e(rid)} <span class='{r['status']}'>({r['status']})</span></h3>")
        w(f"<p class='small'>{_e(', '.join(f'{p}={_fmt(v)}' for p, v in diff.items()) or 'the defaults')}; "
          f"{r['iterations_done']} iterations, {_duration(r['seconds'])}, attempts {r['attempts']}, "
          f"{_e(r['host'] or '-')} {_e(r['device'])}, weights {_e(r['weights_used'] or '-')}</p>")
        if r["error"]:
            w(f"<p class='failed'>error: {_e(r['error'])}</p>")
        strip = grids.evolution_strip(archive, rid, os.path.join(d, "img", f"strip-{stem}.png"))
        if strip:
            w(f"<img class='strip' src='img/strip-{_e(stem)}.png' alt='evolution of {_e(rid)}'>")
        else:
            w("<p class='small'>no images yet</p>")
        if r["iterations_done"] > 0:
            plots.run_plot(archive, rid, os.path.join(d, "img", f"run-{stem}.png"))
            w(f"<img class='plot' src='img/run-{_e(stem)}.png' alt='plots of {_e(rid)}'>")
        else:
            w("<p class='small'>no iterations yet</p>")
        w(f"<details><summary>parameters</summary><pre>{_e(archive.params_text(rid))}</pre></details>")
        w("</section>")
    w(f"<script>{SCRIPT}</script></body></html>\n")
    with open(os.path.join(d, "index.html"), "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    progress(f"done: {n} runs")
