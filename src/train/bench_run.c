/* `diffclip bench` (see bench_run.h). */
#include "diffclip/train/bench_run.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diffclip/train/data_source.h"
#include "diffclip/core/fsutil.h"
#include "diffclip/core/spawn.h"
#include "diffclip/train/finetune_run.h"
#include "diffclip/train/pretrain_run.h"
#include "diffclip/report/report.h"
#include "diffclip/io/result.h"
#include "diffclip/io/checkpoint.h"
#include "diffclip/io/h5util.h"
#include "diffclip/backend/backend.h"
#include "diffclip/dist/dist.h"

#define DC_BENCH_MAX_RUNS 64 /* pretraining runs per entry with bench.pretrain = "per_run" */

/* A folder name from an entry's data.name or its file name: letters, digits, . _ - only. */
static void entry_name(const struct dc_config *c, const char *file, char *out, size_t cap) {
  const char *src = c->data.name[0] ? c->data.name : file;
  if (!c->data.name[0]) {
    const char *slash = strrchr(file, '/');
    src = slash ? slash + 1 : file;
  }
  size_t n = 0;
  for (const char *p = src; *p && n + 1 < cap && strcmp(p, ".cfg") != 0; p++)
    out[n++] = (isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-') ? *p : '_';
  out[n] = '\0';
  if (strcmp(c->data.name, "mrnet") == 0 || dc_config_is_exams(c)) { /* each task of an exam store its own */
    static const char *const tasks[] = {"abnormal", "acl", "meniscus"}; /* DC_DATA_TASK_CHOICES */
    snprintf(out + n, cap - n, "_%s", tasks[c->data.task]);
    n = strlen(out);
  }
  if (c->data.study[0]) { /* a study row gets its own folder */
    snprintf(out + n, cap - n, "__");
    n = strlen(out);
    for (const char *p = c->data.study; *p && n + 1 < cap; p++)
      out[n++] = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '_';
    out[n] = '\0';
  }
}

static void host_description(char *out, size_t cap, int ranks) {
  char model[160] = "unknown CPU", line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "model name", 10) == 0) {
      char *colon = strchr(line, ':');
      if (colon) snprintf(model, sizeof model, "%s", colon + 2);
      model[strcspn(model, "\n")] = '\0';
      break;
    }
  if (f) fclose(f);
  char host[128] = "";
  gethostname(host, sizeof host - 1);
  snprintf(out, cap, "%s, %ld cores, host %s, %d MPI rank(s), CPU backend", model, sysconf(_SC_NPROCESSORS_ONLN), host,
           ranks);
}

/* The program's build: compiler, BLAS, MPI, HDF5, CUDA (report provenance). */
static void build_description(char *out, size_t cap) {
  char be[256], dist[200], h5[64];
  dc_backend_library_info(be, sizeof be);
  dc_dist_library_info(dist, sizeof dist);
  dc_h5_library_info(h5, sizeof h5);
#if defined(__clang__)
  const char *cc = "Clang " __clang_version__;
#elif defined(__GNUC__)
  const char *cc = "GCC " __VERSION__;
#else
  const char *cc = "(unknown)";
#endif
  snprintf(out, cap, "diffclip %s (%s), C compiler %s; %s; %s; %s", DIFFCLIP_VERSION, DIFFCLIP_GIT_COMMIT, cc, be, dist, h5);
}

/* A missing scene whose raw files are there (data.raw_dir, data.manifest) is prepared by
 * rank 0 with diffclip-prepare, as `diffclip prepare` would; every rank waits for it. A
 * failed preparation leaves the entry to be skipped with the reason. */
static void maybe_prepare(const struct dc_dist *d, const struct dc_config *c) {
  const struct dc_config_data *dd = &c->data;
  int want = dd->synthetic == DC_DATA_SYNTHETIC_NONE && dd->scene[0] && dd->manifest[0] && dd->raw_dir[0] &&
             access(dd->scene, F_OK) != 0 && access(dd->raw_dir, R_OK | X_OK) == 0;
  if (!want) return; /* the same answer on every rank of a shared file system */
  enum dc_status st = DC_OK;
  if (d->rank == 0) {
    dc_log(DC_LOG_INFO, "bench: preparing %s from %s (manifest %s)", dd->scene, dd->raw_dir, dd->manifest);
    const char *args[] = {"--manifest", dd->manifest, "--raw", dd->raw_dir, "--out", dd->scene};
    int code = dc_run_sibling("diffclip bench", "diffclip-prepare", args, 6);
    if (code != 0) {
      dc_log(DC_LOG_WARN, "bench: preparing %s failed (exit code %d, messages above)", dd->scene, code);
      st = DC_ERR_IO;
    }
  }
  dc_dist_agree(d, st);
}

