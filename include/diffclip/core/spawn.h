/* Running a program that sits next to this executable (diffclip-prepare beside diffclip):
 * the serial ingestion program is a process of its own, since it links the serial HDF5. */
#ifndef DIFFCLIP_SPAWN_H
#define DIFFCLIP_SPAWN_H

/* Runs "<folder of this executable>/<program>" with args[0..n-1] after its name, waits,
 * and returns its exit code; -1 (with a message naming `who`) when it is missing, cannot
 * start or was killed. */
int dc_run_sibling(const char *who, const char *program, const char *const *args, int n);

#endif
