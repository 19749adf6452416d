/* diffclip: the command. (Skeleton; verbs arrive with the model.) */
#include <stdio.h>

int main(void) {
  puts("diffclip " DIFFCLIP_VERSION);
  return 0;
}
