#!/bin/sh
# diffclip predict end to end: a model fine-tuned on a georeferenced scene (the tiny preset
# exported as UTM GeoTIFFs and prepared) maps that scene on 1 and on 2 ranks, identically
# and exactly as the run's own evaluation mapped it; the GeoTIFFs carry the georeference
# (gdalinfo), the class names and colour table; another scene with the same modalities
# maps on the pixel grid; a scene with other band counts, a stage-1 checkpoint, a key that
# would change the model and a full disk are refused, naming the cause, and leave nothing.
# usage: check_predict.sh DIFFCLIP PREP_GEO MPIEXEC SOURCE_DIR WORK_DIR
set -eu
diffclip=$1 prep_geo=$2 mpiexec=$3 src=$4 work=$5
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work" && cd "$work"
mpi() { n=$1; shift; "$mpiexec" --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 -np "$n" "$diffclip" "$@"; }
"$diffclip" synth --preset tiny --out tiny.h5 > synth.log 2>&1 || { cat synth.log; fail "synth"; }
"$diffclip" synth --preset tiny --seed 5 --out other.h5 > synth.log 2>&1 || { cat synth.log; fail "synth other"; }
"$diffclip" synth --preset demo --out demo.h5 > synth.log 2>&1 || { cat synth.log; fail "synth demo"; }
"$prep_geo" --export tiny.h5 raw > export.log 2>&1 || { cat export.log; fail "prep_geo --export"; }
"$diffclip" prepare --manifest raw/manifest.cfg --raw raw --out geo.h5 > prepare.log 2>&1 || { cat prepare.log; fail "prepare"; }
mpi 2 finetune --config "$src/configs/experiments/demo.cfg" --set data.synthetic=none --set data.scene=geo.h5 \
  --set run.name=geo --set run.out_dir=runs --set finetune.init=scratch --set finetune.runs=1 --set finetune.shots=8 \
  --set finetune.epochs=30 > finetune.log 2>&1 || { cat finetune.log; fail "finetune"; }
run=runs/geo/finetune/shots_8/run_0

# the training scene, on 1 and 2 ranks
mpi 1 predict --checkpoint "$run" --out p1 > p1.log 2>&1 || { cat p1.log; fail "predict on 1 rank"; }
mpi 2 predict --checkpoint "$run/ckpt/ckpt_finetuned.h5" --out p2 > p2.log 2>&1 || { cat p2.log; fail "predict on 2 ranks"; }
grep -q "rank 0's share of 1280 pixels" p2.log || { cat p2.log; fail "no progress line"; }
for f in prediction.h5 prediction.tif probability.tif prediction.png classes.csv; do
  test -s "p2/$f" || { ls -l p2; fail "p2/$f missing"; }
