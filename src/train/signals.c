/* The slot (see slot.h): signal flags set by async-signal-safe handlers, and the clock of
 * the process's wall time. */
#include <signal.h>
#include <string.h>

#include "diffclip/core/fsutil.h"
#include "diffclip/train/slot.h"

static volatile sig_atomic_t g_checkpoint = 0, g_stop = 0;
static int g_installed = 0;
static double g_start = -1;

/* the clock starts when the program is loaded, before MPI and before the data */
__attribute__((constructor)) static void slot_clock_start(void) { g_start = dc_now_s(); }

static void on_signal(int sig) {
  if (sig == SIGUSR1)
    g_checkpoint = 1;
  else
    g_stop = 1;
}

void dc_signals_install(void) {
  if (g_installed) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  g_installed = 1;
}

void dc_signals_clear(void) {
  g_checkpoint = g_stop = 0;
  g_start = dc_now_s();
}

void dc_signals_take(int *checkpoint, int *stop) {
  *checkpoint = g_checkpoint;
  *stop = g_stop;
  g_checkpoint = 0;
}

double dc_slot_elapsed_s(void) { return dc_now_s() - g_start; }

double dc_slot_need(double piece_s) { return 1.5 * piece_s + 0.25; }

int dc_slot_must_stop(int max_wall_s, double need_s, const char **why) {
  const char *w = g_stop ? "signal" : max_wall_s > 0 && dc_slot_elapsed_s() + need_s > max_wall_s ? "wall-time limit" : NULL;
  if (why) *why = w;
  return w != NULL;
}

int dc_slot_must_stop_all(const struct dc_dist *d, int max_wall_s, double need_s, const char **why) {
  const char *w;
  int mine[2] = {dc_slot_must_stop(max_wall_s, need_s, &w), w && strcmp(w, "signal") == 0}, all[2] = {mine[0], mine[1]};
  if (d->size > 1) MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, d->comm);
  if (why) *why = all[1] ? "signal" : all[0] ? "wall-time limit" : NULL;
  return all[0];
}
