/* SPDX-License-Identifier: MIT
 *
 * pp-console: one command path for two doors.  The control socket hands a
 * line and wants the reply back; stdin (a terminal only) is read in bounded
 * pieces and the reply printed.  The status line is drawn with "\r ESC[K"
 * on the last terminal line and erased before anything else is printed
 * (pp-session calls back through pp_session_set_output_func).  Nothing here
 * knows what a command means: the owner's PpConsoleFunc does.
 */
#include "app/pp-console.h"

#include "app/pp-control.h"
#include "app/pp-session.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct _PpConsole
{
  char *name;
  PpControl *ctl;
  PpCommandRole role;
  PpConsoleFunc func;
  gpointer user_data;
  gboolean interactive;        /* stdin is a terminal */
  gboolean tty_out;            /* stdout is a terminal: the status line may show */
  guint stdin_watch;
  char buf[PP_COMMAND_MAX_LINE + 2];
  size_t len;
  gboolean too_long;           /* discarding up to the next newline */
  PpConsoleAnswerFunc ask_func;
  gpointer ask_data;
  char *status;
  gboolean status_shown;
};

/* --- the terminal --- */

static void
pp_console_hide_status (PpConsole *c)
{
  if (!c->status_shown)
    return;
  fputs ("\r\033[K", stdout);
  fflush (stdout);
  c->status_shown = FALSE;
}

static void
pp_console_show_status (PpConsole *c)
{
  if (!c->tty_out || c->status == NULL || c->ask_func != NULL)
    return;
  fprintf (stdout, "\r\033[K%s", c->status);
  fflush (stdout);
  c->status_shown = TRUE;
}

static void
pp_console_output_cb (gboolean before, gpointer user_data)
{
  PpConsole *c = user_data;

  if (before)
    pp_console_hide_status (c);
  else
    pp_console_show_status (c);
}

void
pp_console_print (PpConsole *c, const char *line)
{
  pp_console_hide_status (c);
  fputs (line, stdout);
  if (line[0] == '\0' || line[strlen (line) - 1] != '\n')
    fputc ('\n', stdout);
  fflush (stdout);
  pp_console_show_status (c);
}

void
pp_console_set_status (PpConsole *c, const char *status_line)
{
  g_free (c->status);
  c->status = g_strdup (status_line);
  if (c->status == NULL)
    pp_console_hide_status (c);
  else
    pp_console_show_status (c);
}

/* --- commands --- */

gboolean
pp_console_run_line (PpConsole *c, const char *line, GString *reply)
{
  PpCommand cmd;
  char *error = NULL;
  gboolean ok;

  if (!pp_command_parse (line, strlen (line), c->role, &cmd, &error))
    {
      g_string_append_printf (reply, "%s\n", error);
      g_free (error);
      return FALSE;
    }
  switch (cmd.kind)
    {
    case PP_COMMAND_NONE:
      return TRUE;
    case PP_COMMAND_HELP:
      g_string_append (reply, pp_command_help (c->role));
      return TRUE;
    case PP_COMMAND_ALLOW:
    case PP_COMMAND_DENY:
    case PP_COMMAND_RULES:
    case PP_COMMAND_INVITE:
    case PP_COMMAND_MAP:
    case PP_COMMAND_UNMAP:
    case PP_COMMAND_MAPS:
    case PP_COMMAND_STATUS:
    case PP_COMMAND_CONNS:
    case PP_COMMAND_QUIT:
      break;
    }
  ok = c->func (&cmd, reply, c->user_data);
  pp_command_clear (&cmd);
  return ok;
}

static gboolean
pp_console_control_cb (const char *line, GString *reply, gpointer user_data)
{
  return pp_console_run_line (user_data, line, reply);
}

/* --- stdin --- */

static void
pp_console_answer (PpConsole *c, gboolean yes)
{
  PpConsoleAnswerFunc func = c->ask_func;

  /* Cleared first: the answer may ask the next question. */
  c->ask_func = NULL;
  func (yes, c->ask_data);
  pp_console_show_status (c);
}

