/* Signal handling for batch jobs: the handlers only set flags; the training loop polls
 * them at step boundaries and the ranks agree on them before acting. */
#include <signal.h>
#include <string.h>

#include "diffclip/train/pretrain_run.h"

static volatile sig_atomic_t g_checkpoint = 0, g_stop = 0;

static void on_signal(int sig) {
  if (sig == SIGUSR1)
    g_checkpoint = 1;
  else
    g_stop = 1;
}

void dc_signals_install(void) {
  g_checkpoint = g_stop = 0; /* a new run starts with no request pending */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

void dc_signals_take(int *checkpoint, int *stop) {
  *checkpoint = g_checkpoint;
  *stop = g_stop;
  g_checkpoint = 0;
}
