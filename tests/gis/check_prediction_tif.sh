#!/bin/sh
# A georeferenced scene through the pipeline: the tiny synthetic scene exported as GeoTIFFs
# in UTM zone 15N (prep_geo --export), prepared with diffclip prepare (the scene keeps the
# CRS and geotransform), fine-tuned and evaluated on 2 ranks; the run's prediction.tif must
# carry the scene's georeference, colour table and class names as gdalinfo reads them, and
# a scene without a georeference still gets a pixel-grid TIFF.
# usage: check_prediction_tif.sh DIFFCLIP PREP_GEO MPIEXEC SOURCE_DIR WORK_DIR
set -eu
diffclip=$1 prep_geo=$2 mpiexec=$3 src=$4 work=$5
command -v gdalinfo > /dev/null 2>&1 || { echo "SKIP: gdalinfo is not installed (Debian package gdal-bin)"; exit 0; }
rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$diffclip" synth --preset tiny --out tiny.h5 > synth.log 2>&1 || { cat synth.log; echo "FAIL: synth"; exit 1; }
"$prep_geo" --export tiny.h5 raw > export.log 2>&1 || { cat export.log; echo "FAIL: prep_geo --export"; exit 1; }
"$diffclip" prepare --manifest raw/manifest.cfg --raw raw --out geo.h5 > prepare.log 2>&1 ||
  { cat prepare.log; echo "FAIL: prepare of the georeferenced export"; exit 1; }
run() {
  "$mpiexec" --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 -np 2 "$diffclip" finetune \
    --config "$src/configs/experiments/demo.cfg" --set data.synthetic=none --set "data.scene=$1" --set "run.name=$2" \
    --set run.out_dir=runs --set finetune.init=scratch --set finetune.runs=1 --set finetune.shots=4 \
    --set finetune.epochs=2 > "$2.log" 2>&1 || { cat "$2.log"; echo "FAIL: finetune on $1"; exit 1; }
}
run geo.h5 geo
tif=runs/geo/finetune/shots_4/run_0/prediction.tif
test -f "$tif" || { ls -R runs; echo "FAIL: no prediction.tif beside result.h5"; exit 1; }
gdalinfo "$tif" > gdalinfo.txt 2>&1 || { cat gdalinfo.txt; echo "FAIL: gdalinfo cannot read $tif"; exit 1; }
grep -q 'ID\["EPSG",32615\]\|AUTHORITY\["EPSG","32615"\]' gdalinfo.txt || { cat gdalinfo.txt; echo "FAIL: no EPSG:32615 CRS"; exit 1; }
grep -q "Origin = (271460.000000000000000,3290891.000000000000000)" gdalinfo.txt || { cat gdalinfo.txt; echo "FAIL: origin"; exit 1; }
grep -q "Pixel Size = (2.500000000000000,-2.500000000000000)" gdalinfo.txt || { cat gdalinfo.txt; echo "FAIL: pixel size"; exit 1; }
grep -q "Size is 40, 32" gdalinfo.txt || { cat gdalinfo.txt; echo "FAIL: the scene's grid (40 x 32)"; exit 1; }
grep -q "Color Table" gdalinfo.txt && grep -q "Categories:" gdalinfo.txt || { cat gdalinfo.txt; echo "FAIL: colour table or categories"; exit 1; }
name1=$("$diffclip" info geo.h5 | awk '$1 == 1 && NF >= 4 {print $2; exit}')
grep -q "1: $name1" gdalinfo.txt || { cat gdalinfo.txt; echo "FAIL: class 1 ($name1) not among the categories"; exit 1; }
# the same classes as result.h5's map (h5dump of both, when the tools are there)
if command -v gdal_translate > /dev/null 2>&1 && command -v h5dump > /dev/null 2>&1; then
  gdal_translate -q -of XYZ "$tif" tif.xyz
  awk '{print $3}' tif.xyz | tr '\n' ' ' | tr -s ' ' > tif.txt
  h5dump -d /map/prediction -y -w 0 runs/geo/finetune/shots_4/run_0/result.h5 | sed -n '/DATA {/,/}/p' | tr -cs '0-9' ' ' |
    sed 's/^ *//' > h5.txt
  [ "$(cat tif.txt | sed 's/ *$//')" = "$(cat h5.txt | sed 's/ *$//')" ] || { head -c 300 tif.txt; echo; head -c 300 h5.txt; echo; echo "FAIL: prediction.tif differs from result.h5's map"; exit 1; }
fi
# without a georeference: a plain TIFF on the pixel grid
run tiny.h5 plain
gdalinfo runs/plain/finetune/shots_4/run_0/prediction.tif > plain.txt 2>&1 || { cat plain.txt; echo "FAIL: gdalinfo on the plain TIFF"; exit 1; }
grep -q "Size is 40, 32" plain.txt && ! grep -q "Origin = (271460" plain.txt || { cat plain.txt; echo "FAIL: the plain TIFF"; exit 1; }
echo "prediction GeoTIFF: ok"
