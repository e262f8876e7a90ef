#ifndef SCORE_CBLAS_SHIM_H
#define SCORE_CBLAS_SHIM_H
#include <cblas.h>
#endif
