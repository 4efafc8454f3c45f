/* SPDX-License-Identifier: MIT
 *
 * pp-dtls: OpenSSL 3 DTLS 1.2 glue.  Traps from research/webrtc-c.md §3:
 * never a memory BIO for output (it glues fragments into one oversized
 * datagram), the MTU set by hand (1200 for the handshake, the record limit
 * after it), the retransmission timer driven from a GLib source, and the
 * fingerprint checked in the verify callback so a mismatch aborts the
 * handshake with an alert.  Nothing blocks; nothing here knows about ICE.
 */
#include "pp-dtls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#include "pp-sdp.h"
#include "transport/pp-transport.h"

#define EARLY_MAX 32            /* datagrams kept before the role is known */
#define HANDSHAKE_GIVE_UP_US (30 * G_USEC_PER_SEC)

struct _PpDtlsCert
{
  int ref_count;
  EVP_PKEY *key;
  X509 *x509;
  uint8_t fp[PP_SDP_FINGERPRINT_LEN];
};

typedef enum
{
  DTLS_NEW,                     /* role unknown: datagrams are kept */
  DTLS_HANDSHAKE,
  DTLS_OPEN,
  DTLS_CLOSED,
} DtlsState;

struct _PpDtls
{
  PpDtlsCert *cert;
  GMainContext *context;
  PpDtlsCallbacks cb;
  gpointer user_data;
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *rbio;                    /* owned by ssl */
  DtlsState state;
  gboolean have_fp;
  uint8_t remote_fp[PP_SDP_FINGERPRINT_LEN];
  char *verify_error;
  GPtrArray *early;             /* GBytes */
  GSource *timer;
  gint64 started_us;
  gint64 last_rx_us;
  guint depth;                  /* nested entries from outside */
  gboolean free_pending;
};

static BIO_METHOD *out_method;

static void enter (PpDtls *d);
static gboolean leave (PpDtls *d);

/* ---- certificate ---- */

static gboolean
fail_ssl (GError **error, const char *what)
{
  char buf[256] = "";

  ERR_error_string_n (ERR_get_error (), buf, sizeof buf);
  g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED, "DTLS: %s: %s", what, buf);
  ERR_clear_error ();
  return FALSE;
}

static gboolean
build_x509 (PpDtlsCert *c, GError **error)
{
  X509_NAME *name;
  ASN1_INTEGER *serial = X509_get_serialNumber (c->x509);
  unsigned char rnd[16];
  char cn[33];
  unsigned int len = 0;
  BIGNUM *bn;

  if (RAND_bytes (rnd, sizeof rnd) != 1)
    return fail_ssl (error, "no randomness");
  rnd[0] &= 0x7F;
  bn = BN_bin2bn (rnd, sizeof rnd, NULL);
  BN_to_ASN1_INTEGER (bn, serial);
  BN_free (bn);
  for (size_t i = 0; i < 16; i++)
    g_snprintf (cn + 2 * i, 3, "%02x", rnd[i]);
  name = X509_get_subject_name (c->x509);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
  X509_set_issuer_name (c->x509, name);
  X509_set_version (c->x509, 2);
  X509_gmtime_adj (X509_getm_notBefore (c->x509), -3600);
  X509_gmtime_adj (X509_getm_notAfter (c->x509), 365L * 24 * 3600);
  if (X509_set_pubkey (c->x509, c->key) != 1 || X509_sign (c->x509, c->key, EVP_sha256 ()) == 0)
    return fail_ssl (error, "cannot sign the certificate");
  if (X509_digest (c->x509, EVP_sha256 (), c->fp, &len) != 1 || len != sizeof c->fp)
    return fail_ssl (error, "cannot digest the certificate");
  return TRUE;
}

PpDtlsCert *
pp_dtls_cert_new (GError **error)
{
  PpDtlsCert *c = g_new0 (PpDtlsCert, 1);

  c->ref_count = 1;
  c->key = EVP_EC_gen ("prime256v1");
  c->x509 = X509_new ();
  if (c->key == NULL || c->x509 == NULL)
    {
      fail_ssl (error, "cannot make an ECDSA P-256 key");
      pp_dtls_cert_unref (c);
      return NULL;
    }
  if (!build_x509 (c, error))
    {
      pp_dtls_cert_unref (c);
      return NULL;
    }
  return c;
}

static PpDtlsCert *default_cert;