done
"$diffclip" verify p2/prediction.h5 > verify.log 2>&1 || { cat verify.log; fail "verify prediction.h5"; }
grep -q "georeferenced" verify.log || { cat verify.log; fail "prediction.h5 lost the georeference"; }
# more than one class on the map, so that the comparisons below compare something
[ "$(awk -F, 'NR > 1 && $4 > 0' p2/classes.csv | wc -l)" -ge 2 ] || { cat p2/classes.csv; fail "a one-class map"; }
if command -v h5dump > /dev/null 2>&1; then
  dump() { h5dump -d "$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | tr -cs '0-9.e-' ' '; }
  for ds in /map/prediction /map/top2 /map/top2_prob /map/probability; do
    [ "$(dump p1/prediction.h5 $ds)" = "$(dump p2/prediction.h5 $ds)" ] || fail "$ds differs between 1 and 2 ranks"
  done
  for ds in /map/prediction /map/top2 /map/top2_prob; do
    [ "$(dump p2/prediction.h5 $ds)" = "$(dump $run/result.h5 $ds)" ] || fail "$ds differs from the run's own map"
  done
else
  echo "note: h5dump missing (Debian package hdf5-tools): maps not compared"
fi
if command -v gdalinfo > /dev/null 2>&1; then
  gdalinfo p2/prediction.tif > gdal.txt 2>&1 || { cat gdal.txt; fail "gdalinfo prediction.tif"; }
  grep -q 'ID\["EPSG",32615\]\|AUTHORITY\["EPSG","32615"\]' gdal.txt || { cat gdal.txt; fail "no EPSG:32615"; }
  grep -q "Origin = (271460.000000000000000,3290891.000000000000000)" gdal.txt || { cat gdal.txt; fail "origin"; }
  grep -q "Pixel Size = (2.500000000000000,-2.500000000000000)" gdal.txt || { cat gdal.txt; fail "pixel size"; }
  grep -q "Color Table" gdal.txt && grep -q "Categories:" gdal.txt || { cat gdal.txt; fail "colour table / categories"; }
  name1=$(awk -F, 'NR == 2 {print $2}' p2/classes.csv)
  grep -q "1: $name1" gdal.txt || { cat gdal.txt; fail "class 1 ($name1) not among the categories"; }
  gdalinfo p2/probability.tif > gdalp.txt 2>&1 || { cat gdalp.txt; fail "gdalinfo probability.tif"; }
  [ "$(grep -c '^Band ' gdalp.txt)" -eq 4 ] && grep -q "Type=Float32" gdalp.txt || { cat gdalp.txt; fail "4 float32 bands"; }
  grep -q "Origin = (271460" gdalp.txt || { cat gdalp.txt; fail "probability.tif origin"; }
  if command -v gdal_translate > /dev/null 2>&1 && command -v h5dump > /dev/null 2>&1; then
    gdal_translate -q -of XYZ p2/prediction.tif p2.xyz
    [ "$(awk '{print $3}' p2.xyz | tr '\n' ' ' | tr -s ' ' | sed 's/ *$//')" = \
      "$(dump p2/prediction.h5 /map/prediction | sed 's/^ *//; s/ *$//')" ] || fail "prediction.tif differs from prediction.h5"
  fi
else
  echo "note: gdalinfo missing (Debian package gdal-bin): GeoTIFFs not read back"
fi

# another scene with the same modalities and bands (no georeference): the pixel grid, top-2 only
mpi 2 predict --checkpoint "$run" --scene other.h5 --scores top2 --out po > po.log 2>&1 || { cat po.log; fail "predict another scene"; }
test -s po/prediction.tif && test ! -e po/probability.tif || { ls -l po; fail "--scores top2 outputs"; }
"$diffclip" verify po/prediction.h5 > vo.log 2>&1 || { cat vo.log; fail "verify po"; }
grep -q "top-2 probabilities" vo.log && ! grep -q georeferenced vo.log || { cat vo.log; fail "po's prediction.h5"; }
if command -v h5dump > /dev/null 2>&1; then
  [ "$(dump po/prediction.h5 /map/prediction)" != "$(dump p2/prediction.h5 /map/prediction)" ] || fail "another scene, the same map"
fi

# refusals: each exits 2 with its reason and leaves nothing
refuse() { # NAME PATTERN ARGS...: exit 2, PATTERN in the message, no output folder content
  name=$1 pattern=$2; shift 2
  set +e; mpi 2 predict "$@" --out "r_$name" > "r_$name.log" 2>&1; rc=$?; set -e
  [ "$rc" -eq 2 ] || { cat "r_$name.log"; fail "$name: exit $rc, 2 expected"; }
  grep -q -- "$pattern" "r_$name.log" || { cat "r_$name.log"; fail "$name: no '$pattern' in the message"; }
  [ -z "$(ls -A "r_$name" 2> /dev/null)" ] || { ls -l "r_$name"; fail "$name: left files"; }
}
refuse bands "demo.h5 has modalities hsi (32 bands)" --checkpoint "$run" --scene demo.h5
mpi 1 pretrain --config "$src/configs/experiments/demo.cfg" --set data.synthetic=none --set data.scene=geo.h5 \
  --set run.name=geo --set run.out_dir=runs --set pretrain.max_steps=1 > pretrain.log 2>&1 || { cat pretrain.log; fail "pretrain"; }
refuse kind "is a pretrain checkpoint" --checkpoint "$(ls runs/geo/ckpt/*.h5 | head -1)"
refuse set "predict takes only keys that do not change the model" --checkpoint "$run" --set finetune.lr=1
refuse moved "give it with --training-scene" --checkpoint "$run" --training-scene missing.h5
refuse none "a folder without a fine-tuned model" --checkpoint runs

# a disk that fills during the writes leaves nothing behind
mkdir -p full
if mount -t tmpfs -o size=12k tmpfs full 2> /dev/null; then
  set +e; mpi 2 predict --checkpoint "$run" --out full/out > full.log 2>&1; rc=$?; set -e
  left=$(ls -A full/out 2> /dev/null)
  umount full
  [ "$rc" -ne 0 ] || { cat full.log; fail "a full disk: exit 0"; }
  grep -q "disk full\|No space\|cannot" full.log || { cat full.log; fail "a full disk: no reason given"; }
  [ -z "$left" ] || fail "a full disk left: $left"
else
  echo "note: cannot mount a tmpfs here (not root?): the full-disk case is not run"
fi
echo "predict: ok"
