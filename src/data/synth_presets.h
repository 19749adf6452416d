/* The synthetic scene presets (tables in synth_presets.c, generator in synth.c). Private
 * to src/data. Units: reflectance for spectra, metres for heights, pixels for scales. */
#ifndef DIFFCLIP_SYNTH_PRESETS_H
#define DIFFCLIP_SYNTH_PRESETS_H

#define SYNTH_MAX_CLASSES 8

enum synth_material { MAT_VEGETATION, MAT_SOIL, MAT_ASPHALT, MAT_ROOF, MAT_WATER };

struct synth_class {
  const char *name, *description;
  enum synth_material material;
  /* material parameters: vegetation (NIR plateau, green peak, red-edge position in 0..1),
   * soil and asphalt (intercept, slope), roof (base, bump height, bump position), water
   * (blue level) */
  double p1, p2, p3;
  double variability;                /* spectral variability relative to the preset's */
  double height, height_jitter;      /* mean object height and its spread between regions */
  double roughness;                  /* height texture amplitude */
  double row_period, row_amplitude;  /* planting rows (0: none) */
  double area;                       /* relative area of regions, or for a linear class the
                                        fraction of pixels its band covers */
  int linear;                        /* drawn as curvy lines over the regions (roads) */
};

struct synth_preset {
  const char *name, *summary;
  int height, width, bands, n_classes;
  int n_sites;                       /* Voronoi regions */
  int min_labelled;                  /* per class, else the layout is redrawn */
  double warp;                       /* region warp, in units of the region spacing */
  double road_scale;                 /* feature size of the road field */
  double mix_sigma;                  /* border blending (Gaussian sigma, pixels) */
  double variability, variability_scale; /* per-pixel spectral variability and its field size */
  double illum, illum_scale;         /* illumination: relative amplitude, field size */
  double noise;                      /* sensor noise (reflectance) in mid-spectrum */
  double background_weight;          /* relative area of unlabelled background regions */
  double survey_threshold;           /* labelled where the survey field exceeds it */
  double train_fraction;             /* of each class's labelled pixels */
  double ground_level;               /* terrain height, metres above sea level */
  struct synth_class classes[SYNTH_MAX_CLASSES];
  struct synth_class background;
};

extern const struct synth_preset synth_presets[];
extern const int synth_n_presets;

#endif
