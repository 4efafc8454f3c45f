/* SPDX-License-Identifier: MIT
 *
 * test-sdp: the SDP parser on browser samples (tests/data/webrtc/), on
 * hostile input, and a generate → parse round trip.
 */
#include "pp-sdp.h"

#include <string.h>

typedef struct
{
  const char *file;
  const char *ufrag;
  const char *pwd;
  PpSdpSetup setup;
  const char *mid;
  uint64_t max_message_size;
  guint candidates;
  guint skipped;
  uint8_t fp0;
  uint8_t fp31;
} SampleCase;

static const SampleCase samples[] = {
  { "chromium-offer.sdp", "Gx7W", "JfVjP7Kd0Cq6bNq3aH1Vw2Zm", PP_SDP_SETUP_ACTPASS, "0", 262144,
    3, 2, 0x2B, 0x42 },
  { "chromium-answer.sdp", "9ZkP", "7B1cK4wYq0pXz3Rr8TtUvNn2", PP_SDP_SETUP_ACTIVE, "0", 262144,
    0, 0, 0xA1, 0xF0 },
  { "firefox-offer.sdp", "1a2b3c4d", "e6b0b1fd2c3a4e5f60718293a4b5c6d7", PP_SDP_SETUP_ACTPASS, "0",
    1073741823, 1, 2, 0x0F, 0xDD },
  { "chromium-156-offer.sdp", "hwh1", "SkmmXTz2QZPfMScIxWU/F8mP", PP_SDP_SETUP_ACTPASS, "0",
    262144, 2, 0, 0x8A, 0x95 },
  { "chromium-156-answer.sdp", "yoI8", "DRg+MEvC0f6gAO6C6JOeHCrd", PP_SDP_SETUP_ACTIVE, "0",
    262144, 2, 0, 0x0D, 0x1C },
  { "session-level.sdp", "abcd", "0123456789abcdefghijklmn", PP_SDP_SETUP_PASSIVE, "datachannel",
    65536, 1, 0, 0x00, 0xFF },
};

static void
test_sample (gconstpointer data)
{
  const SampleCase *c = data;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "webrtc", c->file, NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  size_t len;
  PpSdp sdp;
  const char *reason = NULL;

  g_assert_true (g_file_get_contents (path, &text, &len, &error));
  g_assert_no_error (error);
  g_assert_cmpint (pp_sdp_parse (text, len, &sdp, &reason), ==, PP_SDP_OK);
  g_assert_cmpstr (sdp.ufrag, ==, c->ufrag);
  g_assert_cmpstr (sdp.pwd, ==, c->pwd);
  g_assert_cmpint (sdp.setup, ==, c->setup);
  g_assert_cmpstr (sdp.mid, ==, c->mid);
  g_assert_cmpstr (sdp.proto, ==, "UDP/DTLS/SCTP");
  g_assert_cmpuint (sdp.sctp_port, ==, 5000);
  g_assert_cmpuint (sdp.max_message_size, ==, c->max_message_size);
  g_assert_cmpuint (sdp.candidates->len, ==, c->candidates);
  g_assert_cmpuint (sdp.candidates_skipped, ==, c->skipped);
  g_assert_cmpuint (sdp.fingerprint[0], ==, c->fp0);
  g_assert_cmpuint (sdp.fingerprint[31], ==, c->fp31);
  for (guint i = 0; i < sdp.candidates->len; i++)
    {
      const char *cand = g_ptr_array_index (sdp.candidates, i);
      g_assert_true (g_str_has_prefix (cand, "a=candidate:"));
      g_assert_null (strpbrk (cand, "\r\n"));
    }
  pp_sdp_clear (&sdp);
}

typedef struct
{
  const char *name;
  const char *text;
  PpSdpStatus status;
} HostileCase;

#define FP "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:" \
           "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\n"
#define ICE "a=ice-ufrag:abcd\na=ice-pwd:0123456789abcdefghijklmn\n"
#define MLINE "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"

