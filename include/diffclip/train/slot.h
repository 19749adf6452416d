/* The slot: one job's share of wall time, and the requests that end it early. Every stage
 * (pretraining, fine-tuning, evaluation, the bench around them) polls the same state at its
 * own boundaries (a step, an epoch, a batch), so a stop asked for anywhere is honoured
 * everywhere, and the ranks agree on it before they act.
 *
 * Signals (the handlers only set flags): SIGUSR1 asks for a checkpoint and training goes
 * on; SIGUSR2, SIGTERM and SIGINT ask every stage to stop at its next boundary (pretraining
 * writes a checkpoint first) and the job to exit with 85, so that it is requeued and
 * resumes. The wall-time limit (pretrain.max_wall_s) counts from the start of the process;
 * a stage stops when what it needs to finish its next piece and save (measured from its
 * own pieces, see dc_slot_must_stop) would not fit any more. */
#ifndef DIFFCLIP_SLOT_H
#define DIFFCLIP_SLOT_H

#include "diffclip/dist/dist.h"

/* Installs the handlers (idempotent). The training verbs call it before their work. */
void dc_signals_install(void);
/* Forgets pending requests and restarts the slot clock: for tests that run several slots
 * in one process. */
void dc_signals_clear(void);
/* *checkpoint: SIGUSR1 seen (cleared by this call); *stop: a stop signal seen (it stays). */
void dc_signals_take(int *checkpoint, int *stop);
/* Seconds since the process started (or since dc_signals_clear). */
double dc_slot_elapsed_s(void);
/* This rank alone, no communication: 1 when a stop signal is pending, or when
 * max_wall_s > 0 and fewer than need_s seconds are left of it; *why (may be NULL) gets
 * "signal" or "wall-time limit". */
int dc_slot_must_stop(int max_wall_s, double need_s, const char **why);
/* The room a stage keeps before the limit for its next piece (a step with its checkpoint,
 * an epoch, a batch) that took up to piece_s seconds so far: half as much again, plus
 * 0.25 s to exit. The need_s to pass to dc_slot_must_stop. */
double dc_slot_need(double piece_s);
/* The same decided by all ranks together (collective): 1 on every rank when any rank says
 * stop. */
int dc_slot_must_stop_all(const struct dc_dist *d, int max_wall_s, double need_s, const char **why);

#endif
