/* test_error.c -- status codes, the thread-local last error and the handler
 * (spikeloop/error.h).
 *
 * Thread-locality is checked with POSIX threads (always) and, when built
 * with OpenMP, with an OpenMP team as well: each thread raises its own
 * error, all wait at a barrier, then each must still see its own message
 * and code, and the main thread's error must be untouched.
 */
#include "config.h"
#include "spikeloop/error.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "testutil.h"

static void test_record(void)
{
  sl_clear_error();
  CU_ASSERT(strcmp(sl_last_error(), "") == 0);
  CU_ASSERT(sl_last_error_code() == SL_OK);
  int rc = sl_error(SL_ESHAPE, "shape %zu x %d of '%s'", (size_t)3, 4, "w_in");
  CU_ASSERT(rc == SL_ESHAPE);
  CU_ASSERT(strcmp(sl_last_error(), "shape 3 x 4 of 'w_in'") == 0);
  CU_ASSERT(sl_last_error_code() == SL_ESHAPE);
  /* the next error replaces the previous one */
  CU_ASSERT(sl_error(SL_EIO, "cannot open %s", "/x") == SL_EIO);
  CU_ASSERT(strcmp(sl_last_error(), "cannot open /x") == 0);
  CU_ASSERT(sl_last_error_code() == SL_EIO);
  sl_clear_error();
  CU_ASSERT(strcmp(sl_last_error(), "") == 0);
  CU_ASSERT(sl_last_error_code() == SL_OK);

  /* a message longer than the buffer is truncated, never overflows */
  char big[4096];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  CU_ASSERT(sl_error(SL_EINVAL, "%s", big) == SL_EINVAL);
  size_t len = strlen(sl_last_error());
  printf("\n    a %zu-character message is kept as %zu characters ", strlen(big), len);
  CU_ASSERT(len > 100 && len < sizeof big - 1);
  CU_ASSERT(strncmp(sl_last_error(), big, len) == 0);
  sl_clear_error();
}

static void test_strerror(void)
{
  const int codes[] = {SL_OK,     SL_EINVAL, SL_ENOMEM,  SL_EIO,          SL_EFORMAT,
                       SL_ENOTFOUND, SL_ESHAPE, SL_ENUMERIC, SL_EUNSUPPORTED, SL_ERANGE};
  const size_t n = sizeof codes / sizeof codes[0];
  const char *unknown = sl_strerror(12345);
  CU_ASSERT_FATAL(unknown != NULL);
  CU_ASSERT(sl_strerror(-1) != NULL);
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT(codes[i] == (int)i); /* the documented values 0..9 */
    const char *s = sl_strerror(codes[i]);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(s[0] != '\0');
    CU_ASSERT(strcmp(s, unknown) != 0);
    for (size_t j = 0; j < i; j++)
      CU_ASSERT(strcmp(s, sl_strerror(codes[j])) != 0); /* all distinct */
  }
}

/* ------------------------------------------------------------ handler */

typedef struct {
  int calls, code;
  char message[256];
  int message_was_recorded; /* sl_last_error() already held it */
} handler_log;

static void handler(int code, const char *message, void *user)
{
  handler_log *log = user;
  log->calls++;
  log->code = code;
  snprintf(log->message, sizeof log->message, "%s", message);
  log->message_was_recorded = strcmp(sl_last_error(), message) == 0;
}

static void test_handler(void)
{
  handler_log log = {0};
  sl_error_handler_fn old = sl_set_error_handler(handler, &log);
  CU_ASSERT(old == NULL); /* the default is no handler */
  CU_ASSERT(sl_error(SL_ENUMERIC, "value %g", 1.5) == SL_ENUMERIC);
  CU_ASSERT(log.calls == 1);
  CU_ASSERT(log.code == SL_ENUMERIC);
  CU_ASSERT(strcmp(log.message, "value 1.5") == 0);
  CU_ASSERT(log.message_was_recorded);
  CU_ASSERT(sl_error(SL_ERANGE, "second") == SL_ERANGE);
  CU_ASSERT(log.calls == 2 && log.code == SL_ERANGE && strcmp(log.message, "second") == 0);
  /* removing it returns it, and it is no longer called */
  CU_ASSERT(sl_set_error_handler(NULL, NULL) == handler);
  CU_ASSERT(sl_error(SL_EINVAL, "third") == SL_EINVAL);
  CU_ASSERT(log.calls == 2);
  CU_ASSERT(strcmp(sl_last_error(), "third") == 0); /* still recorded */
  sl_clear_error();
}

