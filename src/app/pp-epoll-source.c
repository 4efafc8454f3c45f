/* SPDX-License-Identifier: MIT
 *
 * pp-epoll-source: one GSource, one epoll fd, thousands of sockets.
 *
 * Each epoll registration carries a slot index and a generation, never a
 * pointer: unwatching bumps the slot's generation and frees the watch at
 * once, so an event fetched earlier in the same batch (or left behind by an
 * fd closed while still watched) finds a stale generation and is dropped.
 * This file must not read, write or close the fds it watches, and must not
 * allocate per event; the slot table only grows to the peak number of watches.
 */
#include "pp-epoll-source.h"

#ifndef __linux__
#error "pp-epoll-source.c is the Linux back-end; add one for this OS"
#endif

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#define PP_EPOLL_ALLOWED (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI)
#define PP_EPOLL_ALWAYS (EPOLLERR | EPOLLHUP)
#define PP_SLOT_NONE G_MAXUINT32

typedef struct
{
  PpEpollWatch *watch;  /* NULL when free */
  uint32_t gen;
  uint32_t next_free;
} PpEpollSlot;

struct _PpEpollWatch
{
  PpEpoll *ep;
  int fd;
  uint32_t events;
  uint32_t slot;
  PpEpollFunc func;
  gpointer user_data;
};

struct _PpEpoll
{
  GSource source;
  int epfd;
  gboolean full;        /* last batch was full: more is waiting, do not sleep */
  gboolean destroyed;   /* pp_epoll_free ran, maybe from a callback */
  guint count;
  PpEpollSlot *slots;
  uint32_t n_slots;
  uint32_t free_head;
  struct epoll_event batch[PP_EPOLL_BATCH];
};

static uint64_t
pp_epoll_key (uint32_t slot, uint32_t gen)
{
  return ((uint64_t) gen << 32) | slot;
}

static void
pp_epoll_grow (PpEpoll *ep)
{
  uint32_t old = ep->n_slots;
  uint32_t n = old ? old * 2 : 64;

  ep->slots = g_renew (PpEpollSlot, ep->slots, n);
  for (uint32_t i = old; i < n; i++)
    {
      ep->slots[i].watch = NULL;
      ep->slots[i].gen = 0;
      ep->slots[i].next_free = i + 1 < n ? i + 1 : ep->free_head;
    }
  ep->free_head = old;
  ep->n_slots = n;
}

static uint32_t
pp_epoll_slot_take (PpEpoll *ep, PpEpollWatch *w)
{
  if (ep->free_head == PP_SLOT_NONE)
    pp_epoll_grow (ep);

  uint32_t i = ep->free_head;
  ep->free_head = ep->slots[i].next_free;
  ep->slots[i].watch = w;
  ep->slots[i].next_free = PP_SLOT_NONE;
  return i;
}

static void
pp_epoll_slot_release (PpEpoll *ep, uint32_t i)
{
  ep->slots[i].watch = NULL;
  ep->slots[i].gen++;   /* invalidates every event already fetched for it */
  ep->slots[i].next_free = ep->free_head;
  ep->free_head = i;
}

static int
pp_epoll_ctl (PpEpollWatch *w, int op, uint32_t events)
{
  struct epoll_event ev = { 0 };

  ev.events = events;
  ev.data.u64 = pp_epoll_key (w->slot, w->ep->slots[w->slot].gen);
  return epoll_ctl (w->ep->epfd, op, w->fd, &ev);
}

static gboolean
pp_epoll_prepare (GSource *source, gint *timeout)
{
  PpEpoll *ep = (PpEpoll *) source;

  /* Level-triggered epoll keeps its fd readable anyway; this only spares
   * GLib a poll() when we already know more events are queued. */
  *timeout = ep->full ? 0 : -1;
  return ep->full;
}

static void
pp_epoll_deliver (PpEpoll *ep, const struct epoll_event *ev)
{
  uint32_t slot = (uint32_t) ev->data.u64;
  uint32_t gen = (uint32_t) (ev->data.u64 >> 32);

  if (slot >= ep->n_slots || ep->slots[slot].gen != gen)
    return;

  PpEpollWatch *w = ep->slots[slot].watch;
  if (w == NULL || w->events == 0)
    return;

  /* set_events may have run earlier in this batch: honour it now. */
  uint32_t revents = ev->events & (w->events | PP_EPOLL_ALWAYS);
  if (revents != 0)
    w->func (w, w->fd, revents, w->user_data);
}

static gboolean
pp_epoll_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  PpEpoll *ep = (PpEpoll *) source;
  int n = epoll_wait (ep->epfd, ep->batch, PP_EPOLL_BATCH, 0);

  if (n < 0)
    {
      if (errno != EINTR)
        g_warning ("epoll_wait: %s", g_strerror (errno));
      n = 0;
    }
  ep->full = (n == PP_EPOLL_BATCH);

  for (int i = 0; i < n && !ep->destroyed; i++)
    pp_epoll_deliver (ep, &ep->batch[i]);

  return G_SOURCE_CONTINUE;
}

