/*
 * node_harness: an in-process mixnode (no sockets, no threads) for unit
 * tests and the fuzz target; see node_harness.c.
 */
#ifndef MIX_NODE_HARNESS_H
#define MIX_NODE_HARNESS_H

#include "common.h"
#include "sphinx.h"

struct node;
struct peer;
struct node_metrics;
struct inbox_store;

/* Peer kinds for node_harness_peer (enum peer_kind values). */
#define HARNESS_PEER_CLIENT 1
#define HARNESS_PEER_NODE 2
#define HARNESS_PEER_AUTHORITY 4

/* A gateway+provider node with its inbox store in dir and one Sphinx key (epoch 1). */
struct node *node_harness_new(const char *dir, const uint8_t sphinx_sk[static SPHINX_KEY_LEN]);
void node_harness_free(struct node *n);
const uint8_t *node_harness_id(const struct node *n);
struct node_metrics *node_harness_metrics(struct node *n);
struct inbox_store *node_harness_inbox(struct node *n);
/* The last frame the node would have written to a link (NULL if none). */
const uint8_t *node_harness_last_sent(const struct node *n, size_t *len);
/* A peer as the link layer would create it (a client: authorised by its key). */
struct peer *node_harness_peer(struct node *n, int kind, const uint8_t client_pk[static 32]);
void node_harness_peer_free(struct node *n, struct peer *p);

/* The daemon's frame handler (receive.c). */
bool node_handle_frame(struct node *n, struct peer *p, const uint8_t *frame, size_t len);

#endif
