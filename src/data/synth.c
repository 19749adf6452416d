/* Synthetic hyperspectral + LiDAR scenes (see diffclip/synth.h and docs/data.md).
 *
 * The scene is built in layers, each a pure function of (seed, stream, position):
 *   layout    Voronoi cells (sites) warped by two smooth fields, each cell a class or
 *             unlabelled background; road classes are the zero level set of a smooth field
 *             thickened to a band, drawn over the cells (curvy lines, like roads)
 *   mixing    per-class indicator maps blurred by a Gaussian: the weights with which the
 *             class spectra and heights blend at borders (mixed pixels)
 *   spectra   a material template per class (vegetation red edge, soil slope, dark
 *             asphalt, bright roofs, water) plus class-specific Gaussian bumps; per pixel a
 *             low-rank perturbation (4 smooth basis spectra) whose coefficients mix a
 *             per-region offset, a smooth field and white noise; a smooth multiplicative
 *             illumination field; band-dependent sensor noise (worse at the band ends)
 *   LiDAR     terrain (smooth, metres above sea level) + per-class height with a
 *             per-region offset + per-class texture (roughness noise, orchard / vineyard
 *             rows at a per-region angle), blurred like the spectra, plus noise
 *   labels    a smooth survey mask picks the labelled part of each region; per class a
 *             shuffled ~5% (at least min(10, n/2)) are training pixels, the rest test
 * Value noise is used for smooth fields: Gaussian lattice values at spacing s, s/2, s/4,
 * quintic interpolation, normalised to mean 0 and variance 1 over the grid. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/core/rng.h"
#include "diffclip/data/synth.h"
#include "synth_presets.h"

/* RNG streams: purpose << 8 | item; the layout attempt goes in the high bits. */
enum {
  S_WARP = 1, S_SITE, S_SITE_CLASS, S_ROAD, S_SURVEY, S_TRAIN, S_SPEC, S_BASIS, S_COEF_FIELD, S_COEF_SITE,
  S_COEF_WHITE, S_ILLUM, S_NOISE, S_TERRAIN, S_HEIGHT_SITE, S_ROUGH, S_ANGLE, S_LIDAR_NOISE
};
#define STREAM(purpose, item, attempt) (((uint64_t)(attempt) << 40) | ((uint64_t)(purpose) << 16) | (uint64_t)(item))
#define N_BASIS 4
#define MAX_ATTEMPTS 16

static double fade(double t) { return t * t * t * (t * (t * 6 - 15) + 10); }

static double lattice(uint64_t seed, uint64_t stream, long i, long j) {
  return dc_rng_normal(seed, stream, (uint64_t)(i + 4096) << 20 | (uint64_t)(j + 4096), 0);
}

/* out (H, W): a smooth field of feature size `scale` pixels, mean 0, variance 1. */
static void smooth_field(float *out, int H, int W, double scale, uint64_t seed, uint64_t stream) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < H; r++)
    for (int c = 0; c < W; c++) {
      double v = 0, amp = 1, s = scale;
      for (int o = 0; o < 3 && s >= 1.0; o++, amp *= 0.5, s *= 0.5) {
        double x = r / s, y = c / s;
        long i = (long)floor(x), j = (long)floor(y);
        double fx = fade(x - i), fy = fade(y - j);
        uint64_t st = stream * 4 + (uint64_t)o;
        double a = lattice(seed, st, i, j), b = lattice(seed, st, i + 1, j);
        double cc = lattice(seed, st, i, j + 1), d = lattice(seed, st, i + 1, j + 1);
        v += amp * ((a * (1 - fx) + b * fx) * (1 - fy) + (cc * (1 - fx) + d * fx) * fy);
      }
      out[(size_t)r * W + c] = (float)v;
    }
  double sum = 0, ss = 0;
  size_t n = (size_t)H * W;
  for (size_t i = 0; i < n; i++) sum += out[i];
  double mean = sum / n;
  for (size_t i = 0; i < n; i++) ss += (out[i] - mean) * (out[i] - mean);
  double inv = ss > 0 ? 1.0 / sqrt(ss / n) : 1.0;
  for (size_t i = 0; i < n; i++) out[i] = (float)((out[i] - mean) * inv);
}

