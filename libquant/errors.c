/* Names and messages of lq_status codes. */
#include "quant.h"

typedef struct status_text {
    int status;
    const char *name;
    const char *message;
} status_text;

static const status_text status_texts[] = {
    {LQ_OK, "LQ_OK", "success"},
    {LQ_ERR_INVALID_ARGUMENT, "LQ_ERR_INVALID_ARGUMENT", "invalid argument"},
    {LQ_ERR_UNKNOWN_TYPE, "LQ_ERR_UNKNOWN_TYPE", "unknown type"},
    {LQ_ERR_UNSUPPORTED, "LQ_ERR_UNSUPPORTED",
     "operation not supported for this type"},
    {LQ_ERR_BAD_SHAPE, "LQ_ERR_BAD_SHAPE",
     "row length not a multiple of the block size, or row count not a "
     "multiple of the interleave factor"},
    {LQ_ERR_DST_TOO_SMALL, "LQ_ERR_DST_TOO_SMALL", "output buffer too small"},
    {LQ_ERR_SRC_TOO_SMALL, "LQ_ERR_SRC_TOO_SMALL", "input buffer too small"},
    {LQ_ERR_NONFINITE, "LQ_ERR_NONFINITE", "NaN or Inf in the input"},
    {LQ_ERR_NO_MEMORY, "LQ_ERR_NO_MEMORY", "out of memory"},
    {LQ_ERR_IO, "LQ_ERR_IO", "input/output error"},
    {LQ_ERR_FORMAT, "LQ_ERR_FORMAT", "malformed file"},
    {LQ_ERR_OVERFLOW, "LQ_ERR_OVERFLOW", "size overflow"},
    {LQ_ERR_NOT_FOUND, "LQ_ERR_NOT_FOUND", "not found"},
};

static const status_text *find_status(int status) {
    for (size_t i = 0; i < sizeof status_texts / sizeof status_texts[0]; i++)
        if (status_texts[i].status == status)
            return &status_texts[i];
    return NULL;
}

const char *lq_error_name(int status) {
    const status_text *t = find_status(status);
    return t ? t->name : "LQ_ERR_UNKNOWN_STATUS";
}

const char *lq_error_message(int status) {
    const status_text *t = find_status(status);
    return t ? t->message : "unknown status code";
}
