/* The run's scene from its configuration (see data_source.h). */
#include "diffclip/data_source.h"

#include <string.h>

#include "diffclip/patch.h"
#include "diffclip/scene_mpi.h"
#include "diffclip/synth.h"

#define DC_SYNTH_TEXT(id, text) text,
static const char *const synthetic_names[] = {DC_DATA_SYNTHETIC_CHOICES(DC_SYNTH_TEXT)};

enum dc_status dc_scene_from_config(const struct dc_dist *d, const struct dc_config *cfg, struct dc_scene *s) {
  const struct dc_config_data *dc = &cfg->data;
  memset(s, 0, sizeof *s);
  if (dc->synthetic != DC_DATA_SYNTHETIC_NONE) {
    DC_TRY(dc_dist_agree(d, dc_synth_scene(synthetic_names[dc->synthetic], (uint64_t)dc->synthetic_seed, s)));
  } else {
    if (!dc->scene[0])
      return DC_ERROR(DC_ERR_ARG, "no scene: set data.scene to a file made by `diffclip prepare` or `diffclip synth`, "
                                  "or data.synthetic to a preset");
    DC_TRY(dc_scene_load_parallel(d, dc->scene, s));
  }
  if (dc->classes != 0 && dc->classes != s->n_classes)
    return DC_ERROR(DC_ERR_ARG, "data.classes = %d but the scene %s has %d classes", dc->classes, s->name,
                    s->n_classes);
  return dc_normalise_scene(s, dc->normalisation == DC_DATA_NORM_BAND_ROBUST ? DC_NORM_BAND_ROBUST
                                                                            : DC_NORM_GLOBAL_MINMAX);
}
