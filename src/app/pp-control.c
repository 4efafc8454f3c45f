/* SPDX-License-Identifier: MIT
 *
 * pp-control: a GSocketService on a Unix socket in a private folder.  Each
 * connection carries one request line (≤ 1024 bytes, 5 s to arrive) from a
 * peer whose uid must be ours; the handler's answer is written back and the
 * connection closed.  Nothing here unlinks a file that is not a socket, and
 * a socket is replaced only when nobody answers on it.
 */
#include "app/pp-control.h"

#include "core/pp-command.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define REQUEST_TIMEOUT_S 5

struct _PpControl
{
  char *path;
  GSocketService *service;
  PpControlHandler handler;
  gpointer user_data;
  GList *requests;             /* Request, each owning itself */
};

typedef struct
{
  PpControl *ctl;              /* NULL once the control is gone */
  GSocketConnection *conn;
  GCancellable *cancel;
  guint timeout_id;
  char buf[PP_COMMAND_MAX_LINE + 2];
  size_t len;
  gboolean too_long;           /* reading on to the newline, discarding */
  GString *reply;
} Request;

static gboolean
check_dir (const char *dir, GError **error)
{
  struct stat st;

  if (lstat (dir, &st) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", dir,
                   g_strerror (errno));
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode) || st.st_uid != getuid () || (st.st_mode & 0777) != 0700)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "%s must be a folder owned by you with mode 0700", dir);
      return FALSE;
    }
  return TRUE;
}

char *
pp_control_dir (GError **error)
{
  const char *rt = g_getenv ("XDG_RUNTIME_DIR");
  g_autofree char *base = NULL;
  g_autofree char *dir = NULL;

  if (rt != NULL && *rt != '\0')
    base = g_strdup (rt);
  else
    base = g_build_filename (g_get_home_dir (), ".cache", NULL);
  if (g_mkdir_with_parents (base, 0700) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", base,
                   g_strerror (errno));
      return NULL;
    }
  dir = g_build_filename (base, "peerport", NULL);
  if (mkdir (dir, 0700) != 0 && errno != EEXIST)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", dir,
                   g_strerror (errno));
      return NULL;
    }
  if (!check_dir (dir, error))
    return NULL;
  return g_steal_pointer (&dir);
}

/* ---------------------------------------------------------------- server */

static void
request_free (Request *r)
{
  if (r->ctl != NULL)
    r->ctl->requests = g_list_remove (r->ctl->requests, r);
  if (r->timeout_id != 0)
    g_source_remove (r->timeout_id);
  g_object_unref (r->cancel);
  g_io_stream_close (G_IO_STREAM (r->conn), NULL, NULL);
  g_object_unref (r->conn);
  if (r->reply != NULL)
    g_string_free (r->reply, TRUE);
  g_free (r);
}

static void
on_reply_written (GObject *source, GAsyncResult *res, gpointer data)
{
  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL, NULL);
  request_free (data);
}

static void
answer (Request *r, const char *line)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (r->conn));
  gboolean ok = FALSE;

  r->reply = g_string_new (NULL);
  if (line == NULL)
    g_string_append (r->reply, "the command line is too long\n");
  else if (r->ctl != NULL)
    ok = r->ctl->handler (line, r->reply, r->ctl->user_data);
  if (r->reply->len > 0 && r->reply->str[r->reply->len - 1] != '\n')
    g_string_append_c (r->reply, '\n');
  g_string_append (r->reply, ok ? "OK\n" : "ERR\n");
  g_output_stream_write_all_async (out, r->reply->str, r->reply->len, G_PRIORITY_DEFAULT,
                                   r->cancel, on_reply_written, r);
}

static void read_more (Request *r);

