/* SPDX-License-Identifier: MIT
 *
 * Control socket: the private folder, one request per connection, OK/ERR,
 * instance listing, stale sockets, files that are not sockets, cleanup.
 * The client call blocks, so it runs in a thread while the main thread
 * iterates the server's context until the answer is in.
 */
#include "app/pp-control.h"
#include "pp-test-utils.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct
{
  char *tmp;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  GError *error = NULL;

  f->tmp = g_dir_make_tmp ("pp-control-XXXXXX", &error);
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
}

static gboolean
handler (const char *line, GString *reply, gpointer user_data)
{
  guint *calls = user_data;

  (*calls)++;
  if (g_str_equal (line, "status"))
    {
      g_string_append (reply, "state: open\nsockets: 3\n");
      return TRUE;
    }
  g_string_append_printf (reply, "unknown command: %s", line);
  return FALSE;
}

typedef struct
{
  const char *name;
  char *line;
  GString *reply;
  gboolean ok;
  gboolean called;
  GError *error;
  gboolean done;
} Call;

static gpointer
call_thread (gpointer data)
{
  Call *c = data;

  c->called = pp_control_call (c->name, c->line, 5000, c->reply, &c->ok, &c->error);
  g_atomic_int_set (&c->done, TRUE);
  return NULL;
}

static gboolean
call_done (gpointer data)
{
  return g_atomic_int_get (&((Call *) data)->done);
}

/* Runs one client call against the server on this thread's context. */
static void
call (Call *c, const char *name, const char *line)
{
  GThread *t;

  memset (c, 0, sizeof *c);
  c->name = name;
  c->line = g_strdup (line);
  c->reply = g_string_new (NULL);
  t = g_thread_new ("ctl", call_thread, c);
  g_assert_true (pp_test_wait_until (NULL, call_done, c, 10000));
  g_thread_join (t);
}

static void
call_clear (Call *c)
{
  g_free (c->line);
  g_string_free (c->reply, TRUE);
  g_clear_error (&c->error);
}

static void
test_ok_and_err (Fixture *f, gconstpointer data)
{
  guint calls = 0;
  GError *error = NULL;
  PpControl *ctl = pp_control_new ("host-1", handler, &calls, &error);
  struct stat st;
  Call c;

  g_assert_no_error (error);
  g_assert_cmpint (stat (pp_control_get_path (ctl), &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  call (&c, "host-1", "status");
  g_assert_true (c.called);
  g_assert_true (c.ok);
  g_assert_cmpstr (c.reply->str, ==, "state: open\nsockets: 3\n");
  call_clear (&c);

  call (&c, "host-1", "frob");
  g_assert_true (c.called);
  g_assert_false (c.ok);
  g_assert_cmpstr (c.reply->str, ==, "unknown command: frob\n");
  call_clear (&c);
  g_assert_cmpuint (calls, ==, 2);

  pp_control_free (ctl);
  call (&c, "host-1", "status");
  g_assert_false (c.called);
  g_assert_error (c.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  call_clear (&c);
}

static void
test_dir_mode (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (f->tmp, "peerport", NULL);
  g_autofree char *got = NULL;
  GError *error = NULL;
  struct stat st;

  got = pp_control_dir (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (got, ==, dir);
  g_assert_cmpint (stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  g_assert_cmpint (chmod (dir, 0755), ==, 0);
  g_assert_null (pp_control_dir (&error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "mode 0700"));
  g_clear_error (&error);
  g_assert_null (pp_control_new ("host-2", handler, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
}

static void
test_list_and_stale (Fixture *f, gconstpointer data)
{
  guint calls = 0;
  GError *error = NULL;
  PpControl *a = pp_control_new ("host-10", handler, &calls, &error);
  PpControl *b = pp_control_new ("join-20", handler, &calls, &error);
  g_autofree char *dir = pp_control_dir (&error);
  g_autofree char *stale = g_build_filename (dir, "join-30.sock", NULL);
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);
  g_auto (GStrv) names = NULL;
  PpControl *again;

  g_assert_no_error (error);
  /* A socket file nobody listens on: skipped by list, replaced by new. */
  g_strlcpy (sun.sun_path, stale, sizeof sun.sun_path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  close (fd);

  names = pp_control_list (&error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "host-10");
  g_assert_cmpstr (names[1], ==, "join-20");

  again = pp_control_new ("host-10", handler, &calls, &error);
  g_assert_null (again);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_nonnull (strstr (error->message, "already running"));
  g_clear_error (&error);

  again = pp_control_new ("join-30", handler, &calls, &error);
  g_assert_no_error (error);
  pp_control_free (again);
  pp_control_free (a);
  pp_control_free (b);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
}

static void
test_not_a_socket (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  g_autofree char *dir = pp_control_dir (&error);
  g_autofree char *path = g_build_filename (dir, "host-5.sock", NULL);

  g_assert_true (g_file_set_contents (path, "precious", -1, NULL));
  g_assert_null (pp_control_new ("host-5", handler, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));  /* not touched */
  unlink (path);

  g_assert_null (pp_control_new ("../evil", handler, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

static void
test_long_line (Fixture *f, gconstpointer data)
{
  guint calls = 0;
  GError *error = NULL;
  PpControl *ctl = pp_control_new ("host-7", handler, &calls, &error);
  g_autofree char *line = g_strnfill (5000, 'x');
  Call c;

  g_assert_no_error (error);
  call (&c, "host-7", line);
  g_assert_true (c.called);
  g_assert_false (c.ok);
  g_assert_nonnull (strstr (c.reply->str, "too long"));
  g_assert_cmpuint (calls, ==, 0);
  call_clear (&c);
  pp_control_free (ctl);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/control/call/ok-and-err", Fixture, NULL, fixture_setup, test_ok_and_err,
              fixture_teardown);
  g_test_add ("/control/dir/mode-0700", Fixture, NULL, fixture_setup, test_dir_mode,
              fixture_teardown);
  g_test_add ("/control/list/stale-sockets", Fixture, NULL, fixture_setup, test_list_and_stale,
              fixture_teardown);
  g_test_add ("/control/path/not-a-socket", Fixture, NULL, fixture_setup, test_not_a_socket,
              fixture_teardown);
  g_test_add ("/control/request/too-long", Fixture, NULL, fixture_setup, test_long_line,
              fixture_teardown);
  return g_test_run ();
}
