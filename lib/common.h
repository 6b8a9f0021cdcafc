/*
 * Small shared definitions for libmix.  Every module includes this.
 */
#ifndef MIX_COMMON_H
#define MIX_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIX_WUR __attribute__((warn_unused_result))
#define MIX_UNUSED __attribute__((unused))
#define MIX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define MIX_VERSION "0.1.0"

/* Node identifiers are 32 bytes: BLAKE2b-256 of the node's Ed25519 identity key. */
#define MIX_NODE_ID_LEN 32

/* Big-endian helpers for wire formats. */
static inline void mix_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline uint16_t mix_get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline void mix_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint32_t mix_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void mix_put_be64(uint8_t *p, uint64_t v)
{
    mix_put_be32(p, (uint32_t)(v >> 32));
    mix_put_be32(p + 4, (uint32_t)v);
}
static inline uint64_t mix_get_be64(const uint8_t *p)
{
    return ((uint64_t)mix_get_be32(p) << 32) | mix_get_be32(p + 4);
}

#endif
