/* SPDX-License-Identifier: MIT
 *
 * pp-session: the part of `peerport host` and `join` that does not depend on
 * which side we are — signals, output, and ending a tunnel in order (GOAWAY,
 * orderly close, bounded wait, exit code).  It never talks to a signaling
 * server and never creates a transport.
 */
#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "app/pp-session.h"

static const char *const pp_session_goaway_names[] = {
  "normal", "protocol error", "incompatible", "resources",
};

static PpSessionOutputFunc pp_session_output_func;
static gpointer pp_session_output_data;

static void
pp_session_output (gboolean before)
{
  if (pp_session_output_func != NULL)
    pp_session_output_func (before, pp_session_output_data);
}

char *
pp_session_escape (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const unsigned char *p = (const unsigned char *) text; *p != '\0'; p++)
    {
      if (*p >= 0x20 && *p < 0x7f && *p != '\\')
        g_string_append_c (out, (char) *p);
      else
        g_string_append_printf (out, "\\x%02x", *p);
    }
  return g_string_free (out, FALSE);
}

char *
pp_session_name (const char *flag, GError **error)
{
  char *name;

  if (flag != NULL)
    {
      for (const char *p = flag; *p != '\0'; p++)
        if (*p < 0x20 || *p > 0x7e)
          return g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                              "--name must be printable ASCII"), NULL;
      if (flag[0] == '\0' || strlen (flag) > 64)
        return g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "--name must be 1 to 64 bytes long"), NULL;
      return g_strdup (flag);
    }
  name = g_strndup (g_get_host_name (), 64);
  for (char *p = name; *p != '\0'; p++)
    if (*p < 0x20 || *p > 0x7e)
      *p = '?';
  if (name[0] != '\0')
    return name;
  g_free (name);
  return g_strdup ("peerport");
}

static void
pp_session_quit (PpSession *s)
{
  if (s->grace != 0)
    g_source_remove (s->grace);
  s->grace = 0;
  g_main_loop_quit (s->loop);
}

static gboolean
pp_session_grace_cb (gpointer user_data)
{
  PpSession *s = user_data;

  s->grace = 0;
  pp_session_quit (s);
  return G_SOURCE_REMOVE;
}

void
pp_session_end (PpSession *s, int exit_code)
{
  PpTransport *t;

  if (s->ending)
    return;
  s->ending = TRUE;
  s->exit_code = exit_code;
  pp_session_state (s, "closed", exit_code == PP_SESSION_EXIT_OK ? "" : "failed");
  g_cancellable_cancel (s->cancel);
  if (s->tun == NULL)
    {
      pp_session_quit (s);
      return;
    }
  t = pp_tunnel_get_transport (s->tun);
  pp_tunnel_goaway (s->tun, PP_GOAWAY_NORMAL, "quit");
  if (pp_transport_get_state (t) == PP_TRANSPORT_CLOSED)
    {
      pp_session_quit (s);
      return;
    }
  s->grace = g_timeout_add (PP_SESSION_CLOSE_GRACE_MS, pp_session_grace_cb, s);
  pp_transport_close (t, "session ended");
}

static gboolean
pp_session_signal_cb (gpointer user_data)
{
  PpSession *s = user_data;

  if (!s->ending)
    pp_session_say (s, "peerport: %s: interrupted; ending the session", s->context);
  s->interrupted = TRUE;
  pp_session_end (s, PP_SESSION_EXIT_OK);
  return G_SOURCE_CONTINUE;
}

void
pp_session_init (PpSession *s, const char *context, gboolean json)
{
  *s = (PpSession) { 0 };
  s->context = context;
  s->json = json;
  s->loop = g_main_loop_new (NULL, FALSE);
  s->cancel = g_cancellable_new ();
  s->sigint = g_unix_signal_add (SIGINT, pp_session_signal_cb, s);
  s->sigterm = g_unix_signal_add (SIGTERM, pp_session_signal_cb, s);
  /* Output goes to files and pipes in scripts: one line at a time. */
  setvbuf (stdout, NULL, _IOLBF, 0);
}

void
pp_session_clear (PpSession *s)
{
  g_cancellable_cancel (s->cancel);
  g_clear_pointer (&s->tun, pp_tunnel_free);
  /* Let cancelled requests deliver their callbacks while their owners live. */
  for (int i = 0; i < 100 && g_main_context_pending (NULL); i++)
    g_main_context_iteration (NULL, FALSE);
  if (s->grace != 0)
    g_source_remove (s->grace);
  g_source_remove (s->sigint);
  g_source_remove (s->sigterm);
  /* The session is over and its exit code decided: a late Ctrl-C or SIGTERM
   * must not turn it into a death by signal. */
  signal (SIGINT, SIG_IGN);
  signal (SIGTERM, SIG_IGN);
  g_clear_object (&s->cancel);
  g_clear_pointer (&s->loop, g_main_loop_unref);
}

void
pp_session_say (PpSession *s, const char *fmt, ...)
{
  va_list ap;

  if (s->json)
    return;
  pp_session_output (TRUE);
  va_start (ap, fmt);
  vfprintf (stdout, fmt, ap);
  va_end (ap);
  fputc ('\n', stdout);
  fflush (stdout);
  pp_session_output (FALSE);
}

