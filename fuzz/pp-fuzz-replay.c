/* SPDX-License-Identifier: MIT
 *
 * Corpus replay driver: a main() that feeds every file named on the command line (or found
 * directly inside a directory named there) to a fuzz target's LLVMFuzzerTestOneInput, and reports
 * one TAP result per input. It lets every corpus run as an ordinary test without libFuzzer. It
 * must not mutate inputs or hide overreads: each input is copied into a buffer of its exact size.
 */

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv) __attribute__ ((weak));

/* Runs one input from a buffer of exactly @size bytes, as libFuzzer does. */
static void
run_one (const uint8_t *data, size_t size)
{
  uint8_t *copy = malloc (size);

  if (size > 0)
    memcpy (copy, data, size);
  LLVMFuzzerTestOneInput (copy, size);
  free (copy);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Appends the regular, non-hidden files directly inside @dir, sorted so runs are repeatable. */
static gboolean
collect_dir (const char *dir, GPtrArray *paths, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (d == NULL)
    return FALSE;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (name[0] != '.')
        g_ptr_array_add (names, g_build_filename (dir, name, NULL));
    }
  g_ptr_array_sort (names, compare_names);
  for (unsigned int i = 0; i < names->len; i++)
    {
      const char *path = g_ptr_array_index (names, i);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (paths, g_strdup (path));
    }
  return TRUE;
}

/* Expands the arguments into a list of files; a missing path is reported, not skipped. */
static GPtrArray *
collect_inputs (int argc, char **argv, GPtrArray *errors)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);

  for (int i = 1; i < argc; i++)
    {
      g_autoptr (GError) error = NULL;

      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          if (!collect_dir (argv[i], paths, &error))
            g_ptr_array_add (errors, g_strdup (error->message));
        }
      else if (g_file_test (argv[i], G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (paths, g_strdup (argv[i]));
      else
        g_ptr_array_add (errors, g_strdup_printf ("%s: no such file or directory", argv[i]));
    }
  return paths;
}

static gboolean
replay_file (const char *path, unsigned int n)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      printf ("not ok %u %s # %s\n", n, path, error->message);
      return FALSE;
    }
  /* Said on stderr first so that a crash report names the input that caused it. */
  fprintf (stderr, "replaying %s (%" G_GSIZE_FORMAT " bytes)\n", path, len);
  run_one ((const uint8_t *) contents, len);
  printf ("ok %u %s\n", n, path);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) paths = NULL;
  unsigned int n = 1;
  int status = 0;

  setvbuf (stdout, NULL, _IOLBF, 0);
  if (LLVMFuzzerInitialize != NULL)
    LLVMFuzzerInitialize (&argc, &argv);
  paths = collect_inputs (argc, argv, errors);
  printf ("1..%u\n", paths->len + errors->len + 1);

  /* libFuzzer always tries the empty input first; so do we. */
  fprintf (stderr, "replaying the empty input\n");
  run_one ((const uint8_t *) "", 0);
  printf ("ok %u (empty input)\n", n++);

  for (unsigned int i = 0; i < errors->len; i++)
    {
      printf ("not ok %u %s\n", n++, (const char *) g_ptr_array_index (errors, i));
      status = 1;
    }
  for (unsigned int i = 0; i < paths->len; i++)
    {
      if (!replay_file (g_ptr_array_index (paths, i), n++))
        status = 1;
    }
  return status;
}