/* In-place separable Gaussian blur of x (H, W), edges replicated; tmp (H, W). */
static void blur(float *x, float *tmp, int H, int W, double sigma) {
  int rad = (int)ceil(3 * sigma);
  double k[16], ksum = 0;
  if (rad > 15) rad = 15;
  for (int i = -rad; i <= rad; i++) ksum += k[i + rad] = exp(-0.5 * i * i / (sigma * sigma));
  for (int i = 0; i <= 2 * rad; i++) k[i] /= ksum;
  for (int r = 0; r < H; r++)
    for (int c = 0; c < W; c++) {
      double v = 0;
      for (int i = -rad; i <= rad; i++) {
        int cc = c + i < 0 ? 0 : c + i >= W ? W - 1 : c + i;
        v += k[i + rad] * x[(size_t)r * W + cc];
      }
      tmp[(size_t)r * W + c] = (float)v;
    }
  for (int r = 0; r < H; r++)
    for (int c = 0; c < W; c++) {
      double v = 0;
      for (int i = -rad; i <= rad; i++) {
        int rr = r + i < 0 ? 0 : r + i >= H ? H - 1 : r + i;
        v += k[i + rad] * tmp[(size_t)rr * W + c];
      }
      x[(size_t)r * W + c] = (float)v;
    }
}

static double gauss(double x, double mu, double sd) { return exp(-0.5 * (x - mu) * (x - mu) / (sd * sd)); }

/* Reflectance template of a material at lambda in [0, 1] (400 .. 1000 nm). */
static double material(const struct synth_class *k, double lam) {
  switch (k->material) {
    case MAT_VEGETATION: /* green peak, red absorption, red edge to a NIR plateau */
      return 0.03 + k->p2 * gauss(lam, 0.25, 0.06) + k->p1 / (1 + exp(-(lam - k->p3) / 0.025)) -
             0.15 * k->p1 * gauss(lam, 0.93, 0.03);
    case MAT_SOIL: return k->p1 + k->p2 * lam - 0.03 * gauss(lam, 0.85, 0.08);
    case MAT_ASPHALT: return k->p1 + k->p2 * lam;
    case MAT_ROOF: return k->p1 + 0.06 * lam + k->p2 * gauss(lam, k->p3, 0.08);
    case MAT_WATER: return k->p1 * exp(-lam / 0.25);
  }
  return 0;
}

/* The class (0..K, K = background) spectra (K + 1, C) and the variability basis (4, C). */
static void make_spectra(const struct synth_preset *p, uint64_t seed, int C, double *spec, double *basis) {
  for (int k = 0; k <= p->n_classes; k++) {
    const struct synth_class *cl = k < p->n_classes ? &p->classes[k] : &p->background;
    uint64_t st = STREAM(S_SPEC, k, 0);
    double scale = 0.9 + 0.2 * dc_rng_uniform(seed, st, 0, 0);
    double bump_a[2], bump_mu[2], bump_sd[2];
    for (int j = 0; j < 2; j++) {
      bump_a[j] = 0.03 * (2 * dc_rng_uniform(seed, st, 1 + j, 0) - 1);
      bump_mu[j] = dc_rng_uniform(seed, st, 1 + j, 1);
      bump_sd[j] = 0.05 + 0.15 * dc_rng_uniform(seed, st, 1 + j, 2);
    }
    for (int b = 0; b < C; b++) {
      double lam = C > 1 ? (double)b / (C - 1) : 0.5, v = scale * material(cl, lam);
      for (int j = 0; j < 2; j++) v += bump_a[j] * gauss(lam, bump_mu[j], bump_sd[j]);
      spec[(size_t)k * C + b] = v > 0.005 ? v : 0.005;
    }
  }
  for (int j = 0; j < N_BASIS; j++) {
    double mu = dc_rng_uniform(seed, STREAM(S_BASIS, j, 0), 0, 0), sd = 0.1 + 0.15 * dc_rng_uniform(seed, STREAM(S_BASIS, j, 0), 0, 1);
    for (int b = 0; b < C; b++) {
      double lam = C > 1 ? (double)b / (C - 1) : 0.5;
      basis[(size_t)j * C + b] = j == 0 ? 0.5 + lam : gauss(lam, mu, sd); /* j = 0: a brightness tilt */
    }
  }
}

struct layout {
  int H, W, K;
  int *cls;   /* (H, W) 0..K-1 classes, K background */
  int *site;  /* (H, W) region id */
  float *w;   /* (K + 1, H, W) mixing weights */
  int n_sites;
};

