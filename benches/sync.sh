#!/usr/bin/env bash
# Incremental sync benchmark (issue 7): a store built by `crmfuse run` from a synthetic
# company, then DELTA rows of the ERP export changed or added, then `crmfuse sync`. Prints
# one Markdown table row per delta with wall time, peak memory and what the sync did.
#
#   bash benches/sync.sh PEOPLE DELTA...      e.g. bash benches/sync.sh 667000 1000 10000 100000
#
# Of each delta, 80% are existing ERP rows whose phone number (or, without one, e-mail)
# changed and 20% are new ERP rows for existing people (another account, no phone):
# nightly-sync traffic that both updates customers and attaches records to them. The base
# store is built once per size and seed (bench-data/sync-PEOPLE-SEED, git-ignored) and
# copied for each delta; nothing here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$PWD/target/release/crmfuse"
seed="${SEED:-1}"
people="${1:?usage: benches/sync.sh PEOPLE DELTA...}"
shift
base="bench-data/sync-$people-$seed"
if [ ! -f "$base/.built" ]; then
  [ -f "$base/pipeline.toml" ] || "$bin" synth --people "$people" --seed "$seed" --out "$base" >/dev/null
  rm -f "$base"/crm.db*
  ( cd "$base" && /usr/bin/time -v "$bin" run pipeline.toml --json --force >run.json 2>run-time.txt )
  touch "$base/.built"
fi
echo "| store records | delta | changed | new | mode | wall s | CPU s | peak MiB | records re-resolved | customers re-resolved | rows written |"
echo "| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for delta in "$@"; do
  work="bench-data/sync-$people-$seed-d$delta"
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "$base/mappings" "$base/pipeline.toml" "$work/"
  cp "$base/crm.db" "$work/"
  # Flush the copy now: else the sync's commit waits for 1.5 GB of the copy to reach disk.
  sync "$work/crm.db"
  for f in "$base"/*.csv "$base"/*.jsonl; do
    ln -s "$PWD/$f" "$work/$(basename "$f")"
  done
  rm "$work/erp.csv"
  python3 - "$base/erp.csv" "$work/erp.csv" "$delta" <<'PY'
import sys
src, dst, delta = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(src, "rb").read().split(b"\r\n")
head, body = lines[:2], [l for l in lines[2:] if l]
changed, new = delta * 8 // 10, delta - delta * 8 // 10
step = max(1, len(body) // delta)
out, added = [], []
for i, row in enumerate(body):
    cols = row.split(b";")
    k = i // step
    if i % step == 0 and k < changed:
        if cols[9]:
            d = cols[9][-1:]
            cols[9] = cols[9][:-1] + (str((int(d) + 1) % 10).encode() if d.isdigit() else b"0")
        else:
            cols[11] = b"x" + cols[11]
    elif i % step == 0 and k < changed + new:
        twin = list(cols)
        twin[0] = b"9" + cols[0]
        twin[9] = b""
        added.append(b";".join(twin))
    out.append(b";".join(cols))
open(dst, "wb").write(b"\r\n".join(head + out + added) + b"\r\n")
PY
  ( cd "$work" && /usr/bin/time -v "$bin" sync pipeline.toml --json >sync.json 2>time.txt )
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print int($2/1024)}' "$work/time.txt")
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$work/time.txt")
  python3 - "$delta" "$wall" "$rss" "$work/sync.json" "$cpu" <<'PY'
import json, sys
delta, wall, rss, s, cpu = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], json.load(open(sys.argv[4])), float(sys.argv[5])
erp = next(c for c in s["source_changes"] if c["source"] == "erp")
inc = s["sync"].get("incremental") or {}
written = sum(t["inserted"] + t["updated"] + t["deleted"] for t in s["tables"]) + s["changes"]
print(f"| {s['records']:,} | {delta:,} | {erp['changed']:,} | {erp['new']:,} | {s['sync']['mode']} | {wall:.1f} | {cpu:.1f} | {rss} | "
      f"{inc.get('records_resolved', s['records']):,} | {inc.get('customers_resolved', s['customers']):,} | {written:,} |")
print("  stage ms: " + ", ".join(f"{st} {ms}" for st, ms in s["timings_ms"]), file=sys.stderr)
PY
done
