/* SPDX-License-Identifier: MIT
 *
 * --stun, --turn and --window as `host` and `join` parse them: accepted URIs
 * and what reaches the WebRTC config, the errors a person sees, the
 * PEERPORT_STUN/PEERPORT_TURN defaults, `none`, and the default STUN server.
 * Only numeric addresses and localhost are resolved (no network).
 */
#include "cli/pp-ice-flags.h"

#include <string.h>

typedef struct
{
  const char *stun;            /* one --stun value, or NULL */
  const char *turn;            /* one --turn value, or NULL */
  const char *error;           /* expected error substring; NULL = success */
  const char *stun_host;       /* expected after resolve + apply */
  guint stun_port;
  const char *turn_host;
  guint turn_port;
  const char *user, *pass;
  gboolean tcp;
} Case;

static const Case cases[] = {
  { "stun:192.0.2.1", NULL, NULL, "192.0.2.1", 3478 },
  { "stun:192.0.2.1:19302", NULL, NULL, "192.0.2.1", 19302 },
  { "STUN:[2001:db8::1]:5349", NULL, NULL, "2001:db8::1", 5349 },
  { "stun:localhost:3478", NULL, NULL, "127.0.0.1", 3478 },
  { "none", NULL, NULL, NULL, 0 },
  { NULL, "turn:alice:secret@192.0.2.2", NULL, NULL, 0, "192.0.2.2", 3478, "alice", "secret" },
  { NULL, "turn:alice:s:e@192.0.2.2:443?transport=tcp", NULL, NULL, 0, "192.0.2.2", 443,
    "alice", "s:e", TRUE },
  { NULL, "turn:a%40b:p%40ss@[::1]?transport=udp", NULL, NULL, 0, "::1", 3478, "a@b", "p@ss" },
  { NULL, "turn:u:@192.0.2.3", NULL, NULL, 0, "192.0.2.3", 3478, "u", "" },
  { NULL, "turn:host", "bad --turn \"turn:host\": expected turn:USER:PASS@HOST[:PORT]" },
  { NULL, "turn:u:p@", "bad --turn \"turn:u:***@\": the host is empty" },
  { NULL, "turn:u@h", "USER must not be empty" },
  { NULL, "turn::p@h", "USER must not be empty" },
  { NULL, "turns:u:p@h", "turns: (TURN over TLS) is not supported" },
  { NULL, "turn:u:p@h?transport=sctp", "?transport=tcp or ?transport=udp" },
  { NULL, "turn:u:p@h:0", "the port must be 1 to 65535" },
  { NULL, "stun:h", "bad --turn \"stun:h\": expected turn:" },
  { "stun:", NULL, "the host is empty" },
  { "stun:h:65536", NULL, "the port must be 1 to 65535" },
  { "stun:h:12ab", NULL, "the port must be 1 to 65535" },
  { "stun:2001:db8::1", NULL, "an IPv6 address goes in brackets" },
  { "stun:[192.0.2.1]", NULL, "only an IPv6 address goes in brackets" },
  { "stun:[::1", NULL, "unclosed" },
  { "stun:a b", NULL, "must be a name or an address" },
  { "stun:a\x01", NULL, "\\x01" },
  { "192.0.2.1", NULL, "expected stun:HOST[:PORT] or none" },
  { "stuns:h", NULL, "stuns: (STUN over TLS) is not supported" },
};

static void
test_cases (void)
{
  g_unsetenv ("PEERPORT_STUN");
  g_unsetenv ("PEERPORT_TURN");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      char *stun[] = { (char *) c->stun, NULL };
      char *turn[] = { (char *) c->turn, NULL };
      g_autoptr (GError) error = NULL;
      g_autoptr (PpIceFlags) f = pp_ice_flags_new (stun, turn, &error);
      PpWebrtcConfig cfg;

      g_test_message ("case %u: %s %s", i, c->stun ? c->stun : "-", c->turn ? c->turn : "-");
      if (c->error != NULL)
        {
          g_assert_null (f);
          g_assert_nonnull (error);
          g_assert_nonnull (strstr (error->message, c->error));
          g_assert_null (strstr (error->message, "secret"));
          continue;
        }
      g_assert_no_error (error);
      g_assert_true (pp_ice_flags_resolve (f, NULL, 0, &error));
      g_assert_no_error (error);
      pp_webrtc_config_init (&cfg);
      pp_ice_flags_apply (f, &cfg);
      g_assert_cmpstr (cfg.stun_host, ==, c->stun_host);
      g_assert_cmpuint (cfg.stun_port, ==, c->stun_port);
      g_assert_cmpuint (cfg.n_turn, ==, c->turn_host != NULL ? 1 : 0);
      if (c->turn_host == NULL)
        continue;
      g_assert_cmpstr (cfg.turn[0].host, ==, c->turn_host);
      g_assert_cmpuint (cfg.turn[0].port, ==, c->turn_port);
      g_assert_cmpstr (cfg.turn[0].username, ==, c->user);
      g_assert_cmpstr (cfg.turn[0].password, ==, c->pass);
      g_assert_cmpint (cfg.turn[0].tcp, ==, c->tcp);
      g_assert_true (pp_ice_flags_has_turn (f));
    }
}