/* Warped Voronoi regions, roads, and the mixing weights. */
static enum dc_status make_layout(const struct synth_preset *p, uint64_t seed, int attempt, struct layout *L) {
  int H = p->height, W = p->width, K = p->n_classes, S = p->n_sites;
  size_t n = (size_t)H * W;
  double spacing = sqrt((double)n / S);
  float *fx = malloc(n * sizeof *fx), *fy = malloc(n * sizeof *fy), *road = malloc(n * sizeof *road);
  double *sr = malloc(S * sizeof *sr), *sc = malloc(S * sizeof *sc);
  int *scls = malloc(S * sizeof *scls);
  if (!fx || !fy || !road || !sr || !sc || !scls) {
    free(fx), free(fy), free(road), free(sr), free(sc), free(scls);
    return DC_ERROR(DC_ERR_NOMEM, "synth %s: no memory for the layout", p->name);
  }
  smooth_field(fx, H, W, spacing, seed, STREAM(S_WARP, 0, attempt));
  smooth_field(fy, H, W, spacing, seed, STREAM(S_WARP, 1, attempt));
  smooth_field(road, H, W, p->road_scale, seed, STREAM(S_ROAD, 0, attempt));
  double wsum = p->background_weight;
  for (int k = 0; k < K; k++) wsum += p->classes[k].linear ? 0 : p->classes[k].area;
  int region_cls[DC_SCENE_MAX_CLASSES], nr = 0;
  for (int k = 0; k < K; k++)
    if (!p->classes[k].linear) region_cls[nr++] = k;
  for (int s = 0; s < S; s++) {
    sr[s] = (1.1 * dc_rng_uniform(seed, STREAM(S_SITE, s, attempt), 0, 0) - 0.05) * H;
    sc[s] = (1.1 * dc_rng_uniform(seed, STREAM(S_SITE, s, attempt), 0, 1) - 0.05) * W;
    if (s < nr) { /* the first sites take each region class once, so none is missing */
      scls[s] = region_cls[s];
      continue;
    }
    double u = wsum * dc_rng_uniform(seed, STREAM(S_SITE_CLASS, s, attempt), 0, 0), acc = p->background_weight;
    scls[s] = K;
    for (int j = 0; j < nr && u >= acc; j++) {
      acc += p->classes[region_cls[j]].area;
      if (u < acc || j == nr - 1) scls[s] = region_cls[j];
    }
  }
  double amp = p->warp * spacing;
  for (int r = 0; r < H; r++)
    for (int c = 0; c < W; c++) {
      size_t i = (size_t)r * W + c;
      double wr = r + amp * fx[i], wc = c + amp * fy[i], best = INFINITY;
      for (int s = 0; s < S; s++) {
        double d = (wr - sr[s]) * (wr - sr[s]) + (wc - sc[s]) * (wc - sc[s]);
        if (d < best) best = d, L->site[i] = s;
      }
      L->cls[i] = scls[L->site[i]];
      for (int k = 0; k < K; k++)
        if (p->classes[k].linear && fabs(road[i]) < p->classes[k].area / 0.8) L->cls[i] = k;
    }
  for (int k = 0; k <= K; k++) {
    float *wk = L->w + (size_t)k * n;
    for (size_t i = 0; i < n; i++) wk[i] = L->cls[i] == k ? 1.0f : 0.0f;
    blur(wk, fx, H, W, p->mix_sigma);
  }
  free(fx), free(fy), free(road), free(sr), free(sc), free(scls);
  return DC_OK;
}

