/* Launch checks as pure functions of fake environments: which launcher started the
 * process, the launchers' local ranks against MPI's, the GPU count per node, the Slurm
 * allocation nobody launched into, the launcher's process count against MPI's world, and
 * the device labels. */
#include <stdio.h>
#include <string.h>

#include "diffclip/dist/dist.h"

#include "expect.h"

static struct dc_launch_env parse(char *const *envp) {
  struct dc_launch_env e;
  dc_launch_env_parse(&e, envp);
  return e;
}

static void test_launchers(void) {
  char *none[] = {"HOME=/root", "PATH=/usr/bin", NULL};
  struct dc_launch_env e = parse(none);
  EXPECT(!e.slurm_job_id && !e.srun_task && !e.mpi_launcher && e.n_hints == 0, "empty environment");
  EXPECT(strcmp(e.launcher, "no launcher") == 0, "launcher %s", e.launcher);
  e = parse(NULL);
  EXPECT(e.n_hints == 0 && !e.slurm_job_id, "NULL environment");

  /* srun --mpi=pmix, task 3 of step 0, second task on its node */
  char *srun[] = {"SLURM_JOB_ID=4242", "SLURM_STEP_ID=0", "SLURM_PROCID=3", "SLURM_LOCALID=1",
                  "PMIX_RANK=3", "CUDA_VISIBLE_DEVICES=0,1,2,3", NULL};
  e = parse(srun);
  EXPECT(e.srun_task && e.mpi_launcher && strcmp(e.launcher, "srun") == 0, "srun step: %s", e.launcher);
  EXPECT(e.n_hints == 1 && strcmp(e.hints[0].name, "SLURM_LOCALID") == 0 && e.hints[0].value == 1,
         "SLURM_LOCALID read (%d hints)", e.n_hints);
  EXPECT(e.slurm_job_id && strcmp(e.slurm_job_id, "4242") == 0, "job id");
  EXPECT(e.cuda_visible && strcmp(e.cuda_visible, "0,1,2,3") == 0, "CUDA_VISIBLE_DEVICES");

  /* the batch shell: SLURM_PROCID/LOCALID=0 and a reserved step id, printed either way */
  char *batch[] = {"SLURM_JOB_ID=7", "SLURM_STEP_ID=4294967291", "SLURM_PROCID=0", "SLURM_LOCALID=0", NULL};
  e = parse(batch);
  EXPECT(!e.srun_task && !e.mpi_launcher && e.n_hints == 0, "batch shell is not an srun step");
  char *batch_signed[] = {"SLURM_JOB_ID=7", "SLURM_STEP_ID=-5", "SLURM_PROCID=0", NULL};
  EXPECT(!parse(batch_signed).srun_task, "negative step id");
  char *no_step[] = {"SLURM_JOB_ID=7", "SLURM_PROCID=0", "SLURM_LOCALID=0", NULL};
  EXPECT(!parse(no_step).srun_task, "SLURM_PROCID alone is not srun");
  char *garbage_step[] = {"SLURM_JOB_ID=7", "SLURM_STEP_ID=batch", NULL};
  EXPECT(!parse(garbage_step).srun_task, "non-numeric step id");

  /* Open MPI's mpirun inside the batch script: the inherited SLURM_LOCALID=0 is ignored */
  char *mpirun_in_slurm[] = {"SLURM_JOB_ID=7", "SLURM_PROCID=0", "SLURM_LOCALID=0", "OMPI_COMM_WORLD_SIZE=4",
                             "OMPI_COMM_WORLD_LOCAL_RANK=2", NULL};
  e = parse(mpirun_in_slurm);
  EXPECT(e.mpi_launcher && !e.srun_task && strcmp(e.launcher, "mpirun") == 0, "mpirun in a batch job");
  EXPECT(e.n_hints == 1 && strcmp(e.hints[0].name, "OMPI_COMM_WORLD_LOCAL_RANK") == 0 && e.hints[0].value == 2,
         "only Open MPI's local rank");
  /* ... and inside an srun step too (Open MPI's launcher wins) */
  char *mpirun_in_step[] = {"SLURM_JOB_ID=7", "SLURM_STEP_ID=2", "SLURM_LOCALID=0", "OMPI_COMM_WORLD_SIZE=4",
                            "OMPI_COMM_WORLD_LOCAL_RANK=3", NULL};
  e = parse(mpirun_in_step);
  EXPECT(strcmp(e.launcher, "mpirun") == 0 && e.n_hints == 1 && e.hints[0].value == 3, "mpirun inside srun");

  /* MPICH's Hydra: PMI_SIZE and PMI_LOCAL_RANK; names must match whole */
  char *hydra[] = {"PMI_SIZE=2", "PMI_RANK=1", "PMI_LOCAL_RANK=1", "PMI_LOCAL_RANKX=9", NULL};
  e = parse(hydra);
  EXPECT(e.mpi_launcher && e.n_hints == 1 && e.hints[0].value == 1, "Hydra (%d hints)", e.n_hints);
  char *prefix_only[] = {"SLURM_JOB_IDX=1", "PMIX_RANKS=2", NULL};
  e = parse(prefix_only);
  EXPECT(!e.slurm_job_id && !e.mpi_launcher, "variables named by prefix only do not count");
}