static void
pp_console_typed (PpConsole *c, char *line)
{
  g_autoptr (GString) reply = g_string_new (NULL);
  gboolean ok;

  g_strchomp (line);
  if (c->ask_func != NULL)
    {
      g_strstrip (line);
      pp_console_answer (c, g_ascii_strcasecmp (line, "y") == 0
                              || g_ascii_strcasecmp (line, "yes") == 0);
      return;
    }
  /* The Enter the person typed moved the cursor below the status line. */
  c->status_shown = FALSE;
  ok = pp_console_run_line (c, line, reply);
  if (reply->len > 0)
    {
      pp_console_hide_status (c);
      fprintf (ok ? stdout : stderr, "%s%s", ok ? "" : "peerport: ", reply->str);
      fflush (ok ? stdout : stderr);
    }
  pp_console_show_status (c);
}

static void
pp_console_stdin_eof (PpConsole *c)
{
  c->stdin_watch = 0;
  c->interactive = FALSE;
  if (c->ask_func != NULL)
    pp_console_answer (c, FALSE);
}

/* Every complete line in the buffer, then keep the rest. */
static void
pp_console_take_lines (PpConsole *c)
{
  char *start = c->buf;
  char *nl;

  while ((nl = memchr (start, '\n', c->len - (size_t) (start - c->buf))) != NULL)
    {
      *nl = '\0';
      if (c->too_long)
        {
          c->too_long = FALSE;
          pp_console_print (c, "peerport: a command is at most 1024 bytes; line ignored");
        }
      else
        pp_console_typed (c, start);
      start = nl + 1;
    }
  c->len -= (size_t) (start - c->buf);
  memmove (c->buf, start, c->len);
  if (c->len > PP_COMMAND_MAX_LINE)
    {
      c->too_long = TRUE;
      c->len = 0;
    }
}

static gboolean
pp_console_stdin_cb (int fd, GIOCondition cond, gpointer user_data)
{
  PpConsole *c = user_data;
  ssize_t n = read (fd, c->buf + c->len, sizeof c->buf - 1 - c->len);

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      pp_console_stdin_eof (c);
      return G_SOURCE_REMOVE;
    }
  c->len += (size_t) n;
  pp_console_take_lines (c);
  return G_SOURCE_CONTINUE;
}

gboolean
pp_console_ask (PpConsole *c, const char *question, PpConsoleAnswerFunc func,
                gpointer user_data)
{
  if (!c->interactive)
    return FALSE;
  pp_console_hide_status (c);
  c->ask_func = func;
  c->ask_data = user_data;
  fprintf (stdout, "%s ", question);
  fflush (stdout);
  return TRUE;
}

void
pp_console_cancel_ask (PpConsole *c)
{
  if (c->ask_func == NULL)
    return;
  c->ask_func = NULL;
  fputc ('\n', stdout);
  fflush (stdout);
  pp_console_show_status (c);
}

/* --- life --- */

PpConsole *
pp_console_new (const char *name, PpCommandRole role, PpConsoleFunc func, gpointer user_data,
                GError **error)
{
  PpConsole *c = g_new0 (PpConsole, 1);

  c->name = g_strdup (name);
  c->role = role;
  c->func = func;
  c->user_data = user_data;
  c->ctl = pp_control_new (name, pp_console_control_cb, c, error);
  if (c->ctl == NULL)
    {
      g_free (c->name);
      g_free (c);
      return NULL;
    }
  c->interactive = isatty (STDIN_FILENO);
  c->tty_out = isatty (STDOUT_FILENO);
  if (c->interactive)
    c->stdin_watch = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                    pp_console_stdin_cb, c);
  pp_session_set_output_func (pp_console_output_cb, c);
  return c;
}

void
pp_console_free (PpConsole *c)
{
  if (c == NULL)
    return;
  pp_session_set_output_func (NULL, NULL);
  pp_console_hide_status (c);
  if (c->stdin_watch != 0)
    g_source_remove (c->stdin_watch);
  pp_control_free (c->ctl);
  g_free (c->status);
  g_free (c->name);
  g_free (c);
}

gboolean
pp_console_is_interactive (PpConsole *c)
{
  return c->interactive;
}

const char *
pp_console_get_name (PpConsole *c)
{
  return c->name;
}
