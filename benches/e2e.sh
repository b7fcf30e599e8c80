#!/usr/bin/env bash
# End-to-end benchmark: generate a company with `crmfuse synth`, run the pipeline into a fresh
# store, evaluate against the truth, and print one Markdown table row per size with wall
# time, peak memory, rows/s and pairwise F1.
#
#   bash benches/e2e.sh 10000 100000 1000000      # people per run (default: 10000 100000)
#
# Data goes to bench-data/ (git-ignored); nothing here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$PWD/target/release/crmfuse"
seed="${SEED:-1}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
echo "| people | records | candidate pairs | wall s | peak MiB | records/s | precision | recall | F1 |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in "${sizes[@]}"; do
  dir="bench-data/synth-$n-$seed"
  [ -f "$dir/pipeline.toml" ] || "$bin" synth --people "$n" --seed "$seed" --out "$dir" >/dev/null
  rm -f "$dir"/crm.db*
  ( cd "$dir" && /usr/bin/time -v "$bin" run pipeline.toml --json --force >summary.json 2>time.txt )
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print int($2/1024)}' "$dir/time.txt")
  eval_json=$(cd "$dir" && "$bin" evaluate --truth truth.csv pipeline.toml --json)
  python3 - "$n" "$wall" "$rss" "$dir/summary.json" "$eval_json" <<'PY'
import json, sys
n, wall, rss, summary, ev = sys.argv[1], float(sys.argv[2]), sys.argv[3], json.load(open(sys.argv[4])), json.loads(sys.argv[5])
records = summary["records"]
print(f"| {int(n):,} | {records:,} | {summary['candidate_pairs']:,} | {wall:.1f} | {rss} | {records / wall:,.0f} | {ev['precision']:.4f} | {ev['recall']:.4f} | {ev['f1']:.4f} |")
print("  stage ms: " + ", ".join(f"{s} {ms}" for s, ms in summary["timings_ms"]), file=sys.stderr)
print("  peak MiB after stage: " + ", ".join(f"{s} {m}" for s, m in summary.get("peak_memory_mib", [])), file=sys.stderr)
PY
done
