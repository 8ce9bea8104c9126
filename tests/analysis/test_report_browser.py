"""test_report_browser.py - the HTML report of a real sweep opened from
disk in headless Chromium (Debian's /usr/bin/chromium, --dump-dom): the
page's own script records after window load how many images loaded
(naturalWidth > 0) and how many rows the run table has. A screenshot of the
page is kept as a test artefact (report-screenshot.png in the artefacts
folder: build/analysis-artefacts under ctest). Skipped with one line when
Chromium is missing."""
import os
import re
import shutil

from conftest import chromium, run_cli


def page_facts(index, tmp):
    dom = chromium("file://" + str(index), tmp, "--virtual-time-budget=10000", "--dump-dom")
    body = re.search(r"<body([^>]*)>", dom)
    assert body, f"no <body> in Chromium's DOM dump: {dom[:300]!r}"
    attrs = dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("data-checked") == "1", f"the page's check did not run: {body.group(0)}"
    return int(attrs["data-images"]), int(attrs["data-images-loaded"]), int(attrs["data-run-rows"]), dom


def test_report_in_browser(real_archive, tmp_path, artefacts):
    rep = tmp_path / "report"
    code, out, err = run_cli("report", real_archive, "-o", rep)
    assert code == 0, err
    assert "report: run 4/4" in err  # progress on stderr
    html = (rep / "index.html").read_text()
    assert "id='random-weights'" in html  # random weights said at the top
    assert "id='unfinished'" not in html
    srcs = re.findall(r"<img[^>]* src='([^']+)'", html)
    assert all(not s.startswith(("/", "file:", "http")) for s in srcs)  # relative links only
    # one grid and one plot per varied parameter, a strip and a plot per run, the trade-off
    assert sorted(s for s in srcs if "grid-" in s) == ["img/grid-pool.png", "img/grid-style_weight.png"]
    assert len([s for s in srcs if "strip-" in s]) == 4 and len([s for s in srcs if "/run-" in s]) == 4
    assert len(srcs) == 2 + 2 + 4 + 4 + 1
    for rid in ("run-g001", "run-g002", "run-g003", "run-g004"):
        assert f"id='run-{rid}'" in html

    total, loaded, rows, dom = page_facts(rep / "index.html", tmp_path)
    assert (total, loaded, rows) == (13, 13, 4)
    chromium("file://" + str(rep / "index.html"), tmp_path, "--hide-scrollbars", "--window-size=1280,3000",
             "--screenshot=" + os.path.join(artefacts, "report-screenshot.png"))
    shot = os.path.join(artefacts, "report-screenshot.png")
    assert os.path.getsize(shot) > 10000
    shutil.copytree(rep, os.path.join(artefacts, "report"), dirs_exist_ok=True)

    # the check can fail: a copy of the report with one picture gone
    broken = tmp_path / "broken"
    shutil.copytree(rep, broken)
    os.unlink(broken / "img" / "grid-pool.png")
    total, loaded, rows, _ = page_facts(broken / "index.html", tmp_path)
    assert (total, loaded, rows) == (13, 12, 4)


def test_table_sorts_in_browser(real_archive, tmp_path):
    """Clicking the style_weight header sorts the run table (descending on
    the second click)."""
    rep = tmp_path / "report"
    assert run_cli("report", real_archive, "-o", rep)[0] == 0
    html = (rep / "index.html").read_text()
    probe = html.replace("</body>", """<script>window.addEventListener('load', function () {
  var th = Array.prototype.filter.call(document.querySelectorAll('#runs th'),
                                       function (h) { return h.textContent == 'style_weight'; })[0];
  sortTable(th); sortTable(th);
  var ids = Array.prototype.map.call(document.querySelectorAll('#runs tbody tr'),
                                     function (r) { return r.cells[0].textContent; });
  document.body.setAttribute('data-order', ids.join(' '));
});</script></body>""")
    (rep / "probe.html").write_text(probe)
    dom = chromium("file://" + str(rep / "probe.html"), tmp_path, "--virtual-time-budget=10000", "--dump-dom")
    order = re.search(r'data-order="([^"]*)"', dom).group(1).split()
    assert order[:2] in (["run-g003", "run-g004"], ["run-g004", "run-g003"]) and len(order) == 4
