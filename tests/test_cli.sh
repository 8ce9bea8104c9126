#!/usr/bin/env bash
# test_cli.sh - the one option parser: every command's --help has the same
# layout (usage line, options with -h/--help and --version), --version
# prints the version, an unknown option gets one line with the nearest valid
# option (exit 2), a malformed value names the option and the value (exit 2),
# and the top level suggests the nearest command. $1 is the stylesweep
# binary; runs from the repository root.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
make_tmpdir

version=$("$BIN" --version)
check "stylesweep --version prints 'stylesweep X.Y.Z' ($version)" grep -Eqx 'stylesweep [0-9]+\.[0-9]+\.[0-9]+' <<<"$version"

# run_cmd OUT ARGS...: runs the binary, stdout and stderr into OUT.out/.err, RC its status
run_cmd() {
    local out=$1
    shift
    "$BIN" "$@" >"$out.out" 2>"$out.err"
    RC=$?
}

for cmd in transfer eval bench plan run status export; do
    run_cmd "$T/$cmd-help" "$cmd" --help
    check "$cmd --help: exit 0 (got $RC)" test $RC -eq 0
    check "$cmd --help: nothing on stderr" test ! -s "$T/$cmd-help.err"
    check "$cmd --help: the usage line" grep -q "^usage: stylesweep $cmd " "$T/$cmd-help.out"
    check "$cmd --help: an options section" grep -qx "options:" "$T/$cmd-help.out"
    check "$cmd --help: -h, --help in the option column" grep -Eqx '  -h, --help {15}this help' "$T/$cmd-help.out"
    check "$cmd --help: --version in the option column" grep -Eq '^  --version {16}[^ ]' "$T/$cmd-help.out"
    # every option line starts its help in the same column (27)
    bad=$(grep -E '^  -' "$T/$cmd-help.out" | grep -Ev '^  .{24} [^ ]' | grep -Ev '^  -[^ ].{23,}$' || true)
    check "$cmd --help: every option's help starts in column 27 ($bad)" test -z "$bad"

    run_cmd "$T/$cmd-version" "$cmd" --version
    check "$cmd --version: exit 0 (got $RC)" test $RC -eq 0
    check "$cmd --version: the version" test "$(cat "$T/$cmd-version.out")" = "$version"

    run_cmd "$T/$cmd-bogus" "$cmd" --no-such-option-at-all
    check "$cmd: unknown option: exit 2 (got $RC)" test $RC -eq 2
    check "$cmd: unknown option: one line" test "$(wc -l <"$T/$cmd-bogus.err")" -eq 1
    check "$cmd: unknown option: named" grep -qx "stylesweep $cmd: unknown option --no-such-option-at-all (see --help)" \
        "$T/$cmd-bogus.err"
    check "$cmd: unknown option: nothing on stdout" test ! -s "$T/$cmd-bogus.out"
done

# did you mean: a misspelt option of each command
misspelt() { # misspelt CMD TYPED SUGGESTED
    run_cmd "$T/misspelt" "$1" "$2" x
    check "$1 $2: exit 2 (got $RC)" test $RC -eq 2
    check "$1 $2: suggests $3" grep -qx "stylesweep $1: unknown option $2 (did you mean $3?)" "$T/misspelt.err" ||
        show "$T/misspelt.err"
}
misspelt run --resme --resume
misspelt run --checkpoint-evry --checkpoint-every
misspelt plan --defalts --defaults
misspelt status --sumary --summary
misspelt export --outptu --output
misspelt transfer --image-sise --image-size
misspelt eval --contnet-weight --content-weight
misspelt bench --repaet --repeat

# malformed values: one line naming the option and the value, exit 2
malformed() { # malformed NEEDLE ARGS...
    local needle=$1
    shift
    run_cmd "$T/malformed" "$@"
    check "$*: exit 2 (got $RC)" test $RC -eq 2
    check "$*: says '$needle'" grep -qF -- "$needle" "$T/malformed.err" || show "$T/malformed.err"
    check "$*: one line" test "$(wc -l <"$T/malformed.err")" -eq 1
}
malformed "run: --threads: 'many' is not an integer from 0 to 100000" run m.yaml -o a.h5 --threads many
malformed "run: --summary-every: '-1' is not a number from 0 to" run m.yaml -o a.h5 --summary-every -1
malformed "run: --backend: 'gpu' is not one of cpu|cuda|auto" run m.yaml -o a.h5 --backend gpu
malformed "run: --checkpoint-every needs a value" run m.yaml -o a.h5 --checkpoint-every
malformed "status: --summary takes no value (got 'yes')" status a.h5 --summary=yes
malformed "bench: --repeat: '0' is not an integer from 1 to 100000" bench --repeat 0
malformed "transfer: image_size: 'big' is not an integer" transfer c.png s.png -o o.png --image-size big
malformed "eval: unknown option --size (see --help)" eval --size 3
malformed "plan: unexpected argument 'b.yaml' (see --help)" plan a.yaml b.yaml
malformed "plan: needs a MANIFEST (see --help)" plan
malformed "run: needs MANIFEST and -o ARCHIVE.h5 (see --help)" run m.yaml
malformed "export: needs ARCHIVE.h5 and -o DIR (see --help)" export a.h5
malformed "status: needs ARCHIVE.h5 (see --help)" status
malformed "run: --retry-failed needs --resume" run m.yaml -o a.h5 --retry-failed
malformed "bench: unexpected argument 'extra' (see --help)" bench extra

# --name=value is --name value; "--" ends the options
run_cmd "$T/eq" plan --defaults=1 sweeps/demo.yaml
check "plan --defaults=1: a flag takes no value (exit 2, got $RC)" test $RC -eq 2
run_cmd "$T/dashdash" plan -- --defaults
check "plan -- --defaults: a manifest named --defaults (exit 1, got $RC)" test $RC -eq 1
check "plan -- --defaults: the file is named" grep -q -- "--defaults" "$T/dashdash.err"

# the top level
run_cmd "$T/top" rnu
check "stylesweep rnu: exit 2 (got $RC)" test $RC -eq 2
check "stylesweep rnu: did you mean run" grep -qx "stylesweep: unknown command 'rnu' (did you mean run?)" "$T/top.err"
run_cmd "$T/top"
check "stylesweep alone: exit 2 (got $RC)" test $RC -eq 2
run_cmd "$T/top" --help
check "stylesweep --help: exit 0 (got $RC)" test $RC -eq 0

check_summary
