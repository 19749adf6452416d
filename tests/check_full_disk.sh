#!/usr/bin/env bash
# A full disk while checkpoints are written, on 1, 2 and 3 ranks: the run folder sits on a
# small tmpfs and keeps every checkpoint, so one of them cannot fit. Each run must end
# within the timeout (no rank left in a collective call) with a non-zero exit and a message
# that says the disk is full, leave no temporary file, and everything it published must
# verify. Needs root for the mount: exits 77 (ctest: skipped) with a message otherwise.
set -uo pipefail
diffclip="$1" mpirun="$2" src="$3" work="$4"
mkdir -p "$work"
mnt=$(mktemp -d "$work/full.XXXXXX")
if ! mount -t tmpfs -o size=3M tmpfs "$mnt" 2>/dev/null; then
  echo "check_full_disk: cannot mount a tmpfs at $mnt (not root?): skipped"
  rmdir "$mnt"
  exit 77
fi
trap 'umount "$mnt"; rmdir "$mnt"' EXIT
fails=0
for np in 1 2 3; do
  rm -rf "${mnt:?}"/*
  timeout 180 "$mpirun" --oversubscribe --bind-to none -np "$np" -x OMP_NUM_THREADS=1 "$diffclip" pretrain \
    --config "$src/configs/experiments/demo.cfg" --set data.synthetic=tiny --set run.out_dir="$mnt" \
    --set run.name=fd --set pretrain.max_steps=60 --set pretrain.checkpoint_every=5 \
    --set pretrain.keep_checkpoints=1000 --set pretrain.global_batch=48 > "$work/full_np$np.log" 2>&1
  rc=$?
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    echo "FAIL: $np rank(s): the run hung on a full disk"; fails=$((fails + 1)); continue
  fi
  if [[ $rc -eq 0 ]]; then
    echo "FAIL: $np rank(s): exit 0 although the disk filled (is the tmpfs too large?)"; fails=$((fails + 1)); continue
  fi
  grep -q "disk full" "$work/full_np$np.log" || { echo "FAIL: $np rank(s): no 'disk full' in the message:"; tail -5 "$work/full_np$np.log"; fails=$((fails + 1)); }
  grep -q "Segmentation\|signal 11" "$work/full_np$np.log" && { echo "FAIL: $np rank(s): crashed"; fails=$((fails + 1)); }
  ls "$mnt"/fd/ckpt/*.tmp >/dev/null 2>&1 && { echo "FAIL: $np rank(s): a temporary file was left"; fails=$((fails + 1)); }
  n=0
  for f in "$mnt"/fd/ckpt/ckpt_*.h5; do
    [[ -e "$f" ]] || continue
    n=$((n + 1))
    "$diffclip" verify "$f" > /dev/null 2>&1 || { echo "FAIL: $np rank(s): published $f does not verify"; fails=$((fails + 1)); }
  done
  [[ $n -ge 1 ]] || { echo "FAIL: $np rank(s): no checkpoint fitted before the disk filled"; fails=$((fails + 1)); }
  echo "$np rank(s): exit $rc, $n checkpoint(s) published and verified: $(grep -m1 -o 'no room.*\|writing checkpoint.*' "$work/full_np$np.log")"
done
[[ $fails -eq 0 ]] && echo "check_full_disk: passed" || echo "check_full_disk: $fails failure(s)"
exit $((fails > 0))
