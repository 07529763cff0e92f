/*
 * Non-linear value tables of the IQK family (facts of the format), shared by
 * iqk.c and iqk_ks.c.
 */
#ifndef LIBQUANT_IQK_TABLES_H
#define LIBQUANT_IQK_TABLES_H

#include <stdint.h>

#endif /* LIBQUANT_IQK_TABLES_H */
