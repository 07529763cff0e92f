/* Helpers shared by the Check tests. */
#ifndef QUANT_TESTUTIL_H
#define QUANT_TESTUTIL_H
#endif
