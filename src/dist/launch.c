/* Launch checks: how this process was started, whether that agrees with MPI, whether the
 * node has a GPU for every rank, and the rank -> host -> device table.
 *
 * The environment is read once into struct dc_launch_env; every decision is a pure function
 * of it (tests feed fake environments). What the variables mean:
 *   SLURM_JOB_ID         set in every process of a Slurm allocation (batch shell, salloc
 *                        shell, srun tasks, and whatever they start);
 *   SLURM_STEP_ID        set by srun for the tasks of a job step. The batch shell itself is
 *                        a task too, with SLURM_PROCID=0 and SLURM_LOCALID=0, and newer
 *                        Slurm gives it (and salloc's interactive step) SLURM_STEP_ID as a
 *                        reserved value near 2^32 (or negative, printed signed): those are
 *                        not srun steps. So SLURM_PROCID alone does not prove srun, and
 *                        SLURM_LOCALID means this task's local rank only inside a step that
 *                        srun itself launched (a process started by mpirun inside the batch
 *                        script inherits the batch shell's SLURM_LOCALID=0);
 *   OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK   Open MPI's launcher (mpirun);
 *   PMI_SIZE, PMI_LOCAL_RANK   PMI launchers (MPICH's Hydra mpiexec, srun --mpi=pmi2);
 *   PMIX_RANK            any PMIx launcher (Open MPI 5's mpirun/prterun, srun --mpi=pmix);
 *   SLURM_STEP_NUM_TASKS the task count of an srun step. */
#include "diffclip/dist/dist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define DC_HOST_CHARS 64

static const char *env_get(char *const *envp, const char *name) {
  size_t n = strlen(name);
  for (char *const *p = envp; p && *p; p++)
    if (strncmp(*p, name, n) == 0 && (*p)[n] == '=') return *p + n + 1;
  return NULL;
}

/* A non-negative integer, or -1. */
static long parse_count(const char *text) {
  if (!text || !*text) return -1;
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  return (*end != '\0' || errno || v < 0) ? -1 : v;
}

/* SLURM_STEP_ID names an srun step: a number below the reserved ids (batch 0xfffffffb,
 * extern 0xfffffffc, interactive 0xfffffffa, pending 0xfffffffd), which some Slurm
 * versions print as negative numbers. */
static int is_srun_step(const char *text) {
  if (!text || !*text) return 0;
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  return *end == '\0' && !errno && v >= 0 && v < 0xfffffff0LL;
}

/* The launch variables as they were before MPI_Init: "NAME=value" strings, NULL-ended. */
static const char *const g_names[] = {"SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_LOCALID", "OMPI_COMM_WORLD_SIZE",
                                      "OMPI_COMM_WORLD_LOCAL_RANK", "PMI_SIZE", "PMI_LOCAL_RANK", "PMIX_RANK",
                                      "CUDA_VISIBLE_DEVICES", "SLURM_STEP_NUM_TASKS"};
#define DC_N_NAMES (sizeof g_names / sizeof g_names[0])
static char g_snapshot_text[DC_N_NAMES][512];
static char *g_snapshot[DC_N_NAMES + 1];
static int g_snapshot_taken = 0;

void dc_launch_env_snapshot(void) {
  size_t n = 0;
  for (size_t i = 0; i < DC_N_NAMES; i++) {
    const char *v = env_get(environ, g_names[i]);
    if (!v) continue;
    snprintf(g_snapshot_text[n], sizeof g_snapshot_text[n], "%s=%s", g_names[i], v);
    g_snapshot[n] = g_snapshot_text[n];
    n++;
  }
  g_snapshot[n] = NULL;
  g_snapshot_taken = 1;
}

static void add_hint(struct dc_launch_env *e, char *const *envp, const char *name) {
  const char *text = env_get(envp, name);
  if (!text || e->n_hints >= DC_LAUNCH_MAX_HINTS) return;
  e->hints[e->n_hints++] = (struct dc_launch_hint){.name = name, .value = parse_count(text), .text = text};
}

