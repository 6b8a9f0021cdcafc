/* mixscope's reports: a human summary, JSON or CSV over the same figures. */
#ifndef SCOPE_REPORT_H
#define SCOPE_REPORT_H

#include <stdio.h>

#include "analyse.h"

enum scope_format { FMT_TEXT, FMT_JSON, FMT_CSV };

void scope_report(struct scope *s, enum scope_format fmt, FILE *out);

#endif
