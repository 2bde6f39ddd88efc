/* spikeloop/error.h -- status codes and error reporting.
 *
 * Every function that can fail returns an int status: SL_OK (0) on success,
 * a positive SL_E* code otherwise. The message of the most recent error is
 * kept per thread (sl_last_error). An optional handler is called on every
 * error; the default handler does nothing. The library never exits or aborts.
 */
#ifndef SPIKELOOP_ERROR_H
#define SPIKELOOP_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
  SL_OK = 0,
  SL_EINVAL = 1,       /* invalid argument or parameter value */
  SL_ENOMEM = 2,       /* allocation failed */
  SL_EIO = 3,          /* file could not be opened, read or written */
  SL_EFORMAT = 4,      /* file content malformed, missing key or dataset */
  SL_ENOTFOUND = 5,    /* unknown name (surrogate, loss, backend, key) */
  SL_ESHAPE = 6,       /* array shapes do not agree */
  SL_ENUMERIC = 7,     /* NaN or Inf where a finite number is required */
  SL_EUNSUPPORTED = 8, /* feature not supported by this build or backend */
  SL_ERANGE = 9        /* value outside the allowed range */
};

/* Short fixed description of a status code ("invalid argument", ...). */
const char *sl_strerror(int code);

/* Message of the last error raised in this thread ("" if none). */
const char *sl_last_error(void);

/* Code of the last error raised in this thread (SL_OK if none). */
int sl_last_error_code(void);

/* Forget the last error of this thread. */
void sl_clear_error(void);

/* Handler called on every raised error (after the message is recorded). */
typedef void (*sl_error_handler_fn)(int code, const char *message, void *user);

/* Install a handler (NULL: none). Returns the previous one. Not thread-safe:
 * set it once at start-up. */
sl_error_handler_fn sl_set_error_handler(sl_error_handler_fn handler, void *user);

/* Record an error message (printf-style) for this thread, call the handler,
 * and return `code` so callers can write `return sl_error(SL_EINVAL, ...)`.
 * Backends and plugins use it too. */
int sl_error(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