/* ------------------------------------------------------------ threads */

#define NTHREADS 4

static pthread_barrier_t barrier;

typedef struct {
  int index, ok_before, ok_after, clean_start;
} thread_arg;

static int expect_own(int index)
{
  char want[64];
  snprintf(want, sizeof want, "error of thread %d", index);
  return strcmp(sl_last_error(), want) == 0 && sl_last_error_code() == SL_EINVAL + index;
}

static void *thread_main(void *p)
{
  thread_arg *a = p;
  a->clean_start = sl_last_error()[0] == '\0' && sl_last_error_code() == SL_OK;
  sl_error(SL_EINVAL + a->index, "error of thread %d", a->index);
  a->ok_before = expect_own(a->index);
  pthread_barrier_wait(&barrier); /* everyone has written */
  a->ok_after = expect_own(a->index);
  pthread_barrier_wait(&barrier); /* nobody clears before everyone has read */
  sl_clear_error();
  return NULL;
}

static void test_thread_local_pthreads(void)
{
  sl_error(SL_EFORMAT, "main thread");
  pthread_t th[NTHREADS];
  thread_arg args[NTHREADS];
  CU_ASSERT_FATAL(pthread_barrier_init(&barrier, NULL, NTHREADS) == 0);
  for (int i = 0; i < NTHREADS; i++) {
    args[i] = (thread_arg){i, 0, 0, 0};
    CU_ASSERT_FATAL(pthread_create(&th[i], NULL, thread_main, &args[i]) == 0);
  }
  int ok = 1;
  for (int i = 0; i < NTHREADS; i++) {
    pthread_join(th[i], NULL);
    if (!(args[i].clean_start && args[i].ok_before && args[i].ok_after))
      printf("\n    thread %d: clean start %d, own error before %d / after barrier %d", i,
             args[i].clean_start, args[i].ok_before, args[i].ok_after);
    ok &= args[i].clean_start && args[i].ok_before && args[i].ok_after;
  }
  pthread_barrier_destroy(&barrier);
  CU_ASSERT(ok);
  CU_ASSERT(strcmp(sl_last_error(), "main thread") == 0);
  CU_ASSERT(sl_last_error_code() == SL_EFORMAT);
  sl_clear_error();
}

static void test_thread_local_openmp(void)
{
#ifdef _OPENMP
  int ok[NTHREADS] = {0}, team = 0;
  sl_error(SL_EFORMAT, "main thread");
#pragma omp parallel num_threads(NTHREADS)
  {
    int i = omp_get_thread_num();
#pragma omp single
    team = omp_get_num_threads();
    if (i != 0) /* the master is the main thread: keep its error for the check below */
      sl_error(SL_EINVAL + i, "error of thread %d", i);
#pragma omp barrier
    if (i != 0)
      ok[i] = expect_own(i);
    else
      ok[i] = strcmp(sl_last_error(), "main thread") == 0;
  }
  printf("\n    OpenMP team of %d threads ", team);
  CU_ASSERT(team == NTHREADS);
  for (int i = 0; i < team && i < NTHREADS; i++)
    CU_ASSERT(ok[i]);
  CU_ASSERT(strcmp(sl_last_error(), "main thread") == 0);
  sl_clear_error();
#else
  printf("\n    built without OpenMP: pthreads only ");
  CU_ASSERT(1);
#endif
}

int main(void)
{
  static const sl_test_case cases[] = {{"sl_error records message and code", test_record},
                                       {"sl_strerror of every code", test_strerror},
                                       {"error handler", test_handler},
                                       {"thread-local messages (pthreads)", test_thread_local_pthreads},
                                       {"thread-local messages (OpenMP)", test_thread_local_openmp},
                                       {NULL, NULL}};
  return sl_test_run("error", cases);
}