static void test_local_rank(void) {
  char msg[512];
  char *agree[] = {"SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_LOCALID=2", "OMPI_COMM_WORLD_LOCAL_RANK=2",
                   "PMI_LOCAL_RANK=2", NULL};
  struct dc_launch_env e = parse(agree);
  EXPECT(e.n_hints == 3, "three hints (%d)", e.n_hints);
  EXPECT(dc_launch_local_rank_mismatch(&e, 2, msg, sizeof msg) == 0 && msg[0] == '\0', "all agree: '%s'", msg);
  EXPECT(dc_launch_local_rank_mismatch(&e, 0, msg, sizeof msg) == 3, "all three disagree");
  EXPECT(strstr(msg, "SLURM_LOCALID=2 but MPI's node-local rank is 0") && strstr(msg, "PMI_LOCAL_RANK=2"),
         "message names each: '%s'", msg);

  char *one_off[] = {"OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_LOCAL_RANK=1", "PMI_LOCAL_RANK=0", NULL};
  e = parse(one_off);
  EXPECT(dc_launch_local_rank_mismatch(&e, 1, msg, sizeof msg) == 1 && strstr(msg, "PMI_LOCAL_RANK=0"),
         "one disagrees: '%s'", msg);

  char *bad[] = {"OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_LOCAL_RANK=one", NULL};
  e = parse(bad);
  EXPECT(e.hints[0].value == -1, "unparsable local rank");
  EXPECT(dc_launch_local_rank_mismatch(&e, 0, msg, sizeof msg) == 1 && strstr(msg, "'one' is not a rank number"),
         "unparsable reported: '%s'", msg);
  char small[8];
  EXPECT(dc_launch_local_rank_mismatch(&e, 0, small, sizeof small) == 1 && strlen(small) < sizeof small,
         "a short buffer is truncated, not overrun");

  char *none[] = {NULL};
  e = parse(none);
  EXPECT(dc_launch_local_rank_mismatch(&e, 5, msg, sizeof msg) == 0, "no launcher: nothing to compare");
}