static void
drop_default_cert (void)
{
  g_clear_pointer (&default_cert, pp_dtls_cert_unref);
  g_clear_pointer (&out_method, BIO_meth_free);
}

PpDtlsCert *
pp_dtls_cert_get_default (GError **error)
{
  if (default_cert == NULL)
    {
      default_cert = pp_dtls_cert_new (error);
      if (default_cert != NULL)
        atexit (drop_default_cert);
    }
  return default_cert != NULL ? pp_dtls_cert_ref (default_cert) : NULL;
}

PpDtlsCert *
pp_dtls_cert_ref (PpDtlsCert *cert)
{
  cert->ref_count++;
  return cert;
}

void
pp_dtls_cert_unref (PpDtlsCert *cert)
{
  if (cert == NULL || --cert->ref_count > 0)
    return;
  EVP_PKEY_free (cert->key);
  X509_free (cert->x509);
  g_free (cert);
}

const uint8_t *
pp_dtls_cert_get_fingerprint (PpDtlsCert *cert)
{
  return cert->fp;
}

/* ---- output BIO: one write, one datagram ---- */

static int
out_write (BIO *bio, const char *data, int len)
{
  PpDtls *d = BIO_get_data (bio);

  if (len <= 0)
    return 0;
  if (d != NULL && d->cb.send_cb != NULL)
    d->cb.send_cb ((const uint8_t *) data, (size_t) len, d->user_data);
  return len;
}

static long
out_ctrl (BIO *bio, int cmd, long num, void *ptr)
{
  switch (cmd)
    {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
      return PP_DTLS_HANDSHAKE_MTU;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
    default:
      return 0;
    }
}

static int
out_create (BIO *bio)
{
  BIO_set_init (bio, 1);
  return 1;
}

static BIO_METHOD *
get_out_method (void)
{
  if (out_method == NULL)
    {
      out_method = BIO_meth_new (BIO_get_new_index () | BIO_TYPE_SOURCE_SINK, "pp-datagram");
      BIO_meth_set_write (out_method, out_write);
      BIO_meth_set_ctrl (out_method, out_ctrl);
      BIO_meth_set_create (out_method, out_create);
    }
  return out_method;
}

/* ---- verification ---- */

static int
verify_cb (int preverify_ok, X509_STORE_CTX *store)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data (store, SSL_get_ex_data_X509_STORE_CTX_idx ());
  PpDtls *d = SSL_get_app_data (ssl);
  X509 *leaf = X509_STORE_CTX_get0_cert (store);
  uint8_t got[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  char want_s[96], got_s[96];

  (void) preverify_ok;   /* self-signed: the chain is meaningless, the fingerprint is all */
  if (leaf == NULL || X509_digest (leaf, EVP_sha256 (), got, &len) != 1 || len != 32)
    return 0;
  if (d->have_fp && memcmp (got, d->remote_fp, 32) == 0)
    return 1;
  pp_sdp_fingerprint_format (d->remote_fp, want_s);
  pp_sdp_fingerprint_format (got, got_s);
  if (d->verify_error == NULL)
    d->verify_error = g_strdup_printf ("DTLS: peer certificate fingerprint mismatch "
                                       "(SDP says %s, certificate is %s)", want_s, got_s);
  return 0;
}

/* ---- state ---- */

static void
stop_timer (PpDtls *d)
{
  if (d->timer != NULL)
    {
      g_source_destroy (d->timer);
      g_clear_pointer (&d->timer, g_source_unref);
    }
}

static void
fail (PpDtls *d, gboolean error, const char *reason)
{
  if (d->state == DTLS_CLOSED)
    return;
  d->state = DTLS_CLOSED;
  stop_timer (d);
  if (d->cb.closed_cb != NULL)
    d->cb.closed_cb (error, reason, d->user_data);
}

static void
fail_with_queue (PpDtls *d, const char *what)
{
  char buf[256] = "";
  g_autofree char *msg = NULL;

  ERR_error_string_n (ERR_peek_last_error (), buf, sizeof buf);
  ERR_clear_error ();
  msg = d->verify_error != NULL ? g_strdup (d->verify_error)
                                : g_strdup_printf ("DTLS: %s: %s", what, buf);
  fail (d, TRUE, msg);
}

static void arm_timer (PpDtls *d);

