/*
 * sock: the socket code every TCP link of the project shares, the daemons'
 * (net/conn.c) and the client's (client/cconn.c): resolving host:port,
 * making a non-blocking stream socket with the link options, starting a
 * connect and reading its outcome (SO_ERROR), reading with the kernel's
 * receive stamp, and flushing a link's queued output with partial writes.
 *
 * Plain functions over a file descriptor and a struct link: no libev, no
 * state, no logging; the callers own the event loop, the timeouts and what
 * an error means for their connection.
 */
#ifndef MIX_NET_SOCK_H
#define MIX_NET_SOCK_H

#include <sys/socket.h>
#include <sys/types.h>

#include "common.h"
#include "link.h"

/*
 * Resolve hostport ("host:port" or "[v6]:port", numeric port) to its first
 * address.  passive: an address to listen on (port 0 allowed, the kernel
 * picks one); otherwise one to dial (port 0 refused).  0, or -1 with err set
 * ("bad address ..." or "cannot resolve ...").
 */
int sock_resolve(const char *hostport, bool passive, struct sockaddr_storage *ss, socklen_t *len,
                 char *err, size_t errlen) MIX_WUR;

/*
 * The options of every link socket: TCP_NODELAY (without it Nagle holds a
 * packet until the previous one is acknowledged, so packets would leave on
 * the peer's ACKs rather than on their own schedule) and SO_TIMESTAMPNS (for
 * sock_read_stamped()).  0, or -1 with errno if TCP_NODELAY cannot be set.
 */
int sock_options(int fd) MIX_WUR;

/* A non-blocking, close-on-exec stream socket with sock_options().  -1 with errno on failure. */
int sock_stream(int family) MIX_WUR;

/*
 * Start a non-blocking connect of fd (from sock_stream()).  0 if it completed
 * or is in progress (wait for fd to be writable, then sock_connect_result()),
 * -1 with errno if it failed at once.
 */
int sock_connect(int fd, const struct sockaddr_storage *ss, socklen_t len) MIX_WUR;

/* Once fd is writable after sock_connect(): 0 if connected, else the error (SO_ERROR or errno). */
int sock_connect_result(int fd) MIX_WUR;

/* CLOCK_MONOTONIC in microseconds: the clock of sock_read_stamped(). */
uint64_t sock_mono_us(void);

/*
 * recv() that also takes the kernel's receive time of the data
 * (SO_TIMESTAMPNS: of the last segment the read reached) into *rx_us on the
 * sock_mono_us() clock, so that a packet's hold can count from when it really
 * arrived, not from when the thread got round to reading it.  No stamp: now.
 * As recv(): bytes read, 0 at end of stream, -1 with errno.
 */
ssize_t sock_read_stamped(int fd, uint8_t *buf, size_t cap, uint64_t *rx_us) MIX_WUR;

/*
 * Write what the link has queued for fd until it is all written or the
 * socket buffer is full (partial writes consume what was taken).  The bytes
 * written (0 when the buffer was already full), or -1 with errno if the
 * socket failed.  link_output_pending() tells the caller whether to wait for
 * the socket to become writable.
 */
ssize_t sock_flush_link(int fd, struct link *l) MIX_WUR;

#endif
