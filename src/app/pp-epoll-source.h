/* SPDX-License-Identifier: MIT
 *
 * pp-epoll-source: many TCP sockets behind one GLib fd source.
 *
 * GLib polls every source on every iteration, which costs ≈1.3 ms at 9,000
 * fds; this source keeps all our TCP sockets in one epoll set and shows GLib
 * only the epoll fd, so an iteration costs what the *ready* sockets cost.
 * It is level-triggered, hands out raw fds and never reads, writes, closes or
 * allocates per event: what to do with a ready fd is the caller's business.
 * Linux only for now; another OS gets another implementation of this header.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#ifdef __linux__
#include <sys/epoll.h>
#else
/* Same bit values as Linux, so callers can be written once. */
#define EPOLLIN 0x001u
#define EPOLLPRI 0x002u
#define EPOLLOUT 0x004u
#define EPOLLERR 0x008u
#define EPOLLHUP 0x010u
#define EPOLLRDHUP 0x2000u
#endif

G_BEGIN_DECLS

/* Events handled per dispatch before other sources get their turn. */
#define PP_EPOLL_BATCH 256

/* A GSource wrapping one epoll fd (g_source_add_unix_fd on it). */
typedef struct _PpEpoll PpEpoll;
/* One fd's registration. */
typedef struct _PpEpollWatch PpEpollWatch;

/* @revents: EPOLLIN/OUT/ERR/HUP/RDHUP bits, already masked by the watch's
 * current events (ERR and HUP always pass).  The callback may unwatch @w
 * (after which it must not touch @w), any other watch, or free the PpEpoll. */
typedef void (*PpEpollFunc) (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data);

/* Attached to @context (NULL = thread default) at G_PRIORITY_DEFAULT. */
PpEpoll *pp_epoll_new (GMainContext *context, GError **error);
/* Removes every watch (does not close their fds) and destroys the source.
 * Safe from inside a callback: no further callback runs. */
void pp_epoll_free (PpEpoll *ep);

/* Registers @fd for @events (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLPRI; 0 is
 * allowed and means "paused").  Fails if @fd is already watched by @ep or
 * cannot be polled.  Unwatch before closing @fd. */
PpEpollWatch *pp_epoll_watch (PpEpoll *ep, int fd, uint32_t events, PpEpollFunc func,
                              gpointer user_data, GError **error);
/* E.g. drop EPOLLIN to pause reads; no syscall if unchanged.  With 0 the fd
 * leaves the epoll set, so a hung-up peer cannot make a paused watch spin;
 * ERR/HUP then wait until events are set again.  Takes effect at once, also
 * for events already fetched in the current batch. */
void pp_epoll_watch_set_events (PpEpollWatch *w, uint32_t events);
uint32_t pp_epoll_watch_get_events (PpEpollWatch *w);
int pp_epoll_watch_get_fd (PpEpollWatch *w);
/* Frees @w at once.  Safe from inside any callback, also for a watch whose
 * event is pending in the same batch: its callback will not run. */
void pp_epoll_unwatch (PpEpollWatch *w);
guint pp_epoll_count (PpEpoll *ep);

G_END_DECLS
