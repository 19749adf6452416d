/* Synthetic hyperspectral + LiDAR scenes (src/data/synth.c; docs/data.md "Synthetic
 * scenes"): class regions shaped as Voronoi cells warped by smooth noise (and, for road
 * classes, curvy level-set lines), smooth class spectra with low-rank per-pixel
 * variability, an illumination field, sensor noise, mixed pixels at borders, a LiDAR
 * surface whose height and texture differ by class, and sparse train / dense test label
 * maps. Every value is a pure function of (preset, seed) through the counter-based RNG, so
 * a scene is bit-identical on every run and every machine with the same libm. */
#ifndef DIFFCLIP_SYNTH_H
#define DIFFCLIP_SYNTH_H

#include <stdint.h>

#include "diffclip/data/scene.h"
#include "diffclip/core/status.h"

/* The presets, by index (0 .. dc_synth_n_presets() - 1): "tiny", "demo", "trento-like". */
int dc_synth_n_presets(void);
const char *dc_synth_preset_name(int i);
/* One line about preset i (grid, bands, classes). */
const char *dc_synth_preset_summary(int i);

/* Builds the scene of `preset` for `seed` into s (zeroed first): cubes, labels, class
 * names and descriptions, statistics, source "synth:<preset>:<seed>". The caller frees it
 * with dc_scene_free. An unknown preset is DC_ERR_ARG. */
enum dc_status dc_synth_scene(const char *preset, uint64_t seed, struct dc_scene *s);

#endif
