/* Distributed bring-up and teardown (MPI), and the gradient average. One module owns it;
 * everything else receives a struct dc_dist. */
#ifndef DIFFCLIP_DIST_H
#define DIFFCLIP_DIST_H

#include <mpi.h>

#include "diffclip/backend/backend.h"
#include "diffclip/nn/nn.h"

struct dc_dist {
  int rank, size;
  int local_rank, local_size; /* within the node (MPI_COMM_TYPE_SHARED) */
  MPI_Comm comm;              /* MPI_COMM_WORLD */
  MPI_Comm exit_comm;         /* a duplicate, for the agreement on the exit code alone */
  struct dc_nccl *nccl;       /* NCCL state for GPU gradients (src/dist/nccl), made on first use */
};

enum dc_status dc_dist_init(struct dc_dist *d, int *argc, char ***argv);
void dc_dist_finalize(struct dc_dist *d);
/* The ranks of d with the same color as a context of their own (ranks in d's order;
 * local_rank kept, so each keeps its GPU). It has no NCCL state and no exit
 * communicator: for work that averages no gradient over it (fine-tuning and evaluation).
 * Collective over d; free with dc_dist_split_free. */
enum dc_status dc_dist_split(const struct dc_dist *d, int color, struct dc_dist *sub);
void dc_dist_split_free(struct dc_dist *sub);
/* The MPI library (the first line of MPI_Get_library_version) and NCCL, for provenance. */
void dc_dist_library_info(char *out, size_t cap);
/* Averages n floats of backend memory over all ranks, in place: MPI on host memory; for
 * GPU memory NCCL when built and every rank has a GPU of its own, else staged through
 * host memory and MPI. An NCCL failure or timeout is returned (the caller aborts every
 * rank), never waited on forever. */
enum dc_status dc_dist_allreduce_mean(const struct dc_dist *d, const struct dc_backend *be, float *x, size_t n);
/* A reducer summing over every rank of d (for synchronised BatchNorm); d must outlive it. */
void dc_dist_reducer(const struct dc_dist *d, struct dc_reducer *out);
/* Agrees on a status: the worst over all ranks, so every rank takes the same exit. */
enum dc_status dc_dist_agree(const struct dc_dist *d, enum dc_status local);
/* Compares a text over all ranks with rank 0's (a resolved configuration, a data set's
 * identity): DC_OK when every rank holds the same; otherwise DC_ERR_ARG on every rank, each
 * differing rank naming its first differing line and rank 0's, rank 0 naming how many
 * differ, all ending with `hint` (what to do). Collective; `what` names the text. */
enum dc_status dc_dist_same_text(const struct dc_dist *d, const char *what, const char *mine, const char *hint);
/* At the end of a command: 1 when every rank ended with the same exit code within
 * timeout_s seconds (then each may exit normally with it), 0 when they differ or a rank did
 * not answer in time (it may be waiting in a collective for this one: abort). It talks on a
 * communicator of its own, so it cannot be matched by a collective left open elsewhere. */
int dc_dist_exit_agree(const struct dc_dist *d, int code, double timeout_s);
/* After a fatal error on this rank: MPI_Abort every rank of a multi-rank job (single
 * rank: returns, and the caller exits with `code`). */
void dc_dist_abort(const struct dc_dist *d, int code);

/* ---- launch checks (src/dist/launch.c) ------------------------------------------------
 * How the process was started, read from the environment: which launcher, what it says the
 * node-local rank is. The MPI answer (local_rank above) is the one used; the launchers'
 * are cross-checked against it. The parse and the decisions are pure functions of an
 * environment (a NULL-terminated "NAME=value" array such as environ), so tests feed fakes. */
#define DC_LAUNCH_MAX_HINTS 3

struct dc_launch_hint {
  const char *name; /* SLURM_LOCALID, OMPI_COMM_WORLD_LOCAL_RANK or PMI_LOCAL_RANK */
  long value;       /* -1 when the text is not a non-negative integer */
  const char *text;
};

struct dc_launch_env {
  const char *slurm_job_id; /* SLURM_JOB_ID, NULL when unset */
  int srun_task;            /* started by srun as a task of a job step (SLURM_STEP_ID names a step) */
  int mpi_launcher;         /* started by mpirun/mpiexec/prterun: OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK */
  const char *launcher;     /* "srun", "mpirun" or "no launcher", for the log */
  int n_hints;              /* the local ranks the launchers announce (only those that apply) */
  struct dc_launch_hint hints[DC_LAUNCH_MAX_HINTS];
  const char *cuda_visible; /* CUDA_VISIBLE_DEVICES, NULL when unset */
  long announced_size;      /* the process count the launcher started (OMPI_COMM_WORLD_SIZE, srun's
                             * SLURM_STEP_NUM_TASKS or PMI_SIZE); -1 when none says */
  const char *size_source;  /* the variable it came from */
};

void dc_launch_env_parse(struct dc_launch_env *e, char *const *envp);
/* The launchers' local ranks that disagree with MPI's: their count, described in msg. */
int dc_launch_local_rank_mismatch(const struct dc_launch_env *e, int mpi_local_rank, char *msg, size_t cap);
/* 1 (and why, in msg) when local_size ranks on one node would share n_devices GPUs;
 * n_devices = 0 means no GPU backend in use: CPU ranks may share a node freely. */
int dc_launch_gpu_shortage(const struct dc_launch_env *e, int local_size, int n_devices, char *msg, size_t cap);
/* 1 (and what to do, in msg) when a Slurm allocation is visible but neither srun nor an MPI
 * launcher started this process of a world_size-rank job. */
int dc_launch_unlaunched(const struct dc_launch_env *e, int world_size, char *msg, size_t cap);
/* 1 (and why, in msg) when the launcher started another number of processes than MPI's
 * world holds: an MPI library that does not speak the launcher's protocol (srun --mpi
 * plugin, another MPI's mpirun) makes each process a world of its own, and N copies of one
 * run would write the same files. */
int dc_launch_size_mismatch(const struct dc_launch_env *e, int world_size, char *msg, size_t cap);
/* The device this rank drives: its node-local rank, or -1 for none (n_devices = 0). */
int dc_launch_device(int local_rank, int n_devices);
/* "cpu", "cuda:1", or "cuda:1 (CUDA_VISIBLE_DEVICES entry 5)" when that variable renames it. */
void dc_launch_device_label(const struct dc_launch_env *e, int device, char *out, size_t cap);

/* Copies the variables above from this process's environment. dc_dist_init calls it before
 * MPI_Init, which adds launcher variables of its own (a singleton gets PMIX_RANK). */
void dc_launch_env_snapshot(void);
/* Every rank, once, after the configuration is loaded: reads the snapshot (or, without one,
 * this process's environment),
 * warns about a launcher/MPI disagreement or a missing launcher, refuses (DC_ERR_ARG on
 * every rank) a world size other than the launcher's or more ranks on a node than
 * n_devices GPUs, and rank 0 logs the rank -> host ->
 * device table. n_devices = 0 for the CPU backend. *device (may be NULL) gets the device
 * this rank drives, -1 for none. Collective over d->comm. */
enum dc_status dc_dist_launch_checks(const struct dc_dist *d, int n_devices, int *device);

#endif
