/* Re-selecting OpenBLAS's kernels at run time.
 *
 * A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels once, when it is
 * loaded, from a table of CPUs it knows. Debian 12's 0.3.21 does not know
 * Sapphire/Emerald Rapids (it picks Prescott: SSE3, ~5x slower) nor Zen 5
 * (Haswell: AVX2, ~1.7x slower than its AVX-512 kernels there). The choice
 * is made before any of our code runs, so we undo it: the same two entry
 * points OpenBLAS itself uses at start-up and exit, with OPENBLAS_CORETYPE
 * set to the core we chose. They are weak references: an OpenBLAS built
 * without DYNAMIC_ARCH lacks them, and we report that instead. */
#include "score_kernels.h"

#include <stdlib.h>
#include <string.h>

extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

int scorek_openblas_force_core(const char *core) {
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || !core) return 0;
    const char *set = getenv("OPENBLAS_CORETYPE");
    char previous[64] = {0};
    int had_previous = set != NULL && strlen(set) < sizeof previous;
    if (had_previous) strcpy(previous, set);
    setenv("OPENBLAS_CORETYPE", core, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    /* Child processes (verifiers, tools) keep seeing what the user set. */
    if (had_previous) setenv("OPENBLAS_CORETYPE", previous, 1);
    else unsetenv("OPENBLAS_CORETYPE");
    return 1;
}
