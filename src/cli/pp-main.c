/* SPDX-License-Identifier: MIT
 *
 * pp-main: `peerport COMMAND [ARGS]`, a WireGuard-style dispatch table.  It
 * only finds the subcommand and prints the overall help; each subcommand
 * parses its own flags and owns its exit code.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/pp-cli.h"
#include "signal/pp-signal-client.h"

static const PpCliCommand commands[] = {
#ifdef PP_HAVE_WEBRTC
  { "host", "share TCP services with a peer (creates a join URL)", pp_cmd_host },
  { "join", "reach a host's services through local listeners", pp_cmd_join },
#endif
  { "signal", "run a signaling server (HTTP long polls, STUN)", pp_cmd_signal },
  { "ctl", "send a console command to a running host or join", pp_cmd_ctl },
  { "doctor", "check the signaling server, STUN and this NAT", pp_cmd_doctor },
};

void
pp_cli_error (const char *context, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "peerport: %s: %s\n", context, msg);
}

gboolean
pp_cli_parse_options (int *argc, char ***argv, GOptionEntry *entries, GError **error)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);

  g_option_context_set_help_enabled (ctx, FALSE);
  g_option_context_add_main_entries (ctx, entries, NULL);
  return g_option_context_parse (ctx, argc, argv, error);
}

int
pp_cli_usage_error (const char *name, const GError *error)
{
  pp_cli_error ("usage", "%s; see 'peerport %s --help'", error->message, name);
  return PP_EXIT_USAGE;
}

int
pp_cli_signal_exit_code (const GError *error)
{
  if (error->domain != PP_SIGNAL_CLIENT_ERROR)
    return PP_EXIT_UNAVAILABLE;
  switch ((PpSignalClientError) error->code)
    {
    case PP_SIGNAL_CLIENT_ERROR_EXPIRED:
    case PP_SIGNAL_CLIENT_ERROR_TAKEN:
      return PP_EXIT_EXPIRED;
    case PP_SIGNAL_CLIENT_ERROR_DECLINED:
      return PP_EXIT_DECLINED;
    case PP_SIGNAL_CLIENT_ERROR_PIN_MISMATCH:
    case PP_SIGNAL_CLIENT_ERROR_BAD_REVEAL:
    case PP_SIGNAL_CLIENT_ERROR_REFUSED:
      return PP_EXIT_PROTOCOL;
    case PP_SIGNAL_CLIENT_ERROR_UNAVAILABLE:
      return PP_EXIT_UNAVAILABLE;
    case PP_SIGNAL_CLIENT_ERROR_BAD_URL:
      return PP_EXIT_USAGE;
    }
  return PP_EXIT_UNAVAILABLE;
}

static void
usage (FILE *out)
{
  fprintf (out, "Usage: peerport COMMAND [OPTIONS]\n"
                "\n"
                "Share TCP services with a peer over an end-to-end encrypted WebRTC\n"
                "DataChannel.\n"
                "\n"
                "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\n"
                "Run 'peerport COMMAND --help' for a command's options.\n"
                "\n"
                "Exit status: 0 ok, 64 usage, 66 unreadable input file, 68 unknown or\n"
                "expired session, 69 unavailable, 75 temporary failure, 76 protocol\n"
                "error, 77 declined.\n");
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      usage (stderr);
      return PP_EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return PP_EXIT_OK;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("peerport %s\n", PP_VERSION);
      return PP_EXIT_OK;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);
  pp_cli_error ("usage", "unknown command '%s'; try 'peerport --help'", argv[1]);
  return PP_EXIT_USAGE;
}