/* Fills the HSI cube (modality 0). */
static enum dc_status make_hsi(const struct synth_preset *p, uint64_t seed, const struct layout *L, struct dc_scene *s) {
  int H = L->H, W = L->W, K = L->K, C = p->bands;
  size_t n = (size_t)H * W;
  double *spec = malloc((size_t)(K + 1) * C * sizeof *spec), *basis = malloc((size_t)N_BASIS * C * sizeof *basis);
  float *coef = malloc(N_BASIS * n * sizeof *coef), *illum = malloc(n * sizeof *illum);
  if (!spec || !basis || !coef || !illum) {
    free(spec), free(basis), free(coef), free(illum);
    return DC_ERROR(DC_ERR_NOMEM, "synth %s: no memory for the spectra", p->name);
  }
  make_spectra(p, seed, C, spec, basis);
  for (int j = 0; j < N_BASIS; j++) {
    float *cj = coef + (size_t)j * n;
    smooth_field(cj, H, W, p->variability_scale, seed, STREAM(S_COEF_FIELD, j, 0));
    for (size_t i = 0; i < n; i++) {
      int site = L->site[i], k = L->cls[i];
      const struct synth_class *cl = k < K ? &p->classes[k] : &p->background;
      double region = dc_rng_normal(seed, STREAM(S_COEF_SITE, j, 0), (uint64_t)site, 0);
      double white = dc_rng_normal(seed, STREAM(S_COEF_WHITE, j, 0), i, 0);
      cj[i] = (float)(p->variability * cl->variability * (0.7 * region + 0.5 * cj[i] + 0.4 * white));
    }
  }
  smooth_field(illum, H, W, p->illum_scale, seed, STREAM(S_ILLUM, 0, 0));
  float *cube = s->cube[0];
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    double g = 1 + p->illum * illum[i];
    for (int b = 0; b < C; b++) {
      double lam = C > 1 ? (double)b / (C - 1) : 0.5, v = 0;
      for (int k = 0; k <= K; k++) v += L->w[(size_t)k * n + i] * spec[(size_t)k * C + b];
      for (int j = 0; j < N_BASIS; j++) v += coef[(size_t)j * n + i] * basis[(size_t)j * C + b];
      double sd = p->noise * (1 + 2 * exp(-lam / 0.06) + 2 * exp(-(1 - lam) / 0.06));
      uint64_t e = i * (uint64_t)C + (uint64_t)b;
      v = g * v + sd * dc_rng_normal(seed, STREAM(S_NOISE, 0, 0), e / 4, (int)(e % 4));
      cube[i * C + b] = (float)(v > 0 ? v : 0);
    }
  }
  free(spec), free(basis), free(coef), free(illum);
  return DC_OK;
}

/* Fills the LiDAR DSM (modality 1, metres). */
static enum dc_status make_lidar(const struct synth_preset *p, uint64_t seed, const struct layout *L, struct dc_scene *s) {
  int H = L->H, W = L->W, K = L->K;
  size_t n = (size_t)H * W;
  float *terrain = malloc(n * sizeof *terrain), *rough = malloc(n * sizeof *rough), *tmp = malloc(n * sizeof *tmp);
  if (!terrain || !rough || !tmp) {
    free(terrain), free(rough), free(tmp);
    return DC_ERROR(DC_ERR_NOMEM, "synth %s: no memory for the LiDAR surface", p->name);
  }
  smooth_field(terrain, H, W, 3.0 * sqrt((double)n / p->n_sites), seed, STREAM(S_TERRAIN, 0, 0));
  smooth_field(rough, H, W, 2.0, seed, STREAM(S_ROUGH, 0, 0));
  float *dsm = s->cube[1];
  for (int r = 0; r < H; r++)
    for (int c = 0; c < W; c++) {
      size_t i = (size_t)r * W + c;
      int k = L->cls[i], site = L->site[i];
      const struct synth_class *cl = k < K ? &p->classes[k] : &p->background;
      double h = cl->height + cl->height_jitter * dc_rng_normal(seed, STREAM(S_HEIGHT_SITE, k, 0), (uint64_t)site, 0);
      double white = dc_rng_normal(seed, STREAM(S_ROUGH, 1, 0), i, 0);
      h += cl->roughness * (0.7 * rough[i] + 0.7 * white);
      if (cl->row_period > 0) {
        double a = 3.14159265358979 * dc_rng_uniform(seed, STREAM(S_ANGLE, 0, 0), (uint64_t)site, 0);
        h += cl->row_amplitude * sin(6.28318530717959 * (r * cos(a) + c * sin(a)) / cl->row_period);
      }
      tmp[i] = (float)(h > 0 ? h : 0);
    }
  blur(tmp, rough, H, W, p->mix_sigma * 0.6);
  for (size_t i = 0; i < n; i++)
    dsm[i] = (float)(p->ground_level + 3.0 * terrain[i] + tmp[i] +
                     0.05 * dc_rng_normal(seed, STREAM(S_LIDAR_NOISE, 0, 0), i, 0));
  free(terrain), free(rough), free(tmp);
  return DC_OK;
}

