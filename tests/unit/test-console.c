/* SPDX-License-Identifier: MIT
 *
 * Console: commands through the control socket reach the owner's handler
 * parsed, `help`, unknown, wrong-role and malformed lines are answered by
 * the console itself, and without a terminal nothing can be asked.  The
 * client call blocks, so it runs in a thread while the main thread iterates.
 */
#include "app/pp-console.h"
#include "app/pp-control.h"
#include "pp-test-utils.h"

#include <string.h>
#include <unistd.h>

typedef struct
{
  char *tmp;
  guint calls;
  PpCommandKind last_kind;
  char *last_arg;
  gboolean last_keep;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  GError *error = NULL;

  f->tmp = g_dir_make_tmp ("pp-console-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("XDG_RUNTIME_DIR", f->tmp, TRUE);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (f->tmp, "peerport", NULL);

  rmdir (dir);
  g_assert_cmpint (rmdir (f->tmp), ==, 0);  /* nothing left behind */
  g_free (f->tmp);
  g_free (f->last_arg);
}

/* A fake owner: "maps" lists one mapping, "map" refuses port 80. */
static gboolean
handler (const PpCommand *cmd, GString *reply, gpointer user_data)
{
  Fixture *f = user_data;

  f->calls++;
  f->last_kind = cmd->kind;
  g_free (f->last_arg);
  f->last_arg = g_strdup (cmd->arg);
  f->last_keep = cmd->keep;
  if (cmd->kind == PP_COMMAND_MAP && strstr (cmd->arg, "80=") == cmd->arg)
    {
      g_string_append (reply, "port 80 is privileged\n");
      return FALSE;
    }
  if (cmd->kind == PP_COMMAND_MAPS)
    g_string_append (reply, "#1 127.0.0.1:8080 => 127.0.0.1:80\n");
  return TRUE;
}

typedef struct
{
  const char *name;
  const char *line;
  GString *reply;
  gboolean ok;
  gboolean called;
  GError *error;
  gint done;
  GMainContext *ctx;           /* woken when done: nothing else may wake it */
} Call;

static gpointer
call_thread (gpointer data)
{
  Call *c = data;

  c->called = pp_control_call (c->name, c->line, 5000, c->reply, &c->ok, &c->error);
  g_atomic_int_set (&c->done, TRUE);
  g_main_context_wakeup (c->ctx);
  return NULL;
}

static gboolean
call_done (gpointer data)
{
  return g_atomic_int_get (&((Call *) data)->done);
}

static void
call (Call *c, const char *name, const char *line)
{
  GThread *t;

  memset (c, 0, sizeof *c);
  c->name = name;
  c->line = line;
  c->reply = g_string_new (NULL);
  c->ctx = g_main_context_default ();
  t = g_thread_new ("ctl", call_thread, c);
  g_assert_true (pp_test_wait_until (NULL, call_done, c, 10000));
  g_thread_join (t);
  g_assert_no_error (c->error);
  g_assert_true (c->called);
}

static void
call_clear (Call *c)
{
  g_string_free (c->reply, TRUE);
  g_clear_error (&c->error);
}

static PpConsole *
console_new (Fixture *f, PpCommandRole role)
{
  GError *error = NULL;
  PpConsole *c = pp_console_new ("join-1", role, handler, f, &error);

  g_assert_no_error (error);
  g_assert_nonnull (c);
  return c;
}

static void
test_commands_reach_handler (Fixture *f, gconstpointer data)
{
  PpConsole *con = console_new (f, PP_COMMAND_ROLE_CLIENT);
  Call c;

  call (&c, "join-1", "map 8080 => 127.0.0.1:80");
  g_assert_true (c.ok);
  g_assert_cmpint (f->last_kind, ==, PP_COMMAND_MAP);
  g_assert_cmpstr (f->last_arg, ==, "8080 => 127.0.0.1:80");
  call_clear (&c);

  call (&c, "join-1", "  MAPS  ");
  g_assert_true (c.ok);
  g_assert_cmpint (f->last_kind, ==, PP_COMMAND_MAPS);
  g_assert_cmpstr (c.reply->str, ==, "#1 127.0.0.1:8080 => 127.0.0.1:80\n");
  call_clear (&c);

  call (&c, "join-1", "map 80=>127.0.0.1:80");
  g_assert_false (c.ok);
  g_assert_cmpstr (c.reply->str, ==, "port 80 is privileged\n");
  call_clear (&c);

  call (&c, "join-1", "unmap #1");
  g_assert_true (c.ok);
  g_assert_cmpint (f->last_kind, ==, PP_COMMAND_UNMAP);
  g_assert_cmpstr (f->last_arg, ==, "#1");
  call_clear (&c);
  g_assert_cmpuint (f->calls, ==, 4);
  pp_console_free (con);
}

static void
test_console_answers_itself (Fixture *f, gconstpointer data)
{
  PpConsole *con = console_new (f, PP_COMMAND_ROLE_CLIENT);
  Call c;

  call (&c, "join-1", "help");
  g_assert_true (c.ok);
  g_assert_nonnull (strstr (c.reply->str, "map MAPPING"));
  g_assert_null (strstr (c.reply->str, "allow RULE"));
  call_clear (&c);

  call (&c, "join-1", "frobnicate");
  g_assert_false (c.ok);
  g_assert_nonnull (strstr (c.reply->str, "unknown command (type help)"));
  call_clear (&c);

  call (&c, "join-1", "allow *:*");
  g_assert_false (c.ok);
  g_assert_nonnull (strstr (c.reply->str, "that command is for the host"));
  call_clear (&c);

  call (&c, "join-1", "map");
  g_assert_false (c.ok);
  g_assert_nonnull (strstr (c.reply->str, "usage: map MAPPING"));
  call_clear (&c);

  call (&c, "join-1", "maps extra");
  g_assert_false (c.ok);
  g_assert_nonnull (strstr (c.reply->str, "takes no argument"));
  call_clear (&c);

  call (&c, "join-1", "# a comment");
  g_assert_true (c.ok);
  g_assert_cmpstr (c.reply->str, ==, "");
  call_clear (&c);
  g_assert_cmpuint (f->calls, ==, 0);
  pp_console_free (con);
}

static void
test_host_role (Fixture *f, gconstpointer data)
{
  PpConsole *con = console_new (f, PP_COMMAND_ROLE_HOST);
  Call c;

  call (&c, "join-1", "deny #2 --keep");
  g_assert_true (c.ok);
  g_assert_cmpint (f->last_kind, ==, PP_COMMAND_DENY);
  g_assert_cmpstr (f->last_arg, ==, "#2");
  g_assert_true (f->last_keep);
  call_clear (&c);

  call (&c, "join-1", "map 1=>1.1.1.1:1");
  g_assert_false (c.ok);
  g_assert_nonnull (strstr (c.reply->str, "for the joining side"));
  call_clear (&c);
  pp_console_free (con);
}

/* Without a terminal (as under meson) nothing can be asked, and status and
 * print calls write nothing that would corrupt a pipe's first line. */
static void
test_not_interactive (Fixture *f, gconstpointer data)
{
  PpConsole *con;

  if (isatty (STDIN_FILENO))
    {
      g_test_skip ("stdin is a terminal");
      return;
    }
  con = console_new (f, PP_COMMAND_ROLE_HOST);
  g_assert_false (pp_console_is_interactive (con));
  g_assert_false (pp_console_ask (con, "accept? [y/N]", NULL, NULL));
  pp_console_cancel_ask (con);
  g_assert_cmpstr (pp_console_get_name (con), ==, "join-1");
  pp_console_free (con);
}

/* The same line through run_line, with a line at the size limit. */
static void
test_run_line_limits (Fixture *f, gconstpointer data)
{
  PpConsole *con = console_new (f, PP_COMMAND_ROLE_CLIENT);
  g_autoptr (GString) reply = g_string_new (NULL);
  g_autofree char *longline = g_strnfill (PP_COMMAND_MAX_LINE + 1, 'x');

  g_assert_false (pp_console_run_line (con, longline, reply));
  g_assert_nonnull (strstr (reply->str, "at most 1024 bytes"));
  g_string_truncate (reply, 0);
  g_assert_false (pp_console_run_line (con, "maps\033[2J", reply));
  g_assert_nonnull (strstr (reply->str, "control characters"));
  g_assert_null (strchr (reply->str, '\033'));
  g_assert_cmpuint (f->calls, ==, 0);
  pp_console_free (con);
}

/* Two instances of one name: the second is refused, the first still works. */
static void
test_name_taken (Fixture *f, gconstpointer data)
{
  PpConsole *con = console_new (f, PP_COMMAND_ROLE_CLIENT);
  GError *error = NULL;
  PpConsole *other = pp_console_new ("join-1", PP_COMMAND_ROLE_CLIENT, handler, f, &error);
  Call c;

  g_assert_null (other);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);
  call (&c, "join-1", "status");
  g_assert_true (c.ok);
  g_assert_cmpint (f->last_kind, ==, PP_COMMAND_STATUS);
  call_clear (&c);
  pp_console_free (con);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/console/control/commands-reach-handler", test_commands_reach_handler);
  ADD ("/console/control/answers-itself", test_console_answers_itself);
  ADD ("/console/control/host-role", test_host_role);
  ADD ("/console/tty/not-interactive", test_not_interactive);
  ADD ("/console/line/limits", test_run_line_limits);
  ADD ("/console/control/name-taken", test_name_taken);
#undef ADD
  return g_test_run ();
}