void dc_launch_env_parse(struct dc_launch_env *e, char *const *envp) {
  memset(e, 0, sizeof *e);
  e->slurm_job_id = env_get(envp, "SLURM_JOB_ID");
  int ompi = env_get(envp, "OMPI_COMM_WORLD_SIZE") != NULL;
  e->mpi_launcher = ompi || env_get(envp, "PMI_SIZE") || env_get(envp, "PMIX_RANK");
  e->srun_task = e->slurm_job_id && is_srun_step(env_get(envp, "SLURM_STEP_ID"));
  /* srun --mpi=pmix/pmi2 sets PMIX_RANK/PMI_SIZE too: srun is the launcher unless Open
   * MPI's own mpirun (OMPI_COMM_WORLD_SIZE) ran inside the step. */
  e->launcher = e->srun_task && !ompi ? "srun" : e->mpi_launcher ? "mpirun" : "no launcher";
  if (e->srun_task && !ompi) add_hint(e, envp, "SLURM_LOCALID");
  add_hint(e, envp, "OMPI_COMM_WORLD_LOCAL_RANK");
  add_hint(e, envp, "PMI_LOCAL_RANK");
  e->cuda_visible = env_get(envp, "CUDA_VISIBLE_DEVICES");
  /* the launcher that started this very process says how many it started */
  e->size_source = ompi ? "OMPI_COMM_WORLD_SIZE"
                   : e->srun_task ? "SLURM_STEP_NUM_TASKS"
                   : env_get(envp, "PMI_SIZE") ? "PMI_SIZE"
                   : NULL;
  e->announced_size = e->size_source ? parse_count(env_get(envp, e->size_source)) : -1;
  if (e->announced_size < 1) e->size_source = NULL, e->announced_size = -1;
}

int dc_launch_local_rank_mismatch(const struct dc_launch_env *e, int mpi_local_rank, char *msg, size_t cap) {
  int n = 0;
  size_t used = 0;
  if (cap) msg[0] = '\0';
  for (int i = 0; i < e->n_hints; i++) {
    const struct dc_launch_hint *h = &e->hints[i];
    if (h->value == mpi_local_rank) continue;
    n++;
    if (used < cap) {
      int w = h->value < 0 ? snprintf(msg + used, cap - used, "%s%s='%s' is not a rank number", n > 1 ? "; " : "",
                                      h->name, h->text)
                           : snprintf(msg + used, cap - used, "%s%s=%ld but MPI's node-local rank is %d",
                                      n > 1 ? "; " : "", h->name, h->value, mpi_local_rank);
      used += w > 0 ? (size_t)w : 0;
    }
  }
  return n;
}

int dc_launch_gpu_shortage(const struct dc_launch_env *e, int local_size, int n_devices, char *msg, size_t cap) {
  if (cap) msg[0] = '\0';
  if (n_devices <= 0 || local_size <= n_devices) return 0;
  snprintf(msg, cap,
           "%d ranks share this node but only %d GPU%s visible%s%s%s: start one rank per GPU "
           "(Slurm: --ntasks-per-node equal to --gpus-per-node; mpirun: -np or --map-by ppr:N:node with N "
           "at most the GPUs per node) and let every rank see all of its node's GPUs, as srun --gpu-bind=none "
           "does (diffclip picks one by node-local rank), or set run.backend = \"cpu\"",
           local_size, n_devices, n_devices == 1 ? " is" : "s are", e->cuda_visible ? " (CUDA_VISIBLE_DEVICES=" : "",
           e->cuda_visible ? e->cuda_visible : "", e->cuda_visible ? ")" : "");
  return 1;
}

int dc_launch_unlaunched(const struct dc_launch_env *e, int world_size, char *msg, size_t cap) {
  if (cap) msg[0] = '\0';
  /* more than one rank: some launcher started us, even one we do not recognise */
  if (!e->slurm_job_id || e->srun_task || e->mpi_launcher || world_size > 1) return 0;
  snprintf(msg, cap,
           "this process runs inside Slurm job %s but neither srun nor mpirun started it, so it is one "
           "rank alone on one node whatever the allocation holds: start it with "
           "`srun --mpi=pmix diffclip ...` (see jobs/slurm/pretrain.sbatch)",
           e->slurm_job_id);
  return 1;
}

int dc_launch_size_mismatch(const struct dc_launch_env *e, int world_size, char *msg, size_t cap) {
  if (cap) msg[0] = '\0';
  if (e->announced_size < 1 || e->announced_size == world_size) return 0;
  snprintf(msg, cap,
           "%s=%ld processes were started but MPI sees a world of %d: the MPI library does not speak the "
           "launcher's protocol, so each process runs alone and they would all write the same files. "
           "Under Slurm try srun --mpi=pmix or --mpi=pmi2 (srun --mpi=list), or start with the mpirun of the "
           "MPI diffclip was built with",
           e->size_source, e->announced_size, world_size);
  return 1;
}

int dc_launch_device(int local_rank, int n_devices) { return n_devices > 0 ? local_rank % n_devices : -1; }

