/* Private to libscore: the C side of error reporting. Not installed. */
#ifndef SCORE_ABI_INTERNAL_H
#define SCORE_ABI_INTERNAL_H

/* Stores msg (copied, truncated to 1023 bytes) as this thread's last error. */
void scoreabi_set_last_error(const char *msg);

#endif
