/* AstraWeave-C umbrella header: includes every public module header. */
#ifndef AW_AW_H
#define AW_AW_H

#include "aw/core.h"
#include "aw/ecs.h"
#include "aw/rag.h"
#include "aw/profile.h"
#include "aw/physics.h"
#include "aw/ai.h"
#include "aw/ai_llm.h"
#include "aw/gpu.h"
#include "aw/render.h"
#include "aw/particles.h"
#include "aw/stress.h"

#endif /* AW_AW_H */