static gboolean
timer_cb (gpointer data)
{
  PpDtls *d = data;

  g_clear_pointer (&d->timer, g_source_unref);
  if (d->state != DTLS_HANDSHAKE)
    return G_SOURCE_REMOVE;
  if (g_get_monotonic_time () - d->started_us > HANDSHAKE_GIVE_UP_US)
    {
      fail (d, TRUE, "DTLS: handshake timed out (30 s)");
      return G_SOURCE_REMOVE;
    }
  enter (d);
  if (DTLSv1_handle_timeout (d->ssl) < 0)
    fail_with_queue (d, "retransmission failed");
  else
    arm_timer (d);
  leave (d);
  return G_SOURCE_REMOVE;
}

static void
arm_timer (PpDtls *d)
{
  struct timeval tv = { 0, 0 };
  guint ms;

  stop_timer (d);
  if (d->state != DTLS_HANDSHAKE || DTLSv1_get_timeout (d->ssl, &tv) != 1)
    return;
  ms = (guint) (tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
  d->timer = g_timeout_source_new (MAX (ms, 1u));
  g_source_set_callback (d->timer, timer_cb, d, NULL);
  g_source_set_static_name (d->timer, "pp-dtls-retransmit");
  g_source_attach (d->timer, d->context);
}

static void
handshake_step (PpDtls *d)
{
  int r = SSL_do_handshake (d->ssl);

  if (r == 1)
    {
      d->state = DTLS_OPEN;
      stop_timer (d);
      /* SCTP packets are sized to the path; DTLS must never split them (RFC 8261 §5). */
      SSL_set_mtu (d->ssl, PP_DTLS_MAX_RECORD + 256);
      if (d->cb.connected_cb != NULL)
        d->cb.connected_cb (d->user_data);
      return;
    }
  switch (SSL_get_error (d->ssl, r))
    {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      arm_timer (d);
      return;
    default:
      fail_with_queue (d, "handshake failed");
      return;
    }
}

static void
read_records (PpDtls *d)
{
  uint8_t buf[PP_DTLS_MAX_RECORD + 64];

  while (d->state == DTLS_OPEN)
    {
      int n = SSL_read (d->ssl, buf, sizeof buf);
      if (n > 0)
        {
          if (d->cb.data_cb != NULL)
            d->cb.data_cb (buf, (size_t) n, d->user_data);
          continue;
        }
      switch (SSL_get_error (d->ssl, n))
        {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
          return;
        case SSL_ERROR_ZERO_RETURN:
          fail (d, FALSE, "peer closed the DTLS session (close_notify)");
          return;
        default:
          fail_with_queue (d, "read failed");
          return;
        }
    }
}

/* ---- public ---- */

static SSL_CTX *
make_ctx (PpDtlsCert *cert)
{
  SSL_CTX *ctx = SSL_CTX_new (DTLS_method ());

  if (ctx == NULL)
    return NULL;
  SSL_CTX_set_min_proto_version (ctx, DTLS1_2_VERSION);
  SSL_CTX_set_options (ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_COMPRESSION
                              | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  /* Short, so the ClientHello is never fragmented (libdatachannel#1333). */
  SSL_CTX_set_cipher_list (ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                                "ECDHE-ECDSA-AES256-GCM-SHA384");
  SSL_CTX_set1_groups_list (ctx, "P-256:X25519");
  SSL_CTX_use_certificate (ctx, cert->x509);
  SSL_CTX_use_PrivateKey (ctx, cert->key);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
  SSL_CTX_set_quiet_shutdown (ctx, 0);
  SSL_CTX_set_read_ahead (ctx, 1);
  return ctx;
}

PpDtls *
pp_dtls_new (PpDtlsCert *cert, GMainContext *context, const PpDtlsCallbacks *callbacks,
             gpointer user_data)
{
  PpDtls *d = g_new0 (PpDtls, 1);
  BIO *wbio;

  d->cert = pp_dtls_cert_ref (cert);
  d->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  d->cb = *callbacks;
  d->user_data = user_data;
  d->early = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  d->ctx = make_ctx (cert);
  d->ssl = d->ctx ? SSL_new (d->ctx) : NULL;
  g_assert (d->ssl != NULL);
  SSL_set_app_data (d->ssl, d);
  /* Returns 0 on success; browsers do not need it, but pion aborts without it. */
  SSL_set_tlsext_use_srtp (d->ssl, "SRTP_AES128_CM_SHA1_80");
  d->rbio = BIO_new (BIO_s_mem ());
  BIO_set_mem_eof_return (d->rbio, -1);
  wbio = BIO_new (get_out_method ());
  BIO_set_data (wbio, d);
  SSL_set_bio (d->ssl, d->rbio, wbio);
  SSL_set_mtu (d->ssl, PP_DTLS_HANDSHAKE_MTU);
  DTLS_set_link_mtu (d->ssl, PP_DTLS_HANDSHAKE_MTU);
  return d;
}

static void
enter (PpDtls *d)
{
  d->depth++;
}

static void really_free (PpDtls *d);

/* Returns FALSE when @d is gone. */
static gboolean
leave (PpDtls *d)
{
  if (--d->depth > 0 || !d->free_pending)
    return TRUE;
  really_free (d);
  return FALSE;
}

/* Inside one of our callbacks the session is only closed and muted; the
 * outermost entry frees it on the way out. */
void
pp_dtls_free (PpDtls *d)
{
  if (d == NULL)
    return;
  stop_timer (d);
  d->state = DTLS_CLOSED;
  if (d->depth > 0)
    {
      memset (&d->cb, 0, sizeof d->cb);
      d->free_pending = TRUE;
      return;
    }
  really_free (d);
}

static void
really_free (PpDtls *d)
{
  BIO_set_data (SSL_get_wbio (d->ssl), NULL);
  SSL_free (d->ssl);
  SSL_CTX_free (d->ctx);
  g_ptr_array_unref (d->early);
  g_free (d->verify_error);
  g_main_context_unref (d->context);
  pp_dtls_cert_unref (d->cert);
  g_free (d);
}

void
pp_dtls_set_remote_fingerprint (PpDtls *d, const uint8_t fp[32])
{
  memcpy (d->remote_fp, fp, 32);
  d->have_fp = TRUE;
}

void
pp_dtls_start (PpDtls *d, gboolean client)
{
  g_autoptr (GPtrArray) early = NULL;

  g_return_if_fail (d->have_fp);
  if (d->state != DTLS_NEW)
    return;
  d->state = DTLS_HANDSHAKE;
  d->started_us = g_get_monotonic_time ();
  if (client)
    SSL_set_connect_state (d->ssl);
  else
    SSL_set_accept_state (d->ssl);
  early = g_steal_pointer (&d->early);
  d->early = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  enter (d);
  if (client)
    handshake_step (d);
  for (guint i = 0; i < early->len && d->state != DTLS_CLOSED; i++)
    {
      size_t len;
      const uint8_t *p = g_bytes_get_data (early->pdata[i], &len);
      pp_dtls_receive (d, p, len);
    }
  leave (d);
}

void
pp_dtls_receive (PpDtls *d, const uint8_t *data, size_t len)
{
  if (len == 0 || len > 65536)
    return;
  switch (d->state)
    {
    case DTLS_NEW:
      if (d->early->len < EARLY_MAX)
        g_ptr_array_add (d->early, g_bytes_new (data, len));
      return;
    case DTLS_CLOSED:
      return;
    case DTLS_HANDSHAKE:
    case DTLS_OPEN:
    default:
      break;
    }
  d->last_rx_us = g_get_monotonic_time ();
  BIO_write (d->rbio, data, (int) len);
  enter (d);
  if (d->state == DTLS_HANDSHAKE)
    handshake_step (d);
  read_records (d);
  leave (d);
}

gboolean
pp_dtls_send (PpDtls *d, const uint8_t *data, size_t len)
{
  int n;

  if (d->state != DTLS_OPEN || len == 0 || len > PP_DTLS_MAX_RECORD)
    return FALSE;
  n = SSL_write (d->ssl, data, (int) len);
  if (n == (int) len)
    return TRUE;
  ERR_clear_error ();
  return FALSE;
}

void
pp_dtls_close (PpDtls *d)
{
  if (d->state == DTLS_OPEN)
    SSL_shutdown (d->ssl);   /* sends close_notify; we do not wait for the peer's */
  ERR_clear_error ();
  d->state = DTLS_CLOSED;
  stop_timer (d);
}

gboolean
pp_dtls_is_connected (PpDtls *d)
{
  return d->state == DTLS_OPEN;
}

gint64
pp_dtls_get_last_receive_us (PpDtls *d)
{
  return d->last_rx_us;
}

const char *
pp_dtls_get_cipher (PpDtls *d)
{
  return SSL_get_cipher_name (d->ssl);
}