static const HostileCase hostile[] = {
  { "empty", "", PP_SDP_ERR_SYNTAX },
  { "not-sdp", "hello world\n", PP_SDP_ERR_SYNTAX },
  { "no-media", "v=0\n" ICE FP, PP_SDP_ERR_NO_DATA_SECTION },
  { "audio-only", "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\n" ICE FP, PP_SDP_ERR_NO_DATA_SECTION },
  { "port-zero", "v=0\nm=application 0 UDP/DTLS/SCTP webrtc-datachannel\n" ICE FP,
    PP_SDP_ERR_NO_DATA_SECTION },
  { "no-ufrag", "v=0\n" MLINE "a=ice-pwd:0123456789abcdefghijklmn\n" FP, PP_SDP_ERR_NO_ICE },
  { "short-ufrag", "v=0\n" MLINE "a=ice-ufrag:ab\na=ice-pwd:0123456789abcdefghijklmn\n" FP,
    PP_SDP_ERR_NO_ICE },
  { "short-pwd", "v=0\n" MLINE "a=ice-ufrag:abcd\na=ice-pwd:0123\n" FP, PP_SDP_ERR_NO_ICE },
  { "bad-ice-char", "v=0\n" MLINE "a=ice-ufrag:ab d\na=ice-pwd:0123456789abcdefghijklmn\n" FP,
    PP_SDP_ERR_NO_ICE },
  { "no-fingerprint", "v=0\n" MLINE ICE "a=setup:active\n", PP_SDP_ERR_NO_FINGERPRINT },
  { "sha1-only", "v=0\n" MLINE ICE "a=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:"
    "CC:DD:EE:FF:00:11:22:33\n", PP_SDP_ERR_NO_FINGERPRINT },
  { "short-fingerprint", "v=0\n" MLINE ICE "a=fingerprint:sha-256 00:11:22\n",
    PP_SDP_ERR_NO_FINGERPRINT },
  { "long-fingerprint", "v=0\n" MLINE ICE "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:"
    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00\n",
    PP_SDP_ERR_NO_FINGERPRINT },
  { "bad-setup", "v=0\n" MLINE ICE FP "a=setup:holdconn\n", PP_SDP_ERR_BAD_SETUP },
  { "minimal-ok", "v=0\n" MLINE ICE FP, PP_SDP_OK },
};

static void
test_hostile (gconstpointer data)
{
  const HostileCase *c = data;
  PpSdp sdp;
  const char *reason = NULL;
  PpSdpStatus st = pp_sdp_parse (c->text, strlen (c->text), &sdp, &reason);

  g_assert_cmpint (st, ==, c->status);
  if (st == PP_SDP_OK)
    {
      g_assert_cmpint (sdp.setup, ==, PP_SDP_SETUP_NONE);
      g_assert_cmpuint (sdp.max_message_size, ==, PP_SDP_DEFAULT_MAX_MESSAGE);
      pp_sdp_clear (&sdp);
      return;
    }
  g_assert_nonnull (reason);
  g_assert_null (sdp.ufrag);
  g_assert_null (sdp.candidates);
}

static void
test_embedded_nul (void)
{
  static const char text[] = "v=0\n" MLINE ICE FP "\0trailing";
  PpSdp sdp;

  g_assert_cmpint (pp_sdp_parse (text, sizeof text - 1, &sdp, NULL), ==, PP_SDP_ERR_SYNTAX);
}

static void
test_media_overrides_session (void)
{
  static const char text[] =
    "v=0\na=ice-ufrag:sess\na=ice-pwd:sessionsessionsession00\na=setup:passive\n" FP MLINE
    "a=ice-ufrag:medi\na=ice-pwd:mediamediamediamedia000\na=setup:active\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=ice-ufrag:second\n";
  PpSdp sdp;

  g_assert_cmpint (pp_sdp_parse (text, strlen (text), &sdp, NULL), ==, PP_SDP_OK);
  g_assert_cmpstr (sdp.ufrag, ==, "medi");
  g_assert_cmpstr (sdp.pwd, ==, "mediamediamediamedia000");
  g_assert_cmpint (sdp.setup, ==, PP_SDP_SETUP_ACTIVE);
  pp_sdp_clear (&sdp);
}

typedef struct
{
  const char *in;
  const char *out;   /* NULL: refused */
} CandCase;

static const CandCase cands[] = {
  { "candidate:1 1 udp 2122260223 192.168.0.196 46243 typ host generation 0",
    "a=candidate:1 1 udp 2122260223 192.168.0.196 46243 typ host generation 0" },
  { "a=candidate:1 1 UDP 1 ::1 5000 typ host\r\n", "a=candidate:1 1 UDP 1 ::1 5000 typ host" },
  { "candidate:1 1 udp 1 abc.local 5000 typ host", NULL },
  { "candidate:1 1 tcp 1 10.0.0.1 9 typ host tcptype active", NULL },
  { "candidate:1 2 udp 1 10.0.0.1 5000 typ host", NULL },
  { "candidate:1 1 udp 1 10.0.0.1 5000 host", NULL },
  { "candidate:1 1 udp", NULL },
  { "foo:1 1 udp 1 10.0.0.1 5000 typ host", NULL },
  { "candidate:1 1 udp 1 10.0.0.1 5000 typ host\x01", NULL },
};