/* The reason an entry cannot run, or "" when it can. */
static void skip_reason(const struct dc_config *c, char *why, size_t cap) {
  why[0] = '\0';
  if (c->data.synthetic != DC_DATA_SYNTHETIC_NONE) return;
  if (!c->data.scene[0]) {
    snprintf(why, cap, "no data.scene is configured");
  } else if (access(c->data.scene, R_OK) != 0 && c->data.manifest[0] && c->data.raw_dir[0] &&
             access(c->data.raw_dir, R_OK | X_OK) != 0) {
    snprintf(why, cap, "the scene file %.300s is not there, nor the raw folder %.300s (data.raw_dir) to prepare it from "
             "with %.300s: download the raw files there (docs/data.md)", c->data.scene, c->data.raw_dir,
             c->data.manifest);
  } else if (access(c->data.scene, R_OK) != 0) {
    snprintf(why, cap, "the scene file %.300s is not there (%s): prepare it with `diffclip prepare` (docs/data.md)",
             c->data.scene, strerror(errno));
  } else if (strcmp(c->data.name, "mrnet") == 0 && !dc_config_is_exams(c)) {
    snprintf(why, cap, "%.300s is not an MRNet exam store (format \"diffclip-exams\"): prepare it with "
                       "`diffclip prepare --manifest data_manifests/mrnet.cfg` (docs/data.md)", c->data.scene);
  }
}

static enum dc_status write_text_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0) return DC_ERROR(DC_ERR_IO, "cannot write %s", path);
  return DC_OK;
}

/* Pretraining runs live in <bench>/pretrain/<identity>, shared by every entry whose
 * pretraining is the same (an ablation of the fine-tuning, a prompt variant, ...); the
 * entry's folder links to it as pretrain (per_run: pretrain_<r>). */
static enum dc_status shared_pretraining(const struct dc_dist *d, struct dc_config *pc, const char *dir,
                                         const char *link_name, int *exit_code) {
  char hex[DC_SHA256_HEX], link[1400], target[400];
  DC_TRY(dc_pretrain_identity(pc, hex));
  snprintf(pc->run.out_dir, sizeof pc->run.out_dir, "%.500s/pretrain", pc->bench.out_dir);
  snprintf(pc->run.name, sizeof pc->run.name, "%.16s", hex);
  DC_TRY(dc_pretrain_run(d, pc, exit_code));
  if (d->rank == 0) {
    snprintf(link, sizeof link, "%s/%s", dir, link_name);
    snprintf(target, sizeof target, "../pretrain/%.16s", hex); /* relative: the bench folder can move */
    unlink(link);
    if (dc_mkdir_p(dir) != 0 || symlink(target, link) != 0)
      dc_log(DC_LOG_WARN, "cannot link %s to %s: %s", link, target, strerror(errno));
  }
  return DC_OK;
}

/* One entry: pretraining (shared and reused when done), then every shot setting and run.
 * Its timings are the stored ones (each pretraining checkpoint's training seconds, each
 * result's fine-tuning and evaluation seconds), so they add up over every slot of a
 * requeued job, however it was cut. */
