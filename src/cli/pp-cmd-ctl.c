/* SPDX-License-Identifier: MIT
 *
 * pp-cmd-ctl: `peerport ctl [--instance NAME] COMMAND...` — one console
 * command (DESIGN §7) sent to a running `peerport host` or `join` over its
 * control socket (pp-control), the answer printed.  It picks the only
 * instance or lists them; it never interprets the command (the instance's
 * console parses it) and never touches another user's sockets.
 */
#include <stdio.h>
#include <string.h>

#include "app/pp-control.h"
#include "cli/pp-cli.h"

#define PP_CTL_TIMEOUT_MS 10000
#define PP_CTL_EXIT_REFUSED 1

static const char ctl_help[] =
  "Usage: peerport ctl [--instance NAME] COMMAND...\n"
  "       peerport ctl [--instance NAME]\n"
  "\n"
  "Send one console command to a running 'peerport host' or 'peerport join' of\n"
  "this user, through its control socket in $XDG_RUNTIME_DIR/peerport (or\n"
  "~/.cache/peerport), and print the answer.  Without a COMMAND, list the\n"
  "instances that run (with --instance: ask it for its status).  The words\n"
  "of COMMAND are joined with spaces; quote a mapping that holds '>' for the\n"
  "shell.\n"
  "\n"
  "Options:\n"
  "  --instance NAME  the instance (host-PID or join-PID); needed when\n"
  "                   several run\n"
  "  -h, --help       show this help\n"
  "\n"
  "Commands (type 'help' at an instance for its own list):\n"
  "  join:  map MAPPING, unmap MAPPING|#ID, maps\n"
  "  host:  allow RULE, deny RULE|#ID [--keep], rules, invite\n"
  "  both:  status, conns, help, quit\n"
  "\n"
  "Examples:\n"
  "  peerport ctl map '8081=>127.0.0.1:81'\n"
  "  peerport ctl --instance join-4242 unmap '#2'\n"
  "  peerport ctl status\n"
  "\n"
  "Exit status: 0 the command succeeded (its answer on stdout), 1 the\n"
  "instance refused it (its answer on stderr), 64 usage (or several instances\n"
  "run and no --instance), 69 no instance runs or it cannot be reached, 75 it\n"
  "did not answer within 10 s.\n";

typedef struct
{
  const char *instance;
  gboolean help;
  char *command;           /* the words joined; NULL: list */
} CtlFlags;

/* Options come before the command; everything from the first other word
 * on is the command (so `deny #2 --keep` passes through). */
static gboolean
ctl_parse (int argc, char **argv, CtlFlags *f, GError **error)
{
  int i = 1;

  for (; i < argc; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        {
          i++;
          break;
        }
      if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
        f->help = TRUE;
      else if (strcmp (argv[i], "--instance") == 0 && i + 1 < argc)
        f->instance = argv[++i];
      else if (g_str_has_prefix (argv[i], "--instance="))
        f->instance = argv[i] + strlen ("--instance=");
      else if (argv[i][0] == '-' && argv[i][1] != '\0')
        return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                            "unknown option '%s' (or --instance without a NAME)", argv[i]),
               FALSE;
      else
        break;
    }
  if (i < argc)
    f->command = g_strjoinv (" ", argv + i);
  return TRUE;
}

static int
ctl_list (void)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = pp_control_list (&error);

  if (names == NULL)
    {
      pp_cli_error ("ctl", "%s", error->message);
      return PP_EXIT_UNAVAILABLE;
    }
  if (names[0] == NULL)
    {
      pp_cli_error ("ctl", "no peerport host or join of yours is running");
      return PP_EXIT_UNAVAILABLE;
    }
  for (guint i = 0; names[i] != NULL; i++)
    printf ("%s\n", names[i]);
  return PP_EXIT_OK;
}

/* The only instance, or NULL after saying why (*rc set). */
static char *
ctl_pick (int *rc)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = pp_control_list (&error);
  g_autofree char *all = NULL;

  *rc = PP_EXIT_UNAVAILABLE;
  if (names == NULL)
    {
      pp_cli_error ("ctl", "%s", error->message);
      return NULL;
    }
  if (names[0] == NULL)
    {
      pp_cli_error ("ctl", "no peerport host or join of yours is running");
      return NULL;
    }
  if (names[1] == NULL)
    return g_strdup (names[0]);
  all = g_strjoinv (", ", names);
  pp_cli_error ("ctl", "several instances run (%s); pick one with --instance NAME", all);
  *rc = PP_EXIT_USAGE;
  return NULL;
}

static void
ctl_print_refusal (const char *name, const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      pp_cli_error ("ctl", "%s: %s", name, lines[i]);
}

static int
ctl_send (const char *name, const char *command)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) reply = g_string_new (NULL);
  gboolean ok = FALSE;

  if (!pp_control_call (name, command, PP_CTL_TIMEOUT_MS, reply, &ok, &error))
    {
      pp_cli_error ("ctl", "%s: %s", name, error->message);
      return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ? PP_EXIT_TEMPFAIL
                                                                       : PP_EXIT_UNAVAILABLE;
    }
  if (!ok)
    {
      ctl_print_refusal (name, reply->str);
      return PP_CTL_EXIT_REFUSED;
    }
  fputs (reply->str, stdout);
  return PP_EXIT_OK;
}

int
pp_cmd_ctl (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *picked = NULL;
  CtlFlags f = { 0 };
  int rc;

  if (!ctl_parse (argc, argv, &f, &error))
    {
      return pp_cli_usage_error ("ctl", error);
    }
  if (f.help)
    {
      fputs (ctl_help, stdout);
      g_free (f.command);
      return PP_EXIT_OK;
    }
  if (f.command == NULL && f.instance == NULL)
    return ctl_list ();
  if (f.instance == NULL && (picked = ctl_pick (&rc)) == NULL)
    {
      g_free (f.command);
      return rc;
    }
  rc = ctl_send (f.instance != NULL ? f.instance : picked,
                 f.command != NULL ? f.command : "status");
  g_free (f.command);
  return rc;
}