static void
test_candidate (gconstpointer data)
{
  const CandCase *c = data;
  g_autofree char *got = pp_sdp_candidate_normalize (c->in, strlen (c->in));

  g_assert_cmpstr (got, ==, c->out);
}

static void
test_round_trip (void)
{
  uint8_t fp[PP_SDP_FINGERPRINT_LEN];
  const char *cand[] = { "candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host",
                         "a=candidate:2 1 udp 2122260222 10.1.2.3 40001 typ host", NULL };
  PpSdpLocal l = { .offer = FALSE, .session_id = G_MAXUINT64, .ufrag = "uFrG",
                   .pwd = "passwordpasswordpassword", .fingerprint = fp,
                   .setup = PP_SDP_SETUP_ACTIVE, .mid = "data", .max_message_size = 262144,
                   .candidates = cand };
  g_autofree char *text = NULL;
  PpSdp sdp;

  for (size_t i = 0; i < sizeof fp; i++)
    fp[i] = (uint8_t) (i * 7 + 1);
  text = pp_sdp_generate (&l);
  g_assert_nonnull (strstr (text, "o=- 4611686018427387903 2 IN IP4"));   /* < 2^62 */
  g_assert_nonnull (strstr (text, "a=group:BUNDLE data\r\n"));
  g_assert_cmpint (pp_sdp_parse (text, strlen (text), &sdp, NULL), ==, PP_SDP_OK);
  g_assert_cmpstr (sdp.ufrag, ==, "uFrG");
  g_assert_cmpstr (sdp.mid, ==, "data");
  g_assert_cmpint (sdp.setup, ==, PP_SDP_SETUP_ACTIVE);
  g_assert_cmpmem (sdp.fingerprint, sizeof fp, fp, sizeof fp);
  g_assert_cmpuint (sdp.candidates->len, ==, 2);
  g_assert_cmpuint (sdp.max_message_size, ==, 262144);
  pp_sdp_clear (&sdp);

  l.offer = TRUE;
  g_free (text);
  text = pp_sdp_generate (&l);
  g_assert_cmpint (pp_sdp_parse (text, strlen (text), &sdp, NULL), ==, PP_SDP_OK);
  g_assert_cmpint (sdp.setup, ==, PP_SDP_SETUP_ACTPASS);
  pp_sdp_clear (&sdp);
}

static void
test_fingerprint_text (void)
{
  uint8_t fp[PP_SDP_FINGERPRINT_LEN], back[PP_SDP_FINGERPRINT_LEN];
  char s[3 * PP_SDP_FINGERPRINT_LEN];

  for (size_t i = 0; i < sizeof fp; i++)
    fp[i] = (uint8_t) (255 - i);
  pp_sdp_fingerprint_format (fp, s);
  g_assert_cmpuint (strlen (s), ==, 95);
  g_assert_true (g_str_has_prefix (s, "FF:FE:FD"));
  g_assert_true (pp_sdp_fingerprint_parse (s, back));
  g_assert_cmpmem (fp, sizeof fp, back, sizeof back);
  s[94] = '\0';
  g_assert_false (pp_sdp_fingerprint_parse (s, back));
  g_assert_false (pp_sdp_fingerprint_parse ("", back));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (samples); i++)
    {
      g_autofree char *p = g_strdup_printf ("/sdp/unit/sample/%s", samples[i].file);
      g_test_add_data_func (p, &samples[i], test_sample);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      g_autofree char *p = g_strdup_printf ("/sdp/unit/hostile/%s", hostile[i].name);
      g_test_add_data_func (p, &hostile[i], test_hostile);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (cands); i++)
    {
      g_autofree char *p = g_strdup_printf ("/sdp/unit/candidate/%zu", i);
      g_test_add_data_func (p, &cands[i], test_candidate);
    }
  g_test_add_func ("/sdp/unit/embedded-nul", test_embedded_nul);
  g_test_add_func ("/sdp/unit/media-overrides-session", test_media_overrides_session);
  g_test_add_func ("/sdp/unit/round-trip", test_round_trip);
  g_test_add_func ("/sdp/unit/fingerprint-text", test_fingerprint_text);
  return g_test_run ();
}
