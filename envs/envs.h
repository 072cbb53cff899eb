// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// envs.h: constructors of the task families, for the registry in family.c.

#ifndef METARL_ENVS_H_
#define METARL_ENVS_H_

#include "metarl.h"

// Each returns a family configured from cfg, or NULL with a message in err.
mrlFamily* mrl_point_nav_make(const mrlConfig* cfg, char* err, size_t errlen);
mrlFamily* mrl_sine_make(const mrlConfig* cfg, char* err, size_t errlen);

#endif  // METARL_ENVS_H_
