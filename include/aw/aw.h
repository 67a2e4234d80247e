/* AstraWeave-C umbrella header: includes every public module header. */
#ifndef AW_AW_H
#define AW_AW_H

#include "aw/core.h"
#include "aw/ecs.h"
#include "aw/rag.h"
#include "aw/profile.h"
#include "aw/physics.h"
#include "aw/particles.h"
#include "aw/stress.h"

#endif /* AW_AW_H */
