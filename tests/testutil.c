#include "testutil.h"
int testutil_placeholder;
