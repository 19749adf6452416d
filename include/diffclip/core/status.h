/* Status codes, rank-tagged logging and the one family of check macros.
 *
 * Library functions return an enum dc_status; they never exit. The command turns a fatal
 * status into one message and MPI_Abort, so no rank is ever left waiting on another. */
#ifndef DIFFCLIP_STATUS_H
#define DIFFCLIP_STATUS_H

#include <stdarg.h>
#include <stddef.h>

enum dc_status {
  DC_OK = 0,
  DC_STOPPED,     /* not an error: a stop request (signal, wall-time limit) was honoured at a
                   * boundary; the job exits with 85 and resumes when rerun. Below every
                   * error, so dc_dist_agree lets a real error win over it. */
  DC_ERR_ARG,     /* bad argument or configuration value */
  DC_ERR_IO,      /* file missing, unreadable, malformed */
  DC_ERR_NOMEM,   /* allocation failed */
  DC_ERR_NUMERIC, /* NaN / Inf where a number was required */
  DC_ERR_MPI,     /* an MPI call failed */
  DC_ERR_HDF5,    /* an HDF5 call failed */
  DC_ERR_BACKEND, /* a compute backend call failed */
  DC_ERR_INTERNAL /* a broken invariant: a bug */
};

enum dc_log_level { DC_LOG_ERROR = 0, DC_LOG_WARN, DC_LOG_INFO, DC_LOG_DEBUG };

const char *dc_status_name(enum dc_status s);

/* Rank tag for log lines; set once by the MPI context (-1 = not under MPI). */
void dc_log_set_rank(int rank, int all_ranks_print);
void dc_log_set_level(enum dc_log_level level);
/* DIFFCLIP_LOG_LEVEL=debug: the debug level from the first line on (errors then carry their
 * place in the source), kept whatever the configuration's run.log_level says. */
void dc_log_level_from_env(void);
void dc_log_set_all_ranks(int all_ranks_print);
/* This rank leads a group of ranks working on its own (a bench's fine-tuning group): it
 * prints info lines too, with its rank in front. */
void dc_log_set_leader(int leader);
void dc_log(enum dc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* An error: "[rank r] error: message"; at the debug log level with its origin in the
 * source, "[rank r] error: [file:line] message". Returns `s`. */
enum dc_status dc_error_at(enum dc_status s, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define DC_ERROR(status, ...) dc_error_at((status), __FILE__, __LINE__, __VA_ARGS__)
/* The message of this thread's last dc_error_at (without the "error: file:line: " prefix),
 * "" when none yet: for tests and for callers that report an error in their own words. */
const char *dc_last_error(void);

/* The generic check: evaluate `call`, and when `failed` holds for its value, log the call
 * text and return `status` from the enclosing function. Every other check is built on it. */
#define DC_CHECK_GENERIC(type, call, failed_expr, status, what)                              \
  do {                                                                                        \
    type dc_rc_ = (call);                                                                     \
    if (failed_expr) {                                                                        \
      return dc_error_at((status), __FILE__, __LINE__, "%s failed (%s = %ld)", #call, what,   \
                         (long)dc_rc_);                                                       \
    }                                                                                         \
  } while (0)

/* Propagate a dc_status with a trace line. */
#define DC_TRY(call)                                                                          \
  do {                                                                                        \
    enum dc_status dc_st_ = (call);                                                           \
    if (dc_st_ != DC_OK) {                                                                    \
      dc_log(DC_LOG_DEBUG, "  from %s:%d: %s", __FILE__, __LINE__, #call);                   \
      return dc_st_;                                                                          \
    }                                                                                         \
  } while (0)

#define DC_CHECK_MPI(call) DC_CHECK_GENERIC(int, call, dc_rc_ != 0, DC_ERR_MPI, "MPI error")
#define DC_CHECK_HDF5(call) DC_CHECK_GENERIC(long, (long)(call), dc_rc_ < 0, DC_ERR_HDF5, "HDF5 status")
#define DC_CHECK_ALLOC(ptr)                                                                   \
  do {                                                                                        \
    if ((ptr) == NULL) return DC_ERROR(DC_ERR_NOMEM, "out of memory: %s", #ptr);             \
  } while (0)

#endif