static PpIceFlags *
resolved (char **stun, char **turn, const char *dflt, guint dflt_port)
{
  g_autoptr (GError) error = NULL;
  PpIceFlags *f = pp_ice_flags_new (stun, turn, &error);

  g_assert_no_error (error);
  g_assert_true (pp_ice_flags_resolve (f, dflt, dflt_port, &error));
  g_assert_no_error (error);
  return f;
}

static void
test_env (void)
{
  char *stun[] = { "stun:192.0.2.9:1000", NULL };
  g_autoptr (PpIceFlags) a = NULL, b = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  PpWebrtcConfig cfg;

  g_setenv ("PEERPORT_STUN", " stun:192.0.2.7 , stun:192.0.2.8", TRUE);
  g_setenv ("PEERPORT_TURN", "turn:u:p@192.0.2.5?transport=tcp,turn:v:q@192.0.2.6", TRUE);
  a = resolved (NULL, NULL, "192.0.2.100", 8080);
  pp_webrtc_config_init (&cfg);
  pp_ice_flags_apply (a, &cfg);
  /* The first STUN server only (libnice takes one), both TURN servers. */
  g_assert_cmpstr (cfg.stun_host, ==, "192.0.2.7");
  g_assert_cmpuint (cfg.n_turn, ==, 2);
  g_assert_true (cfg.turn[0].tcp);
  g_assert_cmpstr (cfg.turn[1].username, ==, "v");
  text = pp_ice_flags_describe (a);
  g_assert_cmpstr (text, ==, "STUN 192.0.2.7:3478, TURN 192.0.2.5:3478/tcp, "
                   "TURN 192.0.2.6:3478/udp");

  /* A flag beats its variable. */
  b = resolved (stun, NULL, NULL, 0);
  pp_ice_flags_apply (b, &cfg);
  g_assert_cmpstr (cfg.stun_host, ==, "192.0.2.9");
  g_assert_cmpuint (cfg.stun_port, ==, 1000);

  g_setenv ("PEERPORT_TURN", "turn:nope", TRUE);
  g_assert_null (pp_ice_flags_new (NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "bad PEERPORT_TURN entry \"turn:nope\""));
  g_unsetenv ("PEERPORT_STUN");
  g_unsetenv ("PEERPORT_TURN");
}

static void
test_default (void)
{
  char *none[] = { "none", NULL };
  char *both[] = { "none", "stun:192.0.2.1", NULL };
  g_autoptr (PpIceFlags) a = NULL, b = NULL, c = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  PpWebrtcConfig cfg;

  g_unsetenv ("PEERPORT_STUN");
  g_unsetenv ("PEERPORT_TURN");
  a = resolved (NULL, NULL, "[::1]", 7080);
  pp_webrtc_config_init (&cfg);
  pp_ice_flags_apply (a, &cfg);
  g_assert_cmpstr (cfg.stun_host, ==, "::1");
  g_assert_cmpuint (cfg.stun_port, ==, 7080);
  text = pp_ice_flags_describe (a);
  g_assert_cmpstr (text, ==, "STUN [::1]:7080");

  b = resolved (none, NULL, "192.0.2.1", 7080);
  pp_ice_flags_apply (b, &cfg);
  g_assert_null (cfg.stun_host);
  g_clear_pointer (&text, g_free);
  text = pp_ice_flags_describe (b);
  g_assert_cmpstr (text, ==, "no STUN or TURN server");

  c = resolved (NULL, NULL, NULL, 0);
  pp_ice_flags_apply (c, &cfg);
  g_assert_null (cfg.stun_host);
  g_assert_cmpuint (cfg.n_turn, ==, 0);

  g_assert_null (pp_ice_flags_new (both, NULL, &error));
  g_assert_nonnull (strstr (error->message, "--stun none cannot be combined"));
}

typedef struct
{
  const char *text;
  uint32_t value;              /* 0: an error containing @error */
  const char *error;
} WindowCase;

static const WindowCase windows[] = {
  { "4096", 4096 }, { "1048576", 1048576 }, { "512K", 512 * 1024 }, { "512k", 512 * 1024 },
  { "4KiB", 4096 }, { "1M", 1048576 }, { "16MiB", 16 << 20 }, { "128MiB", 128u << 20 },
  { "4095", 0, "too small" }, { "3K", 0, "too small" }, { "129M", 0, "too large" },
  { "1G", 0, "too large" }, { "99999999999999999999999", 0, "too large" },
  { "", 0, "expected BYTES" }, { "-1", 0, "expected BYTES" }, { "1.5M", 0, "suffix" },
  { "4 KiB", 0, "suffix" }, { "4KB", 0, "suffix" },
};

static void
test_window (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (windows); i++)
    {
      g_autoptr (GError) error = NULL;
      uint32_t v = 0;
      gboolean ok = pp_parse_window (windows[i].text, &v, &error);

      g_test_message ("window \"%s\"", windows[i].text);
      if (windows[i].value != 0)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpuint (v, ==, windows[i].value);
          continue;
        }
      g_assert_false (ok);
      g_assert_nonnull (strstr (error->message, windows[i].error));
      g_assert_true (g_str_has_prefix (error->message, "bad --window"));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/ice-flags/cases", test_cases);
  g_test_add_func ("/cli/ice-flags/env", test_env);
  g_test_add_func ("/cli/ice-flags/default", test_default);
  g_test_add_func ("/cli/window/parse", test_window);
  return g_test_run ();
}
