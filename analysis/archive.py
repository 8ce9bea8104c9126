"""archive.py - reads a stylesweep sweep archive (hdf5/SCHEMA.md, schema
version 1) into pandas and numpy, with h5py alone.

Every read opens the file read-only, reads, and closes it (a handle kept open
while a sweep writes goes stale, SCHEMA.md "Consistency"); a read that races
the writer's flush is retried once, in `Archive._read` only.
"""
import math
import os
import time

import h5py
import numpy as np
import pandas as pd
import yaml

SCHEMA_VERSION = 1
STATUS_NAMES = ("pending", "running", "done", "failed", "interrupted")
METRIC_FIELDS = ("iteration", "loss", "content", "style", "tv", "evaluations", "seconds",
                 "improvement_percent")
# columns of Archive.runs that are not parameters, in order
RUN_COLUMNS_BEFORE = ("id", "index", "status", "attempts")
RUN_COLUMNS_AFTER = ("iterations_done", "final_loss", "final_content", "final_style", "final_tv",
                     "seconds", "host", "rank", "backend", "device", "weights_used", "start_time",
                     "end_time", "error")


class ArchiveError(Exception):
    """A file that cannot be read as a sweep archive, or an unknown run or
    parameter. str(error) is one line that names the file, run or
    parameter."""


