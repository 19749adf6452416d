/* The scene file's optional georeference and wavelength objects (scene.c calls these;
 * docs/formats.md): private to src/data. */
#ifndef DIFFCLIP_DATA_SCENE_GEO_H
#define DIFFCLIP_DATA_SCENE_GEO_H

#include <hdf5.h>

#include "diffclip/data/scene.h"

/* Checks the optional fields of an in-memory scene (finite geotransform with a non-zero
 * pixel size, wavelengths finite or NaN, names terminated). */
enum dc_status dc_scene_geo_validate(const struct dc_scene *s, const char *what);
/* /geo (when has_geo or crs_wkt) and /modality_<m>/wavelength (when wavelengths[m]). */
enum dc_status dc_scene_geo_write(hid_t file, const char *path, const struct dc_scene *s);
/* Reads what is there; absent objects leave the fields empty (older scenes). */
enum dc_status dc_scene_geo_read(hid_t file, const char *path, struct dc_scene *s);

#endif
