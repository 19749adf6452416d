/* Dataset manifests (data_manifests/NAME.cfg, libconfig): which raw files make a dataset, how
 * to read them, what they must contain, and what the classes are. `prepare` reads one,
 * checks every named file against it and writes the canonical scene (scene.h) or, for
 * exam datasets such as MRNet, the exam store (docs/formats.md).
 *
 * The schema is checked strictly: an unknown key, a value of the wrong type or a missing
 * required key is an error naming the manifest file, the line and the key. The keys are
 * documented in data_manifests/template.cfg and docs/data.md. */
#ifndef DIFFCLIP_MANIFEST_H
#define DIFFCLIP_MANIFEST_H

#include "diffclip/data/scene.h"
#include "diffclip/core/status.h"

#define DC_MANIFEST_VERSION 1
#define DC_MANIFEST_MAX_VARIANTS 8
#define DC_MANIFEST_MAX_FILES 16
#define DC_MANIFEST_MAX_PLANES 4
#define DC_MANIFEST_MAX_SPLITS 4

enum dc_manifest_kind { DC_MANIFEST_SCENE = 0, DC_MANIFEST_EXAMS = 1 };
enum dc_nan_policy { DC_NAN_ERROR = 0, DC_NAN_FILL = 1 }; /* fill: the band's median */
enum dc_file_format { DC_FORMAT_AUTO = 0, DC_FORMAT_MAT, DC_FORMAT_NPY, DC_FORMAT_GDAL, DC_FORMAT_ENVI_ROI };

/* One raw file and what it contributes. Files of one modality are stacked along the band
 * axis in the order listed. */
struct dc_manifest_file {
  char role[32];       /* a modality name, or "train", "test", "gt" (labels) */
  char file[256];      /* relative to the raw folder */
  char variable[128];  /* MAT: variable path ("HSI", "hsi.Lidar{1}.z"); "" otherwise */
  enum dc_file_format format;
  char layout[4];      /* axis order of the stored array: "HWC" (default), "WHC", "CHW" */
  char sha256[65];     /* "" when the digest is not known */
  int sha256_advisory; /* a digest mismatch only warns */
  int has_unlabelled;  /* labels: this file overrides labels.unlabelled */
  long unlabelled;
  int roi_by_order;    /* ENVI ROI labels: ROI i is class i (roi_match = "order"), else by name */
  int line;            /* manifest line, for messages */
};

struct dc_manifest_variant {
  char name[32];
  char note[512];
  int official_split;                  /* train/test are the published split: counts checked */
  int bands[DC_SCENE_MAX_MODALITIES];  /* band count per modality for this variant */
  int n_files;
  struct dc_manifest_file files[DC_MANIFEST_MAX_FILES];
  int line;
};

/* The published split's pixel counts; -1 (or has_* = 0) when not stated. */
struct dc_manifest_split_counts {
  long train, test, labelled;
  int has_train_per_class, has_test_per_class, has_labelled_per_class;
  long train_per_class[DC_SCENE_MAX_CLASSES], test_per_class[DC_SCENE_MAX_CLASSES],
      labelled_per_class[DC_SCENE_MAX_CLASSES];
};

struct dc_manifest_exam_split {
  char name[32];     /* "train", "valid" */
  char folder[128];  /* volumes at <raw>/<folder>/<plane>/<exam id, id_digits wide>.npy */
  int expected_exams; /* 0 = not checked */
  char label_files[DC_SCENE_MAX_CLASSES][256]; /* one CSV per class (task), class order */
  int line;
};

struct dc_manifest_exams {
  int n_planes;
  char planes[DC_MANIFEST_MAX_PLANES][32];
  int slices, height, width; /* every volume is resampled to (slices, height, width) */
  int trilinear;             /* 1 trilinear, 0 nearest */
  int id_digits;             /* exam id width in file names (MRNet: 4, "0007.npy") */
  int n_splits;
  struct dc_manifest_exam_split splits[DC_MANIFEST_MAX_SPLITS];
};

struct dc_manifest {
  char path[1024];
  char *text; /* the file as read, stored in the scene's provenance */
  char sha256[65];
  int version;
  char name[64];
  char title[256];
  enum dc_manifest_kind kind;
  int n_classes;
  char *class_names[DC_SCENE_MAX_CLASSES];
  char *class_descriptions[DC_SCENE_MAX_CLASSES];
  /* what becomes of each class in the scene: its own index (kept), another kept class's
   * index (merge_into = "name"), or -1 (drop = true: its pixels become unlabelled) */
  int class_fate[DC_SCENE_MAX_CLASSES];
  /* scenes */
  int height, width;
  int n_modalities;
  char modality_names[DC_SCENE_MAX_MODALITIES][32];
  int bands[DC_SCENE_MAX_MODALITIES];
  long unlabelled, first_class; /* raw label encoding: value of "no label" and of class 1 */
  enum dc_nan_policy nan_policy;
  struct dc_manifest_split_counts split;
  int n_variants;
  struct dc_manifest_variant variants[DC_MANIFEST_MAX_VARIANTS];
  /* exams */
  struct dc_manifest_exams exams;
};

/* Reads and checks a manifest; on failure one message names file, line and key. */
enum dc_status dc_manifest_load(const char *path, struct dc_manifest *m);
void dc_manifest_free(struct dc_manifest *m);
/* Modality index of `role`, or -1 when it is a label role or unknown. */
int dc_manifest_modality(const struct dc_manifest *m, const char *role);
/* The format a file is read with: its manifest format, or guessed from the extension. */
enum dc_file_format dc_manifest_file_format(const struct dc_manifest_file *f);

#endif