void
pp_session_emit (PpSession *s, PpJsonEvent *ev)
{
  g_autofree char *line = pp_event_finish (ev);

  if (!s->json)
    return;
  fputs (line, stdout);
  fflush (stdout);
}

void
pp_session_state (PpSession *s, const char *state, const char *detail)
{
  PpJsonEvent *ev = pp_event_new ("state", g_get_real_time ());

  pp_event_add_string (ev, "state", state);
  pp_event_add_string (ev, "detail", detail != NULL ? detail : "");
  pp_session_emit (s, ev);
}

static void
pp_session_error_line (PpSession *s, int exit_code, const char *msg)
{
  PpJsonEvent *ev;

  pp_session_output (TRUE);
  fprintf (stderr, "peerport: %s: %s\n", s->context, msg);
  pp_session_output (FALSE);
  ev = pp_event_new ("error", g_get_real_time ());
  pp_event_add_string (ev, "context", s->context);
  pp_event_add_string (ev, "message", msg);
  pp_event_add_int (ev, "exit", exit_code);
  pp_session_emit (s, ev);
}

void
pp_session_warn (PpSession *s, int exit_code, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (!s->ending)
    pp_session_error_line (s, exit_code, msg);
}

void
pp_session_fail (PpSession *s, int exit_code, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (s->ending)
    return;
  pp_session_error_line (s, exit_code, msg);
  pp_session_end (s, exit_code);
}

static void
pp_session_ready (PpSession *s)
{
  PpTransportStats st;

  s->opened = TRUE;
  pp_transport_get_stats (pp_tunnel_get_transport (s->tun), &st);
  pp_session_state (s, "open", st.path);
  pp_session_say (s, "peerport: %s: tunnel open (%s)", s->context, st.path);
}

static void
pp_session_goaway (PpSession *s, const PpTunnelEvent *ev)
{
  const char *reason = ev->reason < G_N_ELEMENTS (pp_session_goaway_names)
                       ? pp_session_goaway_names[ev->reason] : "unknown";
  const char *who = g_str_equal (s->context, "join") ? "the host" : "the peer";
  PpJsonEvent *e = pp_event_new ("goaway", g_get_real_time ());

  pp_event_add_string (e, "reason", reason);
  pp_event_add_string (e, "detail", ev->detail);
  pp_session_emit (s, e);
  pp_session_output (TRUE);
  if (!s->json)
    fprintf (stderr, "peerport: %s: %s ended the session (%s%s%s)\n", s->context, who, reason,
             ev->detail[0] != '\0' ? ": " : "", ev->detail);
  pp_session_output (FALSE);
  pp_session_end (s, PP_SESSION_EXIT_UNAVAILABLE);
}

char *
pp_session_describe_close (const char *detail, gboolean have_turn, gboolean was_open)
{
  if (g_str_has_prefix (detail, "ICE: no candidate pair works"))
    return g_strdup_printf ("no direct path to the peer (%s)%s", detail,
                            have_turn ? ", not even through the TURN relay: check the --turn "
                                        "server and its credentials"
                                      : ": both sides are probably behind NATs that do not let "
                                        "UDP through; add --turn turn:USER:PASS@HOST (a TURN "
                                        "relay) on either side");
  return g_strdup_printf (was_open ? "the connection to the peer closed: %s"
                                   : "the connection could not be made: %s", detail);
}

static void
pp_session_closed (PpSession *s, const char *detail)
{
  g_autofree char *why = pp_session_describe_close (detail, s->have_turn, s->opened);

  pp_session_fail (s, PP_SESSION_EXIT_UNAVAILABLE, "%s", why);
  pp_session_quit (s);
}

static void
pp_session_tunnel_cb (PpTunnel *tun, const PpTunnelEvent *ev, gpointer user_data)
{
  PpSession *s = user_data;

  switch (ev->type)
    {
    case PP_TUNNEL_EV_READY:
      pp_session_ready (s);
      return;
    case PP_TUNNEL_EV_GOAWAY:
      pp_session_goaway (s, ev);
      return;
    case PP_TUNNEL_EV_FAILED:
      pp_session_fail (s, PP_SESSION_EXIT_PROTOCOL, "session failed: %s", ev->detail);
      return;
    case PP_TUNNEL_EV_PONG:
      return;
    case PP_TUNNEL_EV_CLOSED:
      if (s->ending)
        {
          pp_session_quit (s);
          return;
        }
      pp_session_closed (s, ev->detail);
      return;
    }
}

void
pp_session_attach (PpSession *s, PpTunnel *tun)
{
  g_return_if_fail (s->tun == NULL);
  s->tun = tun;
  pp_tunnel_set_event_func (tun, pp_session_tunnel_cb, s);
}

int
pp_session_run (PpSession *s)
{
  if (!s->ending || s->grace != 0)
    g_main_loop_run (s->loop);
  return s->exit_code;
}

void
pp_session_set_output_func (PpSessionOutputFunc func, gpointer user_data)
{
  pp_session_output_func = func;
  pp_session_output_data = user_data;
}
