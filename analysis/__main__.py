"""python3 -m analysis - the analysis package's command line:

    python3 -m analysis report ARCHIVE -o DIR [--force]
    python3 -m analysis table ARCHIVE [--csv] [--all]
    python3 -m analysis plot ARCHIVE RUN [-o FILE.png] [--force]
    python3 -m analysis grid ARCHIVE PARAM -o FILE.png [--force]

Bad input (a missing or non-HDF5 file, an HDF5 file that is not an archive,
a newer schema_version, an unknown run or parameter, an output that exists)
prints one line `analysis: ...` to stderr and exits 1; usage errors exit 2.
"""
import argparse
import os
import sys

import pandas as pd

from .archive import ArchiveError, open as open_archive


def _refuse_existing(path, force):
    if os.path.exists(path) and not force:
        raise ArchiveError(f"{path}: exists (use --force to replace it)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ArchiveError(f"{path}: its folder {parent} does not exist")


def cmd_report(args):
    from .report import write_report
    a = open_archive(args.archive)
    index = write_report(a, args.output, force=args.force)
    print(f"report: {index}")
    print(f"open it with: xdg-open {index}   (or any browser: file://{index})")
    return 0


TABLE_COLUMNS = ["status", "attempts", "iterations_done", "final_loss", "ssim_content",
                 "colour_distance_style", "seconds"]


def cmd_table(args):
    a = open_archive(args.archive)
    runs = a.runs
    if args.csv:
        runs.to_csv(sys.stdout, index=False)
        return 0
    cols = list(runs.columns) if args.all else (
        ["status", "attempts"] + a.varied() + [c for c in TABLE_COLUMNS if c not in ("status", "attempts")])
    df = runs[cols].copy()
    for c in ("content", "style"):
        if c in df.columns:
            df[c] = df[c].map(lambda v: ",".join(os.path.basename(x) for x in str(v).split(",")))
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                           "display.max_colwidth", 60):
        print(f"sweep {a.sweep}: {len(runs)} runs")
        print(df.to_string(float_format=lambda v: f"{v:.4g}") if len(df) else "(no runs)")
    return 0


def cmd_plot(args):
    from .plots import run_plot
    a = open_archive(args.archive)
    a.row(args.run)  # unknown run: ArchiveError
    out = args.output or f"{args.run}.png"
    _refuse_existing(out, args.force)
    run_plot(a, args.run, out)
    print(out)
    return 0


def cmd_grid(args):
    from .grids import comparison_grid
    a = open_archive(args.archive)
    a.groups(args.param)  # unknown parameter: ArchiveError
    _refuse_existing(args.output, args.force)
    for p in comparison_grid(a, args.param, args.output):
        print(p)
    return 0


def parser():
    p = argparse.ArgumentParser(prog="python3 -m analysis",
                                description="Load, plot and report stylesweep sweep archives (hdf5/SCHEMA.md).")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser("report", help="write the sweep's HTML report into a folder",
                       description="Writes a self-contained folder with index.html (summary, sortable run "
                       "table, a section per varied parameter with its comparison grid and plots, a section "
                       "per run with its evolution strip and plots), runs.csv and img/. Works on an archive "
                       "a sweep is still writing. Progress goes to stderr.")
    r.add_argument("archive", metavar="ARCHIVE")
    r.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="the report folder: new, empty, or an earlier report (replaced)")
    r.add_argument("--force", action="store_true", help="replace DIR even if it is not a report")
    r.set_defaults(fn=cmd_report)
    t = sub.add_parser("table", help="print the run table",
                       description="Prints the run table: status, attempts, the varied parameters, iterations, "
                       "final loss, SSIM to the content, colour distance to the style, seconds (every column "
                       "with --all or --csv).")
    t.add_argument("archive", metavar="ARCHIVE")
    t.add_argument("--csv", action="store_true", help="every column as CSV on stdout")
    t.add_argument("--all", action="store_true", help="every column as aligned text")
    t.set_defaults(fn=cmd_table)
    pl = sub.add_parser("plot", help="plot one run (loss, time, improvement, terms)",
                        description="Writes one run's plots (loss, time and improvement per iteration, loss "
                        "terms on a log scale) as one PNG.")
    pl.add_argument("archive", metavar="ARCHIVE")
    pl.add_argument("run", metavar="RUN", help="the run id")
    pl.add_argument("-o", "--output", metavar="FILE.png", help="the PNG [default: RUN.png]")
    pl.add_argument("--force", action="store_true", help="replace an existing FILE.png")
    pl.set_defaults(fn=cmd_plot)
    g = sub.add_parser("grid", help="comparison grid of the final images over one parameter",
                       description="Writes the final images side by side in PARAM's value order with the "
                       "value under each, one row per combination of the other varied parameters; more than "
                       "48 images continue on FILE-2.png, FILE-3.png ... The paths written are printed.")
    g.add_argument("archive", metavar="ARCHIVE")
    g.add_argument("param", metavar="PARAM", help="a parameter name (see `table`)")
    g.add_argument("-o", "--output", metavar="FILE.png", required=True)
    g.add_argument("--force", action="store_true", help="replace an existing FILE.png")
    g.set_defaults(fn=cmd_grid)
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if not getattr(args, "fn", None):
        p.print_help(sys.stderr)
        return 2
    try:
        return args.fn(args)
    except ArchiveError as e:
        print(f"analysis: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("analysis: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
