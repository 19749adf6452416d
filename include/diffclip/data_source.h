/* The scene a run works on, from its configuration: a synthetic preset built in memory
 * (data.synthetic; every rank builds the same scene from its seed, no file needed) or the
 * prepared scene file data.scene (loaded in parallel), normalised as data.normalisation
 * says and checked against data.classes. Shared by every stage. */
#ifndef DIFFCLIP_DATA_SOURCE_H
#define DIFFCLIP_DATA_SOURCE_H

#include "diffclip/config.h"
#include "diffclip/dist.h"
#include "diffclip/scene.h"

enum dc_status dc_scene_from_config(const struct dc_dist *d, const struct dc_config *cfg, struct dc_scene *s);

#endif
