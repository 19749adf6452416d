/* Small file-system helpers shared by the run folders of every stage. */
#ifndef DIFFCLIP_FSUTIL_H
#define DIFFCLIP_FSUTIL_H

/* mkdir -p: creates path and its missing parents (mode 0775); 0 on success, -1 with errno. */
int dc_mkdir_p(const char *path);
/* Monotonic seconds. */
double dc_now_s(void);

#endif