static void
on_read (GObject *source, GAsyncResult *res, gpointer data)
{
  Request *r = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, NULL);
  char *nl;

  if (n < 0 || r->ctl == NULL)
    {
      request_free (r);
      return;
    }
  r->len += (size_t) n;
  r->buf[r->len] = '\0';
  nl = memchr (r->buf, '\n', r->len);
  if (nl != NULL || n == 0)
    {
      if (nl != NULL)
        *nl = '\0';
      g_strchomp (r->buf);
      /* Answer only once the whole line is read: closing on unread bytes
       * would reset the connection before the client sees the answer. */
      answer (r, r->too_long ? NULL : r->buf);
      return;
    }
  if (r->len >= sizeof r->buf - 1)
    {
      r->too_long = TRUE;
      r->len = 0;
    }
  read_more (r);
}

static void
read_more (Request *r)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (r->conn));

  g_input_stream_read_async (in, r->buf + r->len, sizeof r->buf - 1 - r->len,
                             G_PRIORITY_DEFAULT, r->cancel, on_read, r);
}

static gboolean
on_request_timeout (gpointer data)
{
  Request *r = data;

  r->timeout_id = 0;
  g_cancellable_cancel (r->cancel);
  return G_SOURCE_REMOVE;
}

static gboolean
peer_is_us (GSocketConnection *conn)
{
  GSocket *sock = g_socket_connection_get_socket (conn);
  g_autoptr (GCredentials) creds = g_socket_get_credentials (sock, NULL);

  return creds != NULL && g_credentials_get_unix_user (creds, NULL) == getuid ();
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *conn, GObject *source,
             gpointer data)
{
  PpControl *ctl = data;
  Request *r;

  if (!peer_is_us (conn))
    {
      g_warning ("control socket: refused a connection from another user");
      g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
      return TRUE;
    }
  r = g_new0 (Request, 1);
  r->ctl = ctl;
  r->conn = g_object_ref (conn);
  r->cancel = g_cancellable_new ();
  r->timeout_id = g_timeout_add_seconds (REQUEST_TIMEOUT_S, on_request_timeout, r);
  ctl->requests = g_list_prepend (ctl->requests, r);
  read_more (r);
  return TRUE;
}

/* Someone answers on @path? */
static gboolean
socket_is_live (const char *path)
{
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);

  return sock != NULL && g_socket_connect (sock, addr, NULL, NULL);
}

/* Clears the way for our socket at @path, or says why not. */
static gboolean
claim_path (const char *path, const char *name, GError **error)
{
  struct stat st;

  if (lstat (path, &st) != 0)
    return TRUE;
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "%s exists and is not a socket; not touching it", path);
      return FALSE;
    }
  if (socket_is_live (path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                   "an instance named %s is already running", name);
      return FALSE;
    }
  return unlink (path) == 0 || errno == ENOENT;
}

static gboolean
name_is_valid (const char *name)
{
  if (*name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return name[0] != '.';
}

static GSocket *
listen_at (const char *path, GError **error)
{
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);

  sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                       error);
  if (sock == NULL || !g_socket_bind (sock, addr, FALSE, error))
    return NULL;
  if (chmod (path, 0600) != 0 || !g_socket_listen (sock, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", path,
                     g_strerror (errno));
      unlink (path);
      return NULL;
    }
  return g_steal_pointer (&sock);
}

PpControl *
pp_control_new (const char *name, PpControlHandler handler, gpointer user_data, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GSocket) sock = NULL;
  PpControl *ctl;

  if (!name_is_valid (name))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "bad instance name \"%s\": use letters, digits, - _ .", name);
      return NULL;
    }
  dir = pp_control_dir (error);
  if (dir == NULL)
    return NULL;
  path = g_strdup_printf ("%s/%s.sock", dir, name);
  if (strlen (path) >= sizeof ((struct sockaddr_un *) NULL)->sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   "%s is too long for a socket path", path);
      return NULL;
    }
  if (!claim_path (path, name, error) || (sock = listen_at (path, error)) == NULL)
    return NULL;

  ctl = g_new0 (PpControl, 1);
  ctl->path = g_steal_pointer (&path);
  ctl->handler = handler;
  ctl->user_data = user_data;
  ctl->service = g_socket_service_new ();
  if (!g_socket_listener_add_socket (G_SOCKET_LISTENER (ctl->service), sock, NULL, error))
    {
      pp_control_free (ctl);
      return NULL;
    }
  g_signal_connect (ctl->service, "incoming", G_CALLBACK (on_incoming), ctl);
  g_socket_service_start (ctl->service);
  return ctl;
}

