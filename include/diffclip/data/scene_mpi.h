/* Loading a scene in a data-parallel job: every rank reads the metadata and labels; the
 * cubes are read in parallel, each rank its own band of rows by one collective
 * parallel-HDF5 hyperslab read, and the bands are then shared with MPI_Allgatherv so that
 * any rank can cut any patch. That is what lets the global batch (and so the loss curve)
 * be the same for any rank count; the scenes of the four benchmarks fit in memory
 * (Houston's cube is 385 MB). */
#ifndef DIFFCLIP_SCENE_MPI_H
#define DIFFCLIP_SCENE_MPI_H

#include "diffclip/dist/dist.h"
#include "diffclip/data/scene.h"

/* Reads `path` into s on every rank of d (collective). */
enum dc_status dc_scene_load_parallel(const struct dc_dist *d, const char *path, struct dc_scene *s);

#endif