def _decode(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _param_value(v):
    """A parameter's value as one typed scalar: YAML's int, float, bool or
    str; a one-item list becomes its item, a longer list its items joined
    with ',' (style images, style layers, per-image style weights)."""
    if isinstance(v, list):
        if len(v) == 1:
            return _param_value(v[0])
        return ",".join(str(_param_value(x)) for x in v)
    if isinstance(v, dict):
        return ",".join(f"{k}={x}" for k, x in v.items())
    return v


def parse_params(text):
    """The run's `params` attribute (YAML `key: value` lines) as an ordered
    dict of typed scalars (see _param_value). Raises ValueError when the text
    is not a YAML mapping."""
    data = yaml.safe_load(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("params is not a YAML mapping")
    return {str(k): _param_value(v) for k, v in data.items()}


def param_list(text, key):
    """The raw list value of parameter `key` in a params text (e.g. every
    style image), [] when absent."""
    data = yaml.safe_load(text) or {}
    v = data.get(key)
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


class Archive:
    """A sweep archive opened with `analysis.open(path)`.

    Attributes (read when opened; `refresh()` reads them again):
      path            the file
      sweep           the sweep's name
      attrs           the root attributes (dict)
      manifest        the manifest text last used
      param_names     every parameter key, in the order the runs list them

    Properties and methods:
      runs            DataFrame, one row per run (see `runs`)
      metrics(id)     per-iteration DataFrame of one run
      snapshots(id)   (images (n, H, W, 3) uint8, iterations (n,) int)
      final(id)       (image (H, W, 3) uint8 or None, iteration)
      varied()        parameters whose value differs between runs
      defaults()      the most common value of each parameter
      slice(param)    runs that differ from defaults() only in param
      groups(param)   comparison rows for a grid over param
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._runs = None
        self._measures = None
        self.refresh()

    # ------------------------------------------------------------- reading
    def _read(self, fn):
        """fn(h5py.File) on the archive opened read-only. A read that fails
        with an HDF5 error (it raced the writer's flush: "addr overflow",
        "can't read data") is retried once after 0.1 s with a fresh handle;
        the second failure becomes an ArchiveError naming the file."""
        last = None
        for attempt in range(2):
            try:
                with h5py.File(self.path, "r") as f:
                    return fn(f)
            except (OSError, RuntimeError) as e:  # h5py's HDF5 errors
                last = e
                if attempt == 0:
                    time.sleep(0.1)
        raise ArchiveError(f"{self.path}: cannot read the archive: {str(last).splitlines()[0]}")

    def refresh(self):
        """Reads the root attributes, the manifest and the run table again
        (a sweep may have progressed); forgets cached tables."""
        check_file(self.path)

        def head(f):
            a = {k: (_decode(v) if isinstance(v, (bytes, str)) else v) for k, v in f.attrs.items()}
            fmt = a.get("format")
            if fmt != "stylesweep-archive":
                raise ArchiveError(f"{self.path}: not a stylesweep archive (root attribute format is "
                                   f"{fmt!r}, expected 'stylesweep-archive')")
            try:
                version = int(a.get("schema_version"))
            except (TypeError, ValueError):
                raise ArchiveError(f"{self.path}: not a stylesweep archive (no integer schema_version)")
            if version > SCHEMA_VERSION:
                raise ArchiveError(f"{self.path}: schema_version {version} is newer than this reader "
                                   f"understands ({SCHEMA_VERSION}); use a newer analysis package")
            if "run_table" not in f:
                raise ArchiveError(f"{self.path}: not a stylesweep archive (no /run_table)")
            manifest = f["manifest"].asstr()[()] if "manifest" in f else ""
            table = f["run_table"][:]
            rows = []
            for row in table:
                rid = _decode(row["id"])
                g = f["runs"].get(rid) if "runs" in f else None
                ga = dict(g.attrs) if g is not None else {}
                m = g["metrics"][-1:] if g is not None and "metrics" in g else None
                msec = float(np.sum(g["metrics"]["seconds"])) if m is not None and len(m) else 0.0
                rows.append((row, {k: (_decode(v) if isinstance(v, (bytes, str)) else v)
                                   for k, v in ga.items()}, m, msec))
            return a, manifest, table.dtype, rows

        self.attrs, self.manifest, dtype, rows = self._read(head)
        self.sweep = self.attrs.get("sweep", "")
        enum = h5py.check_enum_dtype(dtype["status"]) if "status" in dtype.names else None
        status_of = {v: k for k, v in enum.items()} if enum else dict(enumerate(STATUS_NAMES))
        self._rows = []
        self._params_text = {}
        names = []
        for row, ga, m, msec in rows:
            rid = _decode(row["id"])
            text = ga.get("params", "")
            try:
                params = parse_params(text)
            except (ValueError, yaml.YAMLError) as e:
                raise ArchiveError(f"{self.path}: run {rid}: params attribute is not YAML ({e})")
            for k in params:
                if k not in names:
                    names.append(k)
            last = m[0] if m is not None and len(m) else None
            r = dict(id=rid, index=int(ga.get("index", len(self._rows))),
                     status=status_of.get(int(row["status"]), str(int(row["status"]))),
                     attempts=int(row["attempts"]), params=params,
                     iterations_done=int(row["iterations_done"]), final_loss=float(row["final_loss"]),
                     final_content=float(last["content"]) if last is not None else math.nan,
                     final_style=float(last["style"]) if last is not None else math.nan,
                     final_tv=float(last["tv"]) if last is not None else math.nan,
                     seconds=msec, host=_decode(row["host"]), rank=int(row["rank"]),
                     backend=_decode(row["backend"]), device=_decode(row["device"]),
                     weights_used=str(ga.get("weights", "")), start_time=float(row["start_time"]),
                     end_time=float(row["end_time"]), error=_decode(row["error"]))
            self._rows.append(r)
            self._params_text[rid] = text
        self.param_names = names
        self._runs = None
        self._measures = None
        return self

    # ------------------------------------------------------------- tables
    @property
    def ids(self):
        """Run ids in index order."""
        return [r["id"] for r in self._rows]

    def _check_run(self, run_id):
        if run_id not in self._params_text:
            ids = self.ids
            hint = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
            raise ArchiveError(f"{self.path}: no run '{run_id}' (runs: {hint or 'none'})")

    def _check_param(self, param):
        if param not in self.param_names:
            raise ArchiveError(f"{self.path}: no parameter '{param}' (varied: "
                               f"{', '.join(self.varied()) or 'none'})")

    @property
    def runs(self):
        """DataFrame, one row per run in index order (index: the run id).

        Columns: id, index, status (pending/running/done/failed/interrupted),
        attempts; then every resolved parameter as its own column, typed
        (int64, float64, bool or str; a one-item list such as
        `style_weight: [30]` is its item, longer lists are joined with ','),
        named as in the manifest (`weights` is the parameter as asked, e.g.
        `auto`); then iterations_done, final_loss, final_content,
        final_style, final_tv (the last metrics row), seconds (sum of the
        iterations' wall times), host, rank, backend, device, weights_used
        (the weights actually used: a file or `random:SEED`), start_time,
        end_time (UNIX seconds, NaN when not yet), error; then the measures
        of `analysis.measures.run_measures`: ssim_content and
        colour_distance_style (NaN without a final image or image file).
        """
        if self._runs is None:
            recs = []
            for r in self._rows:
                rec = {k: r[k] for k in RUN_COLUMNS_BEFORE}
                for k in self.param_names:
                    rec[k] = r["params"].get(k)
                for k in RUN_COLUMNS_AFTER:
                    rec[f"run_{k}" if k in self.param_names else k] = r[k]
                recs.append(rec)
            cols = list(RUN_COLUMNS_BEFORE) + self.param_names + [
                f"run_{k}" if k in self.param_names else k for k in RUN_COLUMNS_AFTER]
            df = pd.DataFrame.from_records(recs, columns=cols)
            for k in self.param_names:
                df[k] = _typed(df[k], k)
            meas = self.measures()
            for c in meas.columns:
                df[c] = meas[c].values if len(meas) else []
            df.index = df["id"].values
            df.index.name = "run"
            self._runs = df
        return self._runs

    def measures(self):
        """DataFrame (index: run id) of the measures comparable across runs
        (analysis.measures.run_measures): ssim_content and
        colour_distance_style per run; cached until refresh()."""
        if self._measures is None:
            from . import measures
            self._measures = measures.archive_measures(self)
        return self._measures

    def params(self, run_id):
        """The run's parameters as a dict of typed scalars."""
        self._check_run(run_id)
        return dict(self._rows[self.ids.index(run_id)]["params"])

    def params_text(self, run_id):
        """The run's `params` attribute: its parameters as YAML text."""
        self._check_run(run_id)
        return self._params_text[run_id]

    def row(self, run_id):
        """The run's facts (status, attempts, host, ...) as a dict."""
        self._check_run(run_id)
        return dict(self._rows[self.ids.index(run_id)])

    def content_path(self, run_id):
        """The run's content image path as recorded (may not exist here)."""
        return param_list(self.params_text(run_id), "content")[0] if param_list(
            self.params_text(run_id), "content") else ""

    def style_paths(self, run_id):
        """The run's style image paths as recorded (may not exist here)."""
        return param_list(self.params_text(run_id), "style")

    def metrics(self, run_id):
        """Per-iteration DataFrame of a run (empty when it has none yet):
        iteration, loss, content, style, tv (the terms as they enter the
        total), evaluations, seconds (wall time of the iteration),
        improvement_percent, elapsed (cumulative seconds), and one column
        `style_<layer>` per style layer (NaN where not recorded)."""
        self._check_run(run_id)

        def read(f):
            g = f["runs"].get(run_id)
            if g is None or "metrics" not in g:
                return None, None, []
            m = g["metrics"][:]
            sl, names = None, []
            if "style_layers" in g:
                sl = g["style_layers"][:]
                names = [_decode(x) for x in g["style_layers"].attrs.get("layer_names", [])]
            return m, sl, names

        m, sl, names = self._read(read)
        cols = {}
        for k in METRIC_FIELDS:
            cols[k] = m[k] if m is not None and k in m.dtype.names else np.zeros(0)
        df = pd.DataFrame(cols)
        n = len(df)
        df["elapsed"] = df["seconds"].cumsum() if n else []
        if sl is not None and sl.ndim == 2:
            for j in range(sl.shape[1]):
                name = names[j] if j < len(names) else f"layer{j}"
                col = np.full(n, np.nan)
                k = min(n, sl.shape[0])
                col[:k] = sl[:k, j]
                df[f"style_{name}"] = col
        return df

    def snapshots(self, run_id):
        """(images, iterations): the run's snapshots as a uint8 array
        (n, H, W, 3) and the iteration after which each was taken (n,);
        n = 0 when the run has none (yet)."""
        self._check_run(run_id)

        def read(f):
            g = f["runs"].get(run_id)
            if g is None or "snapshots" not in g or "snapshot_iterations" not in g:
                return np.zeros((0, 0, 0, 3), np.uint8), np.zeros(0, np.int64)
            n = min(len(g["snapshots"]), len(g["snapshot_iterations"]))
            return g["snapshots"][:n], g["snapshot_iterations"][:n].astype(np.int64)

        return self._read(read)

    def final(self, run_id):
        """(image, iteration): the run's final image, uint8 (H, W, 3), and
        the iteration it belongs to (iterations_done); (None, 0) when the run
        has no final image (not done, failed)."""
        self._check_run(run_id)

        def read(f):
            g = f["runs"].get(run_id)
            return g["final"][:] if g is not None and "final" in g else None

        img = self._read(read)
        return img, (self.row(run_id)["iterations_done"] if img is not None else 0)

    def image(self, run_id):
        """The run's best image for comparison: its final image, else its
        last snapshot, else None; with the iteration it shows."""
        img, it = self.final(run_id)
        if img is not None:
            return img, it
        imgs, its = self.snapshots(run_id)
        if len(imgs):
            return imgs[-1], int(its[-1])
        return None, 0

    # ------------------------------------------------------------- parameters
    def varied(self):
        """Names of the parameters whose value is not the same in every run,
        in parameter order."""
        out = []
        for k in self.param_names:
            vals = {_key(r["params"].get(k)) for r in self._rows}
            if len(vals) > 1:
                out.append(k)
        return out

    def defaults(self):
        """Each parameter's most common value over the runs (ties: the value
        of the earliest run): the sweep's defaults when its runs are built as
        variations of one base run, as the founding study's are."""
        out = {}
        for k in self.param_names:
            counts = {}
            first = {}
            for r in self._rows:
                v = r["params"].get(k)
                kk = _key(v)
                counts[kk] = counts.get(kk, 0) + 1
                first.setdefault(kk, v)
            best = max(counts, key=lambda x: (counts[x], -list(first).index(x))) if counts else None
            out[k] = first.get(best)
        return out

    def groups(self, param):
        """Comparison rows for `param`: a list of (label, DataFrame) where
        each DataFrame holds runs that share every other varied parameter and
        take at least two values of `param`, sorted by its value; the row
        holding the defaults comes first, and label gives the other varied
        parameters' values ("pool=avg, init=gray"). When no such row exists
        (every run differs in more than `param`), one row of all runs sorted
        by `param` (label "all runs")."""
        self._check_param(param)
        runs = self.runs
        others = [k for k in self.varied() if k != param]
        defaults = self.defaults()
        rows = []
        if others:
            keyed = {}
            for rid in runs.index:
                p = self._rows[self.ids.index(rid)]["params"]
                keyed.setdefault(tuple(_key(p.get(k)) for k in others), []).append(rid)
            dkey = tuple(_key(defaults.get(k)) for k in others)
            for key, ids in keyed.items():
                df = runs.loc[ids]
                if df[param].map(_key).nunique() < 2:
                    continue
                first = self._rows[self.ids.index(ids[0])]["params"]
                label = ", ".join(f"{k}={_short(first.get(k))}" for k in others)
                rows.append((key != dkey, label, _sort_by(df, param)))
            rows.sort(key=lambda x: x[0])
            rows = [(label, df) for _, label, df in rows]
        elif runs[param].map(_key).nunique() >= 2:
            rows = [("all runs", _sort_by(runs, param))]
        if not rows:
            rows = [("all runs", _sort_by(runs, param))]
        return rows

    def slice(self, param):
        """Runs (DataFrame) that differ from defaults() only in `param`,
        sorted by its value: one comparison, as the founding study built
        them. Falls back to all runs sorted by `param` when fewer than two
        of its values are found that way (a grid or random sweep)."""
        self._check_param(param)
        runs = self.runs
        defaults = self.defaults()
        keep = []
        for r in self._rows:
            if all(_key(r["params"].get(k)) == _key(defaults[k]) for k in self.param_names if k != param):
                keep.append(r["id"])
        df = runs.loc[keep]
        if df[param].map(_key).nunique() < 2:
            df = runs
        return _sort_by(df, param)


def _key(v):
    """A hashable, comparable stand-in for a parameter value."""
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return (type(v).__name__ if not isinstance(v, (int, float)) or isinstance(v, bool) else "num", v)


def _short(v):
    s = str(v)
    if "/" in s:  # paths: the file names
        s = ",".join(os.path.basename(x) for x in s.split(","))
    return s


REAL_PARAMS = {"learning_rate", "min_improvement", "content_weight", "style_weight", "style_scale",
               "tv_weight", "tv_power"}


def _typed(col, name=""):
    """A parameter column with one dtype: int64, float64 (always for the
    real-valued keys of REAL_PARAMS, which YAML may spell as integers),
    bool, else str."""
    vals = list(col)
    if name in REAL_PARAMS and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return col.astype("float64")
    if all(isinstance(v, bool) for v in vals):
        return col.astype(bool)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return col.astype("int64")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return col.astype("float64")
    return col.map(_text).astype(object)


def _text(v):
    """A parameter value as the manifest spells it (YAML's booleans lower case)."""
    return "" if v is None else "true" if v is True else "false" if v is False else str(v)


def is_numeric(col):
    """Whether a runs column holds numbers (not bools)."""
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _sort_by(df, param):
    col = df[param]
    if is_numeric(col):
        return df.iloc[np.argsort(col.values, kind="stable")]
    order = sorted(range(len(df)), key=lambda i: str(col.iloc[i]))
    return df.iloc[order]


def check_file(path):
    """Raises ArchiveError unless path is an existing HDF5 file."""
    if not os.path.exists(path):
        raise ArchiveError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ArchiveError(f"{path}: is a folder, not an archive")
    try:
        ok = h5py.is_hdf5(path)
    except OSError as e:
        raise ArchiveError(f"{path}: cannot read: {e}")
    if not ok:
        raise ArchiveError(f"{path}: not an HDF5 file")


def open(path):  # noqa: A001 - the package's entry point, analysis.open
    """Opens a stylesweep archive (hdf5/SCHEMA.md) for reading and returns
    an Archive. Works while a sweep is writing it (call refresh() to see
    progress). Raises ArchiveError (one line naming the file) for a missing
    file, a file that is not HDF5 or not an archive, or an archive newer
    than schema version 1."""
    return Archive(path)