static void test_gpus(void) {
  char msg[512];
  char *vis[] = {"CUDA_VISIBLE_DEVICES=2,3", NULL};
  struct dc_launch_env e = parse(vis);
  EXPECT(dc_launch_gpu_shortage(&e, 8, 0, msg, sizeof msg) == 0, "CPU backend: 8 ranks on a node are fine");
  EXPECT(dc_launch_gpu_shortage(&e, 2, 2, msg, sizeof msg) == 0, "2 ranks, 2 GPUs");
  EXPECT(dc_launch_gpu_shortage(&e, 1, 4, msg, sizeof msg) == 0, "fewer ranks than GPUs");
  EXPECT(dc_launch_gpu_shortage(&e, 3, 2, msg, sizeof msg) == 1, "3 ranks, 2 GPUs: refused");
  EXPECT(strstr(msg, "3 ranks share this node but only 2 GPUs are visible (CUDA_VISIBLE_DEVICES=2,3)") &&
             strstr(msg, "--gpu-bind=none") && strstr(msg, "run.backend"),
         "message: '%s'", msg);
  char *plain[] = {NULL};
  e = parse(plain);
  EXPECT(dc_launch_gpu_shortage(&e, 2, 1, msg, sizeof msg) == 1 && strstr(msg, "only 1 GPU is visible:"),
         "singular, no CUDA_VISIBLE_DEVICES: '%s'", msg);

  EXPECT(dc_launch_device(3, 0) == -1, "no devices: CPU");
  EXPECT(dc_launch_device(0, 4) == 0 && dc_launch_device(3, 4) == 3, "device = local rank");
  char label[128];
  e = parse(vis);
  dc_launch_device_label(&e, -1, label, sizeof label);
  EXPECT(strcmp(label, "cpu") == 0, "%s", label);
  dc_launch_device_label(&e, 1, label, sizeof label);
  EXPECT(strcmp(label, "cuda:1 (CUDA_VISIBLE_DEVICES entry 3)") == 0, "%s", label);
  dc_launch_device_label(&e, 2, label, sizeof label);
  EXPECT(strcmp(label, "cuda:2") == 0, "past the list: %s", label);
  char *uuid[] = {"CUDA_VISIBLE_DEVICES=GPU-8f2a,GPU-77c1", NULL};
  e = parse(uuid);
  dc_launch_device_label(&e, 0, label, sizeof label);
  EXPECT(strcmp(label, "cuda:0 (CUDA_VISIBLE_DEVICES entry GPU-8f2a)") == 0, "%s", label);
  e = parse(plain);
  dc_launch_device_label(&e, 0, label, sizeof label);
  EXPECT(strcmp(label, "cuda:0") == 0, "%s", label);
}

static void test_unlaunched(void) {
  char msg[512];
  char *batch[] = {"SLURM_JOB_ID=99", "SLURM_STEP_ID=4294967291", "SLURM_PROCID=0", NULL};
  struct dc_launch_env e = parse(batch);
  EXPECT(dc_launch_unlaunched(&e, 1, msg, sizeof msg) == 1, "run straight from the batch shell: warned");
  EXPECT(strstr(msg, "Slurm job 99") && strstr(msg, "srun --mpi=pmix"), "message: '%s'", msg);
  char *salloc[] = {"SLURM_JOB_ID=99", NULL};
  e = parse(salloc);
  EXPECT(dc_launch_unlaunched(&e, 1, msg, sizeof msg) == 1, "run straight from an salloc shell: warned");
  EXPECT(dc_launch_unlaunched(&e, 4, msg, sizeof msg) == 0, "4 ranks: some launcher did start us");
  char *srun[] = {"SLURM_JOB_ID=99", "SLURM_STEP_ID=1", "SLURM_PROCID=0", NULL};
  e = parse(srun);
  EXPECT(dc_launch_unlaunched(&e, 1, msg, sizeof msg) == 0 && msg[0] == '\0', "srun -n 1: fine");
  char *mpirun[] = {"SLURM_JOB_ID=99", "SLURM_PROCID=0", "OMPI_COMM_WORLD_SIZE=1", NULL};
  e = parse(mpirun);
  EXPECT(dc_launch_unlaunched(&e, 1, msg, sizeof msg) == 0, "mpirun -np 1 in a job: fine");
  char *pmix[] = {"SLURM_JOB_ID=99", "PMIX_RANK=0", NULL};
  e = parse(pmix);
  EXPECT(dc_launch_unlaunched(&e, 1, msg, sizeof msg) == 0, "a PMIx launcher: fine");
  char *pmi[] = {"SLURM_JOB_ID=99", "PMI_SIZE=1", NULL};
  e = parse(pmi);
  EXPECT(dc_launch_unlaunched(&e, 1, msg, sizeof msg) == 0, "a PMI launcher: fine");
  char *workstation[] = {"HOME=/home/u", NULL};
  e = parse(workstation);
  EXPECT(dc_launch_unlaunched(&e, 1, msg, sizeof msg) == 0, "no Slurm: a lone process is fine");
}