void dc_launch_device_label(const struct dc_launch_env *e, int device, char *out, size_t cap) {
  if (device < 0) {
    snprintf(out, cap, "cpu");
    return;
  }
  /* the device-th entry of CUDA_VISIBLE_DEVICES is the GPU's name outside this process */
  const char *p = e->cuda_visible;
  for (int i = 0; p && *p && i < device; i++) {
    p = strchr(p, ',');
    if (p) p++;
  }
  if (!p || !*p) {
    snprintf(out, cap, "cuda:%d", device);
    return;
  }
  size_t len = strcspn(p, ",");
  snprintf(out, cap, "cuda:%d (CUDA_VISIBLE_DEVICES entry %.*s)", device, (int)(len < 40 ? len : 40), p);
}

/* One row of the table, gathered on rank 0. */
struct row {
  char host[DC_HOST_CHARS];
  char device[80];
  int local_rank, local_size, mismatches;
};

static enum dc_status log_table(const struct dc_dist *d, const struct dc_launch_env *e, const struct row *mine) {
  struct row *all = NULL;
  if (d->rank == 0) {
    all = malloc((size_t)d->size * sizeof *all);
    DC_CHECK_ALLOC(all);
  }
  int rc = MPI_Gather(mine, (int)sizeof *mine, MPI_BYTE, all, (int)sizeof *mine, MPI_BYTE, 0, d->comm);
  if (rc != MPI_SUCCESS) {
    free(all);
    return DC_ERROR(DC_ERR_MPI, "MPI_Gather of the launch table failed (MPI error %d)", rc);
  }
  if (d->rank == 0) {
    int nodes = 0;
    for (int r = 0; r < d->size; r++) nodes += all[r].local_rank == 0;
    dc_log(DC_LOG_INFO, "launch: %d rank%s on %d node%s (%s%s%s)", d->size, d->size == 1 ? "" : "s", nodes,
           nodes == 1 ? "" : "s", e->launcher, e->slurm_job_id ? ", Slurm job " : "",
           e->slurm_job_id ? e->slurm_job_id : "");
    dc_log(DC_LOG_INFO, "  %5s  %-24s  %-10s  %s", "rank", "host", "local", "device");
    for (int r = 0; r < d->size; r++) {
      char local[32];
      snprintf(local, sizeof local, "%d of %d", all[r].local_rank, all[r].local_size);
      dc_log(DC_LOG_INFO, "  %5d  %-24s  %-10s  %s%s", r, all[r].host, local, all[r].device,
             all[r].mismatches ? "  (launcher disagrees: see warning)" : "");
    }
  }
  free(all);
  return DC_OK;
}

enum dc_status dc_dist_launch_checks(const struct dc_dist *d, int n_devices, int *device) {
  struct dc_launch_env e;
  dc_launch_env_parse(&e, g_snapshot_taken ? g_snapshot : environ);
  char msg[1024];
  if (d->rank == 0 && dc_launch_unlaunched(&e, d->size, msg, sizeof msg)) dc_log(DC_LOG_WARN, "%s", msg);

  struct row mine;
  memset(&mine, 0, sizeof mine);
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  if (MPI_Get_processor_name(name, &len) != MPI_SUCCESS || len <= 0) snprintf(name, sizeof name, "?");
  snprintf(mine.host, sizeof mine.host, "%.63s", name);
  mine.local_rank = d->local_rank;
  mine.local_size = d->local_size;
  mine.mismatches = dc_launch_local_rank_mismatch(&e, d->local_rank, msg, sizeof msg);
  if (mine.mismatches)
    dc_log(DC_LOG_WARN, "rank %d on %s: the launcher and MPI disagree about the node-local rank (%s); "
           "the program uses MPI's, which picks the GPU", d->rank, mine.host, msg);
  int dev = dc_launch_device(d->local_rank, n_devices);
  dc_launch_device_label(&e, dev, mine.device, sizeof mine.device);

  /* A world of its own (each of N copies is rank 0 of 1, so each says so). Ranks of one
   * node see the same GPU count: one message a node. Then every rank agrees. */
  enum dc_status st = DC_OK;
  if (dc_launch_size_mismatch(&e, d->size, msg, sizeof msg)) {
    DC_ERROR(DC_ERR_ARG, "%s", msg);
    st = DC_ERR_ARG;
  } else if (dc_launch_gpu_shortage(&e, d->local_size, n_devices, msg, sizeof msg)) {
    if (d->local_rank == 0) DC_ERROR(DC_ERR_ARG, "node %s: %s", mine.host, msg);
    st = DC_ERR_ARG;
  }
  st = dc_dist_agree(d, st);
  if (st != DC_OK) return st;
  DC_TRY(dc_dist_agree(d, log_table(d, &e, &mine)));
  if (device) *device = dev;
  return DC_OK;
}
