/* Small file-system helpers shared by the run folders of every stage. */
#ifndef DIFFCLIP_FSUTIL_H
#define DIFFCLIP_FSUTIL_H

#include <stddef.h>

/* mkdir -p: creates path and its missing parents (mode 0775); 0 on success, -1 with errno. */
int dc_mkdir_p(const char *path);
/* Monotonic seconds. */
double dc_now_s(void);
/* A duration as h:mm:ss ("0:00:05", "13:20:00"), with days beyond 24 h ("53d 04:00:00");
 * "?" when unknown (NaN, negative). */
void dc_format_hms(double seconds, char *out, size_t cap);
/* The local time of day, "HH:MM:SS", for progress lines. */
void dc_format_clock(char *out, size_t cap);

#endif