static enum dc_status run_entry(const struct dc_dist *d, struct dc_config *c, const char *dir,
                                struct dc_report_spec *spec, double t_bench, int *exit_code) {
  const struct dc_config_bench *b = &c->bench;
  char label[200], set[2300], pretrained[DC_BENCH_MAX_RUNS][2100];
  double pretrain_s = 0, stage2_s = 0;
  int per_run = b->pretrain == DC_BENCH_PRETRAIN_PER_RUN, n_pre = per_run ? b->runs : 1;
  if (n_pre > DC_BENCH_MAX_RUNS) return DC_ERROR(DC_ERR_ARG, "bench.runs = %d with per-run pretraining: at most %d",
                                                 b->runs, DC_BENCH_MAX_RUNS);
  for (int r = 0; r < n_pre; r++) {
    pretrained[r][0] = '\0';
    if (c->finetune.init == DC_FINETUNE_INIT_SCRATCH) continue; /* the no-pretraining ablation */
    struct dc_config pc = *c;
    char link_name[32];
    snprintf(link_name, sizeof link_name, per_run ? "pretrain_%d" : "pretrain", r);
    if (per_run) pc.run.seed = c->run.seed + r;
    DC_TRY(shared_pretraining(d, &pc, dir, link_name, exit_code));
    if (*exit_code != 0) return DC_OK; /* stopped early (85) or diverged (86): the caller reports it */
    DC_TRY(dc_finetune_find_pretrained(d, &pc, pretrained[r], sizeof pretrained[r]));
    struct dc_ckpt_state cs;
    if (d->rank == 0 && dc_ckpt_read_state(pretrained[r], &cs) == DC_OK) pretrain_s += cs.train_seconds;
  }
  snprintf(label, sizeof label, "pretrain %.80s", spec->datasets[spec->n_datasets - 1].name);
  dc_report_spec_add_timing(spec, label, pretrain_s);
  struct dc_data data;
  DC_TRY(dc_data_from_config(d, c, &data));
  /* the entry's runs (shot setting x run) spread over G groups of ranks: in round k, group
   * g does run k G + g (each run's result depends on neither) */
  int n_all = b->shots.n * b->runs, G = b->finetune_groups > 0 ? b->finetune_groups : d->size;
  if (G > d->size) G = d->size;
  if (G > n_all) G = n_all;
  int g = (int)((long)d->rank * G / d->size), rounds = (n_all + G - 1) / G;
  struct dc_dist sub = *d;
  if (G > 1) DC_TRY(dc_dist_split(d, g, &sub));
  if (G > 1 && d->rank == 0)
    dc_log(DC_LOG_INFO, "bench: %s: %d runs on %d groups of ranks at once (bench.finetune_groups; each group's first "
           "rank prints its run's lines)", spec->datasets[spec->n_datasets - 1].name, n_all, G);
  dc_log_set_leader(G > 1 && sub.rank == 0);
  enum dc_status st = DC_OK;
  double t_rounds = 0;
  int n_fresh = 0;
  for (int k = 0; k < rounds && st == DC_OK; k++) {
    int j = k * G + g, fresh = 0;
    double t_round = dc_now_s();
    char left[64] = "time left known after the first run", elapsed[32];
    if (n_fresh) {
      dc_format_hms(t_rounds / n_fresh * (rounds - k), left, sizeof left);
      strncat(left, " left for the entry", sizeof left - strlen(left) - 1);
    }
    dc_format_hms(dc_now_s() - t_bench, elapsed, sizeof elapsed);
    if (d->rank == 0) { /* the round's runs, one per group */
      char runs[512] = "", range[32], round[48] = "";
      int last = (k + 1) * G < n_all ? (k + 1) * G : n_all;
      for (int q = k * G; q < last; q++)
        snprintf(runs + strlen(runs), sizeof runs - strlen(runs), "%s%d-shot run %d", q > k * G ? ", " : "",
                 b->shots.v[q / b->runs], q % b->runs);
      if (last - k * G > 1) snprintf(range, sizeof range, "%d-%d", k * G + 1, last);
      else snprintf(range, sizeof range, "%d", last);
      if (G > 1) snprintf(round, sizeof round, "round %d of %d: ", k + 1, rounds);
      dc_log(DC_LOG_INFO, "bench: %s, %s%s: %s of %d in this entry (bench elapsed %s, %s)",
             spec->datasets[spec->n_datasets - 1].name, round, runs, range, n_all, elapsed, left);
    }
    if (j < n_all) {
      struct dc_config fc = *c;
      int r = j % b->runs;
      fc.finetune.shots = b->shots.v[j / b->runs];
      snprintf(set, sizeof set, "%s/shots_%d/run_%d", dir, fc.finetune.shots, r);
      struct dc_result res;
      int kept = 0;
      st = dc_finetune_resume(&sub, &fc, &data.samples, r, fc.finetune.shots, pretrained[per_run ? r : 0], set, 0, &res,
                              &kept);
      if (st == DC_OK && sub.rank == 0) {
        stage2_s += res.finetune_s + res.evaluate_s;
        dc_result_free(&res);
      }
      fresh = st == DC_OK && !kept;
    }
    /* a group's error or stop ends the round for every group */
    st = dc_dist_agree(d, st);
    if (d->size > 1) MPI_Allreduce(MPI_IN_PLACE, &fresh, 1, MPI_INT, MPI_MAX, d->comm);
    if (st == DC_OK && fresh) t_rounds += dc_now_s() - t_round, n_fresh++; /* the estimate: rounds that did work */
  }
  dc_log_set_leader(0);
  /* the fine-tuning seconds of every group's runs, on rank 0 (a group's rank 0 holds them) */
  if (G > 1 && st == DC_OK) {
    double mine = sub.rank == 0 ? stage2_s : 0, all = 0;
    MPI_Reduce(&mine, &all, 1, MPI_DOUBLE, MPI_SUM, 0, d->comm);
    stage2_s = all;
  }
  if (G > 1) dc_dist_split_free(&sub);
  snprintf(label, sizeof label, "fine-tune and evaluate %.80s", spec->datasets[spec->n_datasets - 1].name);
  dc_report_spec_add_timing(spec, label, stage2_s);
  dc_data_free(&data);
  if (st == DC_STOPPED) *exit_code = DC_EXIT_REQUEUE, st = DC_OK;
  return st;
}

