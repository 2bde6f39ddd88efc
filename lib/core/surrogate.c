/* surrogate.c -- the table of surrogate spike derivatives.
 *
 * Each entry gives the derivative used in backward and its antiderivative
 * (the "smooth spike" used by gradient checks). Found by name, GSL style.
 */
#include "config.h"
#include "spikeloop/surrogate.h"

#include <math.h>
#include <string.h>

/* SuperSpike fast sigmoid: d = 1/(beta|x|+1)^2;
 * F(x) = 1/(beta(1-beta x)) for x < 0, (2 - 1/(1+beta x))/beta for x >= 0. */
static double superspike_deriv(double x, double beta)
{
  double d = beta * fabs(x) + 1.0;
  return 1.0 / (d * d);
}
static double superspike_smooth(double x, double beta)
{
  return x < 0 ? 1.0 / (beta * (1.0 - beta * x)) : (2.0 - 1.0 / (1.0 + beta * x)) / beta;
}

/* Logistic: d = beta s(beta x)(1 - s(beta x)); F = s(beta x). */
static double sigmoid_smooth(double x, double beta) { return 1.0 / (1.0 + exp(-beta * x)); }
static double sigmoid_deriv(double x, double beta)
{
  double s = sigmoid_smooth(x, beta);
  return beta * s * (1.0 - s);
}

/* Arctan: d = 1/(1 + (pi beta x/2)^2); F = (2/(pi beta)) atan(pi beta x/2) + 1/beta. */
static double arctan_deriv(double x, double beta)
{
  double u = M_PI * beta * x / 2.0;
  return 1.0 / (1.0 + u * u);
}
static double arctan_smooth(double x, double beta)
{
  return 2.0 / (M_PI * beta) * atan(M_PI * beta * x / 2.0) + 1.0 / beta;
}

static const sl_surrogate superspike = {"superspike", SL_SURROGATE_SUPERSPIKE,
                                        superspike_deriv, superspike_smooth};
static const sl_surrogate sigmoid = {"sigmoid", SL_SURROGATE_SIGMOID, sigmoid_deriv,
                                     sigmoid_smooth};
static const sl_surrogate arctan = {"arctan", SL_SURROGATE_ARCTAN, arctan_deriv, arctan_smooth};

static const sl_surrogate *const all[] = {&superspike, &sigmoid, &arctan, NULL};
static const char *const names[] = {"superspike", "sigmoid", "arctan", NULL}; /* all's names */

const sl_surrogate *const *sl_surrogate_list(void) { return all; }
const char *const *sl_surrogate_names(void) { return names; }

const sl_surrogate *sl_surrogate_find(const char *name)
{
  if (!name)
    return NULL;
  for (size_t i = 0; all[i]; i++)
    if (strcmp(all[i]->name, name) == 0)
      return all[i];
  return NULL;
}

const sl_surrogate *sl_surrogate_by_id(int id)
{
  for (size_t i = 0; all[i]; i++)
    if (all[i]->id == id)
      return all[i];
  return NULL;
}