static void test_world_size(void) {
  char msg[512];
  /* srun with an MPI plugin the library does not speak: 4 tasks, each a world of 1 */
  char *srun[] = {"SLURM_JOB_ID=5", "SLURM_STEP_ID=0", "SLURM_STEP_NUM_TASKS=4", "SLURM_LOCALID=2", NULL};
  struct dc_launch_env e = parse(srun);
  EXPECT(e.announced_size == 4 && strcmp(e.size_source, "SLURM_STEP_NUM_TASKS") == 0, "srun's task count");
  EXPECT(dc_launch_size_mismatch(&e, 1, msg, sizeof msg) == 1, "4 tasks, world of 1: refused");
  EXPECT(strstr(msg, "SLURM_STEP_NUM_TASKS=4 processes were started but MPI sees a world of 1") &&
             strstr(msg, "--mpi=pmi2"),
         "message: '%s'", msg);
  EXPECT(dc_launch_size_mismatch(&e, 4, msg, sizeof msg) == 0 && msg[0] == '\0', "4 tasks, world of 4");
  /* Open MPI's mpirun: its own count wins over an enclosing srun step's */
  char *ompi[] = {"SLURM_JOB_ID=5", "SLURM_STEP_ID=0", "SLURM_STEP_NUM_TASKS=1", "OMPI_COMM_WORLD_SIZE=8", NULL};
  e = parse(ompi);
  EXPECT(e.announced_size == 8 && dc_launch_size_mismatch(&e, 8, msg, sizeof msg) == 0, "mpirun -np 8 in a step");
  EXPECT(dc_launch_size_mismatch(&e, 1, msg, sizeof msg) == 1, "mpirun -np 8, world of 1");
  /* another MPI's launcher (Hydra): PMI_SIZE */
  char *hydra[] = {"PMI_SIZE=2", "PMI_RANK=0", NULL};
  e = parse(hydra);
  EXPECT(e.announced_size == 2 && dc_launch_size_mismatch(&e, 1, msg, sizeof msg) == 1, "Hydra, world of 1");
  /* the batch shell's own variables, nothing, or garbage: no claim */
  char *batch[] = {"SLURM_JOB_ID=5", "SLURM_STEP_ID=4294967291", "SLURM_STEP_NUM_TASKS=1", "SLURM_NTASKS=8", NULL};
  e = parse(batch);
  EXPECT(e.announced_size == -1 && dc_launch_size_mismatch(&e, 1, msg, sizeof msg) == 0, "batch shell");
  char *none[] = {NULL};
  e = parse(none);
  EXPECT(e.announced_size == -1 && !e.size_source && dc_launch_size_mismatch(&e, 3, msg, sizeof msg) == 0,
         "no launcher");
  char *bad[] = {"OMPI_COMM_WORLD_SIZE=lots", NULL};
  e = parse(bad);
  EXPECT(e.announced_size == -1 && dc_launch_size_mismatch(&e, 2, msg, sizeof msg) == 0, "unparsable size");
}

int main(void) {
  test_launchers();
  test_local_rank();
  test_gpus();
  test_unlaunched();
  test_world_size();
  printf("test_launch: %d failure(s)\n", g_fails);
  return g_fails ? 1 : 0;
}
