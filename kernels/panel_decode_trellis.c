/*
 * Scalar decoders of the trellis types (iq1_kt .. iq4_kt) into the packed
 * compute layout (panel.h), the specification of the SIMD ones. A trellis
 * weight is the row scale times a block scale times a generated integer in
 * [-126, 126] (libquant/trellis_gen.h), so the integers are the levels and
 * d * block scale, per 32 weights, the scales of both 16-groups; there
 * are no offsets. The codec itself generates the values.
 */
#include "common.h"
#include "panel.h"
#include "trellis_internal.h"

static void decode_kt(int type, const uint8_t *row, int64_t chunk, lq_panel_chunk *out) {
    const float d = lq_load_f32(row);
    float block_scale[LQ_PANEL_K / 32];
    lq_kt_levels(type, row + 4 + chunk * lq_kt_super_block_bytes(type), out->level, block_scale);
    for (int g = 0; g < LQ_PANEL_GROUPS; g++) {
        out->scale[g] = d * block_scale[g / 2];
        out->offset[g] = 0.0f;
    }
}

/* trellis rows are whole super-blocks: count is always LQ_PANEL_K */
#define KT_DECODER(name, type)                                                       \
    static void decode_##name(const uint8_t *row, int64_t chunk, int count,          \
                              lq_panel_chunk *out) {                                 \
        decode_kt(type, row, chunk, out);                                            \
        (void)count;                                                                 \
    }

KT_DECODER(iq1_kt, LQ_TYPE_IQ1_KT)
KT_DECODER(iq2_kt, LQ_TYPE_IQ2_KT)
KT_DECODER(iq3_kt, LQ_TYPE_IQ3_KT)
KT_DECODER(iq4_kt, LQ_TYPE_IQ4_KT)

const lq_panel_decoder lq_panel_decoders_trellis[] = {
    {LQ_TYPE_IQ1_KT, false, decode_iq1_kt},
    {LQ_TYPE_IQ2_KT, false, decode_iq2_kt},
    {LQ_TYPE_IQ3_KT, false, decode_iq3_kt},
    {LQ_TYPE_IQ4_KT, false, decode_iq4_kt},
};
const int lq_panel_decoders_trellis_count =
    (int)(sizeof lq_panel_decoders_trellis / sizeof lq_panel_decoders_trellis[0]);