/* Survey mask and train / test split; returns 0 when a class has too few labelled pixels. */
static int make_labels(const struct synth_preset *p, uint64_t seed, int attempt, const struct layout *L,
                       struct dc_scene *s, float *survey, int *idx) {
  int H = L->H, W = L->W, K = L->K;
  size_t n = (size_t)H * W;
  smooth_field(survey, H, W, 0.5 * sqrt((double)n / p->n_sites), seed, STREAM(S_SURVEY, 0, attempt));
  for (int k = 0; k < K; k++) {
    size_t nk = 0;
    for (size_t i = 0; i < n; i++)
      if (L->cls[i] == k && survey[i] > p->survey_threshold) idx[nk++] = (int)i;
    if (nk < (size_t)p->min_labelled) return 0;
    for (size_t i = nk - 1; i > 0; i--) { /* Fisher-Yates */
      size_t j = dc_rng_below(seed, STREAM(S_TRAIN, k, attempt), i, 0, (uint32_t)(i + 1));
      int t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    size_t n_train = (size_t)lround(p->train_fraction * nk), floor_n = nk / 2 < 10 ? nk / 2 : 10;
    if (n_train < floor_n) n_train = floor_n;
    for (size_t t = 0; t < nk; t++) (t < n_train ? s->train : s->test)[idx[t]] = k + 1;
  }
  return 1;
}

static char *dup_str(const char *t) {
  char *d = malloc(strlen(t) + 1);
  if (d) strcpy(d, t);
  return d;
}

static enum dc_status build(const struct synth_preset *p, uint64_t seed, struct dc_scene *s) {
  int H = p->height, W = p->width, K = p->n_classes;
  size_t n = (size_t)H * W;
  snprintf(s->name, sizeof s->name, "synth-%s", p->name);
  s->height = H;
  s->width = W;
  s->n_modalities = 2;
  s->n_classes = K;
  s->bands[0] = p->bands;
  s->bands[1] = 1;
  snprintf(s->modality_names[0], sizeof s->modality_names[0], "hsi");
  snprintf(s->modality_names[1], sizeof s->modality_names[1], "lidar");
  snprintf(s->source, sizeof s->source, "synth:%s:%llu", p->name, (unsigned long long)seed);
  for (int k = 0; k < K; k++) {
    s->class_names[k] = dup_str(p->classes[k].name);
    s->class_descriptions[k] = dup_str(p->classes[k].description);
    if (!s->class_names[k] || !s->class_descriptions[k]) return DC_ERROR(DC_ERR_NOMEM, "synth: class names");
  }
  DC_TRY(dc_scene_alloc(s));
  struct layout L = {.H = H, .W = W, .K = K, .n_sites = p->n_sites};
  L.cls = malloc(n * sizeof *L.cls);
  L.site = malloc(n * sizeof *L.site);
  L.w = malloc((size_t)(K + 1) * n * sizeof *L.w);
  float *survey = malloc(n * sizeof *survey);
  int *idx = malloc(n * sizeof *idx);
  enum dc_status st = DC_OK;
  if (!L.cls || !L.site || !L.w || !survey || !idx) st = DC_ERROR(DC_ERR_NOMEM, "synth %s: no memory", p->name);
  int attempt = 0, ok = 0;
  for (; st == DC_OK && !ok && attempt < MAX_ATTEMPTS; attempt++) {
    memset(s->train, 0, n * sizeof *s->train);
    memset(s->test, 0, n * sizeof *s->test);
    st = make_layout(p, seed, attempt, &L);
    if (st == DC_OK) ok = make_labels(p, seed, attempt, &L, s, survey, idx);
  }
  if (st == DC_OK && !ok)
    st = DC_ERROR(DC_ERR_INTERNAL, "synth %s: seed %llu gave a class under %d labelled pixels %d times", p->name,
                  (unsigned long long)seed, p->min_labelled, MAX_ATTEMPTS);
  if (st == DC_OK) st = make_hsi(p, seed, &L, s);
  if (st == DC_OK) st = make_lidar(p, seed, &L, s);
  if (st == DC_OK) st = dc_scene_compute_stats(s);
  free(L.cls), free(L.site), free(L.w), free(survey), free(idx);
  return st;
}

int dc_synth_n_presets(void) { return synth_n_presets; }

const char *dc_synth_preset_name(int i) { return i >= 0 && i < synth_n_presets ? synth_presets[i].name : NULL; }

const char *dc_synth_preset_summary(int i) { return i >= 0 && i < synth_n_presets ? synth_presets[i].summary : NULL; }

enum dc_status dc_synth_scene(const char *preset, uint64_t seed, struct dc_scene *s) {
  memset(s, 0, sizeof *s);
  const struct synth_preset *p = NULL;
  for (int i = 0; i < synth_n_presets; i++)
    if (strcmp(preset, synth_presets[i].name) == 0) p = &synth_presets[i];
  if (!p) return DC_ERROR(DC_ERR_ARG, "synth: unknown preset '%s' (tiny, demo or trento-like expected)", preset);
  enum dc_status st = build(p, seed, s);
  if (st != DC_OK) dc_scene_free(s);
  return st;
}