static void
pp_epoll_finalize (GSource *source)
{
  PpEpoll *ep = (PpEpoll *) source;

  for (uint32_t i = 0; i < ep->n_slots; i++)
    g_free (ep->slots[i].watch);
  g_clear_pointer (&ep->slots, g_free);
  if (ep->epfd >= 0)
    close (ep->epfd);
  ep->epfd = -1;
}

static GSourceFuncs pp_epoll_funcs = {
  .prepare = pp_epoll_prepare,
  .check = NULL,        /* GLib then checks the epoll fd's revents itself */
  .dispatch = pp_epoll_dispatch,
  .finalize = pp_epoll_finalize,
};

PpEpoll *
pp_epoll_new (GMainContext *context, GError **error)
{
  int epfd = epoll_create1 (EPOLL_CLOEXEC);

  if (epfd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "epoll_create1: %s",
                   g_strerror (errsv));
      return NULL;
    }

  GSource *source = g_source_new (&pp_epoll_funcs, sizeof (PpEpoll));
  PpEpoll *ep = (PpEpoll *) source;
  ep->epfd = epfd;
  ep->free_head = PP_SLOT_NONE;
  g_source_set_static_name (source, "pp-epoll");
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_add_unix_fd (source, epfd, G_IO_IN);
  g_source_attach (source, context);
  return ep;
}

void
pp_epoll_free (PpEpoll *ep)
{
  if (ep == NULL)
    return;

  /* Watches go now, so callers' user_data may die; the slot table and the
   * epoll fd stay until finalize, after a dispatch in progress returns. */
  for (uint32_t i = 0; i < ep->n_slots; i++)
    {
      if (ep->slots[i].watch == NULL)
        continue;
      g_free (ep->slots[i].watch);
      pp_epoll_slot_release (ep, i);
    }
  ep->count = 0;
  ep->destroyed = TRUE;
  g_source_destroy (&ep->source);
  g_source_unref (&ep->source);
}

PpEpollWatch *
pp_epoll_watch (PpEpoll *ep, int fd, uint32_t events, PpEpollFunc func, gpointer user_data,
                GError **error)
{
  g_return_val_if_fail (ep != NULL && !ep->destroyed, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail ((events & ~PP_EPOLL_ALLOWED) == 0, NULL);

  PpEpollWatch *w = g_new0 (PpEpollWatch, 1);
  w->ep = ep;
  w->fd = fd;
  w->func = func;
  w->user_data = user_data;
  w->slot = pp_epoll_slot_take (ep, w);

  /* Always register, even paused, so a bad or duplicate fd fails here. */
  if (pp_epoll_ctl (w, EPOLL_CTL_ADD, events) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "epoll watch fd %d: %s", fd,
                   g_strerror (errsv));
      pp_epoll_slot_release (ep, w->slot);
      g_free (w);
      return NULL;
    }
  w->events = events;
  if (events == 0)
    epoll_ctl (ep->epfd, EPOLL_CTL_DEL, fd, NULL);
  ep->count++;
  return w;
}

void
pp_epoll_watch_set_events (PpEpollWatch *w, uint32_t events)
{
  g_return_if_fail (w != NULL);
  g_return_if_fail ((events & ~PP_EPOLL_ALLOWED) == 0);

  if (events == w->events)
    return;

  int op = EPOLL_CTL_MOD;
  if (w->events == 0)
    op = EPOLL_CTL_ADD;
  else if (events == 0)
    op = EPOLL_CTL_DEL;

  if (pp_epoll_ctl (w, op, events) < 0)
    g_warning ("epoll_ctl fd %d: %s (closed before unwatch?)", w->fd, g_strerror (errno));
  w->events = events;
}

uint32_t
pp_epoll_watch_get_events (PpEpollWatch *w)
{
  g_return_val_if_fail (w != NULL, 0);
  return w->events;
}

int
pp_epoll_watch_get_fd (PpEpollWatch *w)
{
  g_return_val_if_fail (w != NULL, -1);
  return w->fd;
}

void
pp_epoll_unwatch (PpEpollWatch *w)
{
  if (w == NULL)
    return;

  PpEpoll *ep = w->ep;
  /* EBADF/ENOENT mean the fd is already gone; the generation bump below
   * still drops anything it left queued. */
  if (w->events != 0)
    epoll_ctl (ep->epfd, EPOLL_CTL_DEL, w->fd, NULL);
  pp_epoll_slot_release (ep, w->slot);
  ep->count--;
  g_free (w);
}

guint
pp_epoll_count (PpEpoll *ep)
{
  g_return_val_if_fail (ep != NULL, 0);
  return ep->count;
}
