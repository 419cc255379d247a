#!/usr/bin/env bash
# One set of the issue-16 figures (README "Speed", docs/benchmarks.md), every file into
# benchmarks/results/*-STAMP*, then a summary on stdout:
#
#   benchmarks/full_set.sh [--no-native] [--steady-runs N] [STAMP]
#
# pure package (this checkout): warm (chainvm, py-evm, pyrevm), steady state (N runs,
# chainvm and pyrevm after 15 untimed runs), cold (three fresh processes per case, the
# three taking turns), the state sample twice (each pair the median of three workers per
# implementation) and the blockchain tests against the
# execution specs, the ERC-20 per-call figures; native build (HEAD exported to a
# temporary folder, compiled with mypyc, put first on PYTHONPATH; its COMMIT file names
# the commit in the results): warm, steady state, cold taking turns with py-evm and
# pyrevm, the state sample twice. 12.5 minutes with N=3 on a 2-core machine (2026-12-06),
# 4.5 of them the two cold runs (py-evm's start-up in every process) and 0.5 the native
# build. Run it on an otherwise idle machine and do not change the checkout while it
# runs: the pure workers import it.
set -euo pipefail
cd "$(dirname "$0")/.."

native=1
steady_runs=1
stamp=""
while [ $# -gt 0 ]; do
    case "$1" in
        --no-native) native=0 ;;
        --steady-runs)
            [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || {
                echo "full_set.sh: --steady-runs wants a positive count" >&2; exit 2; }
            steady_runs=$2; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) echo "full_set.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) [ -z "$stamp" ] || { echo "full_set.sh: one STAMP only" >&2; exit 2; }
           stamp=$1 ;;
    esac
    shift
done
stamp=${stamp:-$(date -u +%Y-%m-%d-%H%M)}
[[ "$stamp" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "full_set.sh: STAMP must be a plain name" >&2; exit 2; }

py=.venv/bin/python
[ -x "$py" ] || { echo "full_set.sh: no .venv (install the test extras first, see README)" >&2; exit 2; }
# pyrevm (revm) is a benchmark peer, not a dependency (docs/benchmarks.md)
"$py" -c "import pyrevm" 2> /dev/null || "$py" -m pip install -q pyrevm==0.3.7
# The native tree lives outside the checkout: its fixture locations are the checkout's.
export CHAINVM_FIXTURES=${CHAINVM_FIXTURES:-$(cd .. && pwd)/shared/fixtures}
export CHAINVM_FIXTURE_CACHE=${CHAINVM_FIXTURE_CACHE:-$PWD/.fixtures}
out=benchmarks/results
unset PYTHONDONTWRITEBYTECODE  # the workers' bytecode cache (benchmarks/run.py worker_env)
say() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
if [ -n "$(git status --porcelain -- chainvm setup.py)" ]; then
    say "warning: chainvm has uncommitted changes: the pure runs measure them, the native" \
        "build measures HEAD ($(git rev-parse --short HEAD))"
fi

# The runs both builds take: steady_and_samples pure|native PYTHON... (the command that runs
# a script with that build's chainvm).
steady_and_samples() {
    local label=$1; shift
    local build i suffix
    build=$([ "$label" = native ] && echo "-native" || echo "")
    for i in $(seq 1 "$steady_runs"); do
        suffix=$([ "$i" = 1 ] && echo "" || echo "-$i")
        say "$label: steady state $i/$steady_runs"
        "$@" benchmarks/run.py --impl chainvm,pyrevm --repeat 3 --warmup 15 --json \
            > "$out/evm-benchmarks-$stamp-steady$build$suffix.json"
    done
    for i in 1 2; do
        say "$label: state sample $i/2"
        "$@" benchmarks/statetest_throughput.py --files 30 --rounds 3 --blocktests "" --json \
            > "$out/statetest-throughput-$stamp-states$build-$i.json"
    done
}

say "pure: warm"
$py benchmarks/run.py --impl chainvm,pyevm,pyrevm --repeat 3 --timeout 300 --json \
    > "$out/evm-benchmarks-$stamp-warm.json"
say "pure: cold"
$py benchmarks/run.py --cold --cold-rounds 3 --impl chainvm,pyevm,pyrevm --json \
    > "$out/evm-benchmarks-$stamp-cold.json"
steady_and_samples pure "$py"
say "pure: blockchain tests"
$py benchmarks/statetest_throughput.py --sets "" --json > "$out/statetest-throughput-$stamp-blocks.json"
say "pure: ERC-20"
$py benchmarks/erc20.py --repeat 3 --json > "$out/erc20-$stamp.json"

if [ "$native" = 1 ]; then
    tree=$(mktemp -d /tmp/chainvm-native.XXXXXX)
    trap 'rm -rf "$tree"' EXIT
    say "native: building HEAD ($(git rev-parse --short HEAD)) in $tree"
    git archive HEAD | tar -x -C "$tree"
    git rev-parse --short HEAD > "$tree/COMMIT"
    (cd "$tree" && CHAINVM_MYPYC=1 "$OLDPWD/$py" setup.py build_ext --inplace > build.log 2>&1) \
        || { echo "full_set.sh: the native build failed (see $tree/build.log)" >&2; trap - EXIT; exit 1; }
    native_py=(env PYTHONPATH="$tree" "$py")
    say "native: warm"
    "${native_py[@]}" benchmarks/run.py --impl chainvm,pyrevm --repeat 3 --timeout 300 --json \
        > "$out/evm-benchmarks-$stamp-warm-native.json"
    say "native: cold, taking turns with py-evm and pyrevm"
    "${native_py[@]}" benchmarks/run.py --cold --cold-rounds 3 --impl chainvm,pyevm,pyrevm \
        --json > "$out/evm-benchmarks-$stamp-cold-native-turns.json"
    steady_and_samples native "${native_py[@]}"
fi

say "summary"
$py - "$out" "$stamp" <<'EOF'
import json
import sys
from pathlib import Path

out, stamp = Path(sys.argv[1]), sys.argv[2]
for path in sorted(out.glob(f"*-{stamp}*.json")):
    doc = json.loads(path.read_text())
    name = path.name
    if name.startswith("evm-benchmarks"):
        summary = doc.get("summary", {})
        cells = []
        if "pyevm" in summary:
            cells.append(f"{summary['pyevm']['geomean_speedup']:.1f}x py-evm")
        if "pyrevm" in summary:
            cells.append(f"revm {1 / summary['pyrevm']['geomean_speedup']:.2f}x faster")
        print(f"{name}: " + ", ".join(cells))
    elif name.startswith("statetest-throughput"):
        for key in ("rows", "blocktests"):
            rows = [r for r in doc.get(key) or [] if "cpu" in r.get("eels", {})]
            if rows:
                mine = sum(r["chainvm"]["cpu"] or 0 for r in rows)
                theirs = sum(r["eels"]["cpu"] or 0 for r in rows)
                passed = sum(r["chainvm"]["passed"] for r in rows)
                cases = sum(r["chainvm"]["cases"] for r in rows)
                ratio = f"{theirs / mine:.1f}x the specs" if mine else "no chainvm CPU"
                print(f"{name} ({key}): {ratio}, chainvm {passed}/{cases} passed, "
                      f"{mine:.2f} CPU s")
    elif name.startswith("erc20"):
        engines = doc.get("engines", {})
        cells = [f"{n} {e['transfer_ms_median']:.2f} ms" for n, e in engines.items()
                 if e.get("transfer_ms_median") is not None]
        print(f"{name}: a transfer (median): " + ", ".join(cells))
EOF
