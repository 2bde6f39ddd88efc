/* error.c -- thread-local last-error message and a replaceable handler.
 *
 * The message buffer is thread-local so that OpenMP workers and callers in
 * different threads do not overwrite each other's diagnostics.
 */
#include "config.h"
#include "spikeloop/error.h"

#include <stdarg.h>
#include <stdio.h>

#define SL_ERRMSG_MAX 512

static _Thread_local char last_message[SL_ERRMSG_MAX];
static _Thread_local int last_code;
static sl_error_handler_fn handler;
static void *handler_user;

const char *sl_strerror(int code)
{
  switch (code) {
  case SL_OK: return "success";
  case SL_EINVAL: return "invalid argument";
  case SL_ENOMEM: return "out of memory";
  case SL_EIO: return "input/output error";
  case SL_EFORMAT: return "malformed data";
  case SL_ENOTFOUND: return "not found";
  case SL_ESHAPE: return "shape mismatch";
  case SL_ENUMERIC: return "non-finite value";
  case SL_EUNSUPPORTED: return "not supported";
  case SL_ERANGE: return "out of range";
  default: return "unknown error";
  }
}

const char *sl_last_error(void) { return last_message; }

int sl_last_error_code(void) { return last_code; }

void sl_clear_error(void)
{
  last_message[0] = '\0';
  last_code = SL_OK;
}

sl_error_handler_fn sl_set_error_handler(sl_error_handler_fn h, void *user)
{
  sl_error_handler_fn old = handler;
  handler = h;
  handler_user = user;
  return old;
}

int sl_error(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_message, sizeof last_message, fmt, ap);
  va_end(ap);
  last_code = code;
  if (handler)
    handler(code, last_message, handler_user);
  return code;
}