void
pp_control_free (PpControl *ctl)
{
  g_autofree char *dir = NULL;

  if (ctl == NULL)
    return;
  for (GList *l = ctl->requests; l != NULL; l = l->next)
    {
      Request *r = l->data;

      r->ctl = NULL;
      g_cancellable_cancel (r->cancel);
    }
  g_list_free (ctl->requests);
  g_socket_service_stop (ctl->service);
  g_socket_listener_close (G_SOCKET_LISTENER (ctl->service));
  g_object_unref (ctl->service);
  unlink (ctl->path);
  dir = g_path_get_dirname (ctl->path);
  rmdir (dir);  /* only when empty: other instances may live there */
  g_free (ctl->path);
  g_free (ctl);
}

const char *
pp_control_get_path (PpControl *ctl)
{
  return ctl->path;
}

/* ---------------------------------------------------------------- client */

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GStrv
pp_control_list (GError **error)
{
  g_autofree char *dir = pp_control_dir (error);
  g_autoptr (GDir) d = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  if (dir == NULL || (d = g_dir_open (dir, 0, error)) == NULL)
    return NULL;
  while ((entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);

      if (g_str_has_suffix (entry, ".sock") && socket_is_live (path))
        g_ptr_array_add (names, g_strndup (entry, strlen (entry) - 5));
    }
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

static gboolean
read_all (GSocket *sock, GString *out, GError **error)
{
  char buf[4096];

  for (;;)
    {
      gssize n = g_socket_receive (sock, buf, sizeof buf, NULL, error);

      if (n < 0)
        return FALSE;
      if (n == 0)
        return TRUE;
      g_string_append_len (out, buf, n);
      if (out->len > 16 << 20)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "answer too large");
          return FALSE;
        }
    }
}

/* Splits the last line (OK/ERR) off @text into *ok. */
static gboolean
split_status (GString *text, gboolean *ok, GError **error)
{
  if (g_str_has_suffix (text->str, "OK\n")
      && (text->len == 3 || text->str[text->len - 4] == '\n'))
    *ok = TRUE;
  else if (g_str_has_suffix (text->str, "ERR\n")
           && (text->len == 4 || text->str[text->len - 5] == '\n'))
    *ok = FALSE;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "the instance answered without a status line");
      return FALSE;
    }
  g_string_truncate (text, text->len - (*ok ? 3 : 4));
  return TRUE;
}

gboolean
pp_control_call (const char *name, const char *line, guint timeout_ms, GString *reply,
                 gboolean *ok, GError **error)
{
  g_autofree char *dir = pp_control_dir (error);
  g_autofree char *path = NULL;
  g_autofree char *request = NULL;
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autoptr (GString) text = g_string_new (NULL);

  if (dir == NULL)
    return FALSE;
  if (!name_is_valid (name))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad instance name \"%s\"",
                   name);
      return FALSE;
    }
  path = g_strdup_printf ("%s/%s.sock", dir, name);
  addr = g_unix_socket_address_new (path);
  sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                       error);
  if (sock == NULL)
    return FALSE;
  g_socket_set_timeout (sock, MAX (1, (timeout_ms + 999) / 1000));
  if (!g_socket_connect (sock, addr, NULL, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no instance named %s is running",
                   name);
      return FALSE;
    }
  request = g_strdup_printf ("%s\n", line);
  if (g_socket_send (sock, request, strlen (request), NULL, error) < 0
      || !read_all (sock, text, error) || !split_status (text, ok, error))
    return FALSE;
  g_string_append_len (reply, text->str, (gssize) text->len);
  return TRUE;
}
