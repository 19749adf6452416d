#!/usr/bin/env bash
# The include graph of src/ against the table of docs/architecture.md ("may call"): every
# #include of another folder's header must be drawn there, the table must draw no edge both
# ways, and every folder of src/ must have a row. Fails naming the file and the include.
set -euo pipefail
root="${1:?usage: check_layers.sh SOURCE_DIR}"
doc="$root/docs/architecture.md"
declare -A allowed=() listed=()
while IFS='|' read -r _ folder _ calls _; do
  f=$(sed -E 's/.*`src\/([a-z]+)\/`.*/\1/' <<<"$folder")
  listed[$f]=1
  for c in $(tr ',' ' ' <<<"$calls"); do [[ "$c" == "-" ]] || allowed[$f:$c]=1; done
done < <(grep -E '^\| `src/[a-z]+/` \|' "$doc")
[[ ${#listed[@]} -gt 0 ]] || { echo "FAIL: no folder table in $doc"; exit 1; }
fails=0
for d in "$root"/src/*/; do
  f=$(basename "$d")
  [[ -n "${listed[$f]:-}" ]] || { echo "FAIL: src/$f/ has no row in docs/architecture.md"; fails=$((fails + 1)); }
done
for key in "${!allowed[@]}"; do
  a=${key%%:*} b=${key#*:}
  if [[ -n "${allowed[$b:$a]:-}" && "$a" < "$b" ]]; then
    echo "FAIL: docs/architecture.md lets $a and $b call each other"; fails=$((fails + 1))
  fi
done
cd "$root"
while IFS= read -r hit; do
  file=${hit%%:*}
  inc=$(sed -E 's/.*#include "(diffclip\/)?([a-z]+)\/.*/\2/' <<<"$hit")
  case "$file" in src/*) own=$(cut -d/ -f2 <<<"$file") ;; include/*) own=$(cut -d/ -f3 <<<"$file") ;; esac
  [[ "$inc" == "$own" ]] && continue
  if [[ -z "${allowed[$own:$inc]:-}" ]]; then
    echo "FAIL: $file includes $inc/ (${hit#*:}), which docs/architecture.md does not let $own/ call"
    fails=$((fails + 1))
  fi
done < <(grep -rHE '^#include "(diffclip/)?[a-z]+/[a-z_0-9/]+\.(h|cuh)"' src include | sed -E 's/^([^:]+):/\1:/')
if [[ $fails -gt 0 ]]; then echo "check_layers: $fails failure(s)"; exit 1; fi
echo "check_layers: ${#listed[@]} folders, every include within the table"
