/* fuzz_entity: entity refs, as recipients and filters name them. */
#include "entity.h"
#include "fuzz.h"

FUZZ_QUIET()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct entity_ref	 er;
	char			*s = fuzz_str(data, len), *canon;
	char			 name[1024], err[512];

	if (entity_parse(s, &er, name, sizeof name, err, sizeof err) == 0) {
		canon = entity_canonical(&er);
		free(canon);
		entity_ref_clear(&er);
	}
	(void)entity_is_user(s);
	free(s);
	return (0);
}
