// SPDX-License-Identifier: GPL-2.0-or-later
#include <string.h>

#include "analysis/preflight.h"

void preflight_compare(const struct featset *vm, int level_vm, const struct featset *target,
		       int level_target, struct preflight *out)
{
	struct featset user;

	memset(out, 0, sizeof(*out));
	featset_minus(&out->lost, vm, target);
	featset_minus(&out->gained, target, vm);
	out->level_vm = level_vm;
	out->level_target = level_target;
	featset_scope(&user, &out->lost, SCOPE_USER);
	out->unsafe = featset_count(&user) > 0;
}

struct json_object *preflight_to_json(const struct preflight *p)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "safe", json_object_new_boolean(!p->unsafe));
	json_object_object_add(o, "lost", featset_to_json_by_scope(&p->lost));
	json_object_object_add(o, "gained", featset_to_json_by_scope(&p->gained));
	json_object_object_add(o, "level_vm", json_object_new_int(p->level_vm));
	json_object_object_add(o, "level_target", json_object_new_int(p->level_target));
	json_object_object_add(o, "level_drop",
			       json_object_new_boolean(p->level_target < p->level_vm));
	return o;
}
