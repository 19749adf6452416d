/* The data a run works on, from its configuration. Shared by every stage.
 *
 * A scene: a synthetic preset built in memory (data.synthetic; every rank builds the same
 * scene from its seed, no file needed) or the prepared scene file data.scene (loaded in
 * parallel), normalised as data.normalisation says and checked against data.classes.
 *
 * An exam store (MRNet: data.scene names a file of format "diffclip-exams"): every rank
 * reads and pools its share of the exams serially, the shares are gathered, and the
 * pooled planes are min-max normalised (diffclip/exams.h has the model view).
 *
 * struct dc_samples is what the training loops see: a sample is a pixel index r * W + c of
 * a scene (its patch cut around it) or an exam index of a store (its pooled planes); both
 * give the model's channel-last (B, L, C_m) patches per modality. */
#ifndef DIFFCLIP_DATA_SOURCE_H
#define DIFFCLIP_DATA_SOURCE_H

#include "diffclip/config/config.h"
#include "diffclip/dist/dist.h"
#include "diffclip/data/exams.h"
#include "diffclip/data/scene.h"

enum dc_status dc_scene_from_config(const struct dc_dist *d, const struct dc_config *cfg, struct dc_scene *s);

/* Exactly one of scene, exams is set. */
struct dc_samples {
  const struct dc_scene *scene;
  const struct dc_exams *exams;
};
int dc_samples_modalities(const struct dc_samples *s);
int dc_samples_bands(const struct dc_samples *s, int m);
const char *dc_samples_name(const struct dc_samples *s);
/* The name of modality m ("hsi", "lidar"; an exam store's plane, "sagittal"). */
const char *dc_samples_modality_name(const struct dc_samples *s, int m);
/* out (B, L, C_m) for samples idx[0..B) of modality m; window = the model's (an exam
 * store is pooled to it when read). */
void dc_samples_cut(const struct dc_samples *s, int m, int window, const int *idx, int B, float *out);

/* The run's data: a scene or an exam store, with samples pointing into it (do not copy the
 * struct after loading). Collective. */
struct dc_data {
  struct dc_scene scene;
  struct dc_exams exams;
  struct dc_samples samples;
};
/* 1 when data.scene names an exam store (no synthetic preset set). */
int dc_config_is_exams(const struct dc_config *cfg);
enum dc_status dc_data_from_config(const struct dc_dist *d, const struct dc_config *cfg, struct dc_data *out);
void dc_data_free(struct dc_data *data);

#endif
