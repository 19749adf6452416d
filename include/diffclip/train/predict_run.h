/* `diffclip predict`: a fine-tuned model applied to every pixel of a scene.
 *
 * The model comes from a fine-tuned checkpoint (<run>/ckpt/ckpt_finetuned.h5, or its run
 * folder): its weights, the configuration it was trained under (/config) and its
 * tokenizer's vocabulary (/vocab). The classes, their prompts and the normalisation
 * statistics come from the scene it was fine-tuned on (data.scene of that configuration,
 * or training_scene when the file has moved; a synthetic preset is rebuilt from its seed),
 * so a new scene is normalised exactly as the training pixels were. The scene to map is
 * that scene by default, or another with the same modalities and band counts (refused,
 * naming both, otherwise).
 *
 * Every rank classifies its share of the pixels (rank 0 prints progress); rank 0 writes
 * into out_dir: prediction.h5 (io/prediction.h), prediction.tif (the class map with its
 * colour table and class names on the scene's georeference, or the pixel grid),
 * probability.tif (scores "all": one float32 band a class), prediction.png and
 * classes.csv (value, name, colour, pixels). On a failure or a stop request nothing of
 * this call is left in out_dir. Collective. */
#ifndef DIFFCLIP_PREDICT_RUN_H
#define DIFFCLIP_PREDICT_RUN_H

#include "diffclip/dist/dist.h"

enum dc_predict_scores {
  DC_PREDICT_SCORES_ALL = 0, /* every class's probability (prediction.h5 and probability.tif) */
  DC_PREDICT_SCORES_TOP2     /* the two likeliest classes and their probabilities only */
};

struct dc_predict_opts {
  const char *checkpoint;     /* a fine-tuned checkpoint file, or its run folder */
  const char *scene;          /* the scene to map; NULL: the one it was fine-tuned on */
  const char *training_scene; /* NULL: data.scene of the checkpoint's configuration */
  const char *out_dir;
  const char *const *sets;    /* "key=value" for keys that do not change a prediction */
  int n_sets;
  enum dc_predict_scores scores;
};

/* The keys predict --set accepts (run.threads, run.backend, ...), comma-separated, for
 * messages and help. */
const char *dc_predict_settable_keys(void);

enum dc_status dc_predict(const struct dc_dist *d, const struct dc_predict_opts *o);

#endif
