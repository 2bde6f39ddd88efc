/* names.h (internal) -- name tables as text.
 *
 * The modules keep their choices (losses, encoders, optimisers, surrogates,
 * config values) in NULL-terminated name tables; error messages ("known:
 * a, b, c") and the config's "allowed: a | b" lines are written from those
 * tables by this one helper, so a new entry shows up everywhere at once.
 */
#ifndef SL_NAMES_H
#define SL_NAMES_H

#include <stddef.h>
#include <stdio.h>

/* The names of the NULL-terminated table `names` joined by `sep` into buf
 * (len > 0; cut short if it does not fit). Returns buf, for use as a
 * printf argument. */
static inline const char *sli_names_join(const char *const *names, const char *sep, char *buf,
                                         size_t len)
{
  size_t used = 0;
  buf[0] = '\0';
  for (const char *const *n = names; *n && used < len; n++)
    used += (size_t)snprintf(buf + used, len - used, "%s%s", n == names ? "" : sep, *n);
  return buf;
}

#endif