/* An entry's configuration: the bench's, then the entry file, then the --set overrides;
 * the same on every rank (a file that differs between nodes is refused). */
static enum dc_status load_entry(const struct dc_dist *d, const struct dc_config *base, const char *file,
                                 const char *const *sets, int n_sets, struct dc_config *c) {
  *c = *base;
  enum dc_status st = dc_dist_agree(d, dc_config_apply_file(c, file, NULL));
  if (st == DC_OK) st = dc_dist_agree(d, dc_config_check(c, NULL));
  for (int k = 0; k < n_sets && st == DC_OK; k++) st = dc_config_apply_set(c, sets[k], NULL); /* --set wins */
  if (st != DC_OK) return st;
  c->bench = base->bench; /* an entry cannot redefine the bench itself */
  char *text = dc_config_text(c);
  st = dc_dist_agree(d, text ? DC_OK : DC_ERROR(DC_ERR_NOMEM, "the configuration text of %s", file));
  if (st == DC_OK)
    st = dc_dist_same_text(d, "configuration of a bench entry", text,
                           "every rank must read the same bench.datasets files (a file differs between nodes?)");
  free(text);
  return st;
}

enum dc_status dc_bench_run(const struct dc_dist *d, const char *config_file, const char *const *sets, int n_sets,
                            int *exit_code) {
  struct dc_config base;
  *exit_code = 1;
  DC_TRY(dc_dist_agree(d, dc_config_load(&base, config_file, sets, n_sets, NULL)));
  const struct dc_config_bench *b = &base.bench;
  if (b->datasets.n == 0)
    return DC_ERROR(DC_ERR_ARG, "%s: bench.datasets is empty: list the dataset configuration files to run",
                    config_file ? config_file : "(defaults)");
  if (b->shots.n > DC_REPORT_MAX_SHOTS || b->datasets.n > DC_REPORT_MAX_DATASETS)
    return DC_ERROR(DC_ERR_ARG, "bench: %d shot settings and %d datasets; the report takes at most %d and %d", b->shots.n,
                    b->datasets.n, DC_REPORT_MAX_SHOTS, DC_REPORT_MAX_DATASETS);
  struct dc_report_spec *spec = calloc(1, sizeof *spec);
  DC_CHECK_ALLOC(spec);
  dc_report_spec_init(spec);
  snprintf(spec->bench_dir, sizeof spec->bench_dir, "%s", b->out_dir);
  snprintf(spec->report_dir, sizeof spec->report_dir, "%s/report", b->out_dir);
  snprintf(spec->title, sizeof spec->title, "DiffCLIP benchmark: %.120s", base.run.name);
  spec->n_shots = b->shots.n;
  memcpy(spec->shots, b->shots.v, (size_t)b->shots.n * sizeof(int));
  spec->n_runs = b->runs;
  spec->ranks = d->size;
  snprintf(spec->git_commit, sizeof spec->git_commit, "%s", DIFFCLIP_GIT_COMMIT);
  DC_TRY(dc_config_sha256(&base, spec->config_sha256));
  host_description(spec->hardware, sizeof spec->hardware, d->size);
  build_description(spec->build, sizeof spec->build);
  if (d->rank == 0 && dc_mkdir_p(b->out_dir) != 0)
    dc_log(DC_LOG_WARN, "cannot create %s: %s", b->out_dir, strerror(errno));
  double t_all = dc_now_s();
  enum dc_status st = DC_OK;
  *exit_code = 0;
  dc_signals_install();
  /* every entry's folder name first: two entries of one name would share (and overwrite)
   * their folders, so they are refused before any work */
  static char names[DC_REPORT_MAX_DATASETS][64];
  for (int i = 0; i < b->datasets.n && st == DC_OK; i++) {
    struct dc_config c;
    st = load_entry(d, &base, b->datasets.v[i], sets, n_sets, &c);
    if (st != DC_OK) break;
    entry_name(&c, b->datasets.v[i], names[i], sizeof names[i]);
    for (int j = 0; j < i && st == DC_OK; j++)
      if (strcmp(names[i], names[j]) == 0)
        st = DC_ERROR(DC_ERR_ARG,
                      "bench.datasets: %s and %s both make the entry \"%s\" (from data.name, data.task and data.study): "
                      "give one of them another data.name or data.study",
                      b->datasets.v[j], b->datasets.v[i], names[i]);
  }
  st = dc_dist_agree(d, st);
  double t_entries = 0;
  int n_entries_run = 0;
  for (int i = 0; i < b->datasets.n && st == DC_OK && *exit_code == 0; i++) {
    struct dc_config c;
    const char *file = b->datasets.v[i];
    st = load_entry(d, &base, file, sets, n_sets, &c);
    if (st != DC_OK) break;
    char dir[1200], why[1200];
    const char *name = names[i];
    struct dc_report_dataset *e = dc_report_spec_add_dataset(spec, name);
    if (!e) {
      st = DC_ERR_ARG;
      break;
    }
    snprintf(e->display, sizeof e->display, "%.63s", c.data.name[0] ? c.data.name : name);
    snprintf(e->paper_key, sizeof e->paper_key, "%.63s", c.data.paper[0] ? c.data.paper : c.data.name);
    snprintf(e->study, sizeof e->study, "%.127s", c.data.study);
    snprintf(dir, sizeof dir, "%.1000s/%.63s", b->out_dir, name);
    maybe_prepare(d, &c);
    skip_reason(&c, why, sizeof why);
    if (why[0]) {
      e->skipped = 1;
      snprintf(e->skip_reason, sizeof e->skip_reason, "%s", why);
      dc_log(DC_LOG_WARN, "bench: skipping %s: %s", name, why);
      if (d->rank == 0 && dc_mkdir_p(dir) == 0) {
        char path[1300];
        snprintf(path, sizeof path, "%s/skipped.txt", dir);
        write_text_file(path, why);
      }
      continue;
    }
    if (c.data.synthetic != DC_DATA_SYNTHETIC_NONE)
      snprintf(e->checksum, sizeof e->checksum, "synthetic preset, seed %d", c.data.synthetic_seed);
    else if (d->rank == 0) {
      char hex[DC_SHA256_HEX];
      if (dc_sha256_file(c.data.scene, hex) == DC_OK) snprintf(e->checksum, sizeof e->checksum, "sha256 %s", hex);
    }
    /* the overall estimate: the pace of the entries this slot ran so far (entries differ in
     * size, so it is a rough figure until most of them are done) */
    char elapsed[32], left[96] = "overall time left known after the first entry";
    dc_format_hms(dc_now_s() - t_all, elapsed, sizeof elapsed);
    if (n_entries_run) {
      char hms[32];
      dc_format_hms(t_entries / n_entries_run * (b->datasets.n - i), hms, sizeof hms);
      snprintf(left, sizeof left, "about %s left for this and the %d entr%s after it", hms, b->datasets.n - i - 1,
               b->datasets.n - i - 1 == 1 ? "y" : "ies");
    }
    dc_log(DC_LOG_INFO, "bench: %s (%d of %d; elapsed %s, %s)", name, i + 1, b->datasets.n, elapsed, left);
    if (d->rank == 0) { /* the entry's resolved configuration, for the report */
      char path[1300];
      snprintf(path, sizeof path, "%s/config.cfg", dir);
      if (dc_mkdir_p(dir) != 0 || dc_config_write_resolved(&c, path) != DC_OK)
        dc_log(DC_LOG_WARN, "bench: %s not written: the report will lack %s's configuration", path, name);
    }
    double t_entry = dc_now_s();
    st = dc_dist_agree(d, run_entry(d, &c, dir, spec, t_all, exit_code));
    t_entries += dc_now_s() - t_entry, n_entries_run++;
  }
  /* the stages' stored costs, summed over every slot (this slot alone: the log) */
  double total = 0;
  for (int i = 0; i < spec->n_timings; i++) total += spec->timings[i].seconds;
  dc_report_spec_add_timing(spec, "bench total (the stages above summed over every slot)", total);
  dc_log(DC_LOG_INFO, "bench: this slot took %.1f s", dc_now_s() - t_all);
  if (st == DC_OK && *exit_code == DC_EXIT_REQUEUE)
    dc_log(DC_LOG_INFO, "bench: stopped for a requeue (exit code %d): run the same command again to continue; "
           "finished runs are kept", DC_EXIT_REQUEUE);
  if (st == DC_OK && *exit_code == 0 && d->rank == 0) {
    st = dc_report_write(spec);
    if (st == DC_OK) dc_log(DC_LOG_INFO, "report: %s/report.html", spec->report_dir);
  }
  free(spec);
  st = dc_dist_agree(d, st);
  if (st != DC_OK) *exit_code = 1;
  return st;
}
