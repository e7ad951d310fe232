/*
 * config.h: Backstage app-config files, read with libyaml (config.c is the
 * only file that includes yaml.h).  Several files merge the way Backstage
 * merges them (later files win; maps merge key by key, everything else is
 * replaced), and scalars get Backstage's ${VAR} substitution from the
 * environment ($${...} escapes it; an unset variable makes the value
 * undefined, as Backstage does).
 */
#ifndef NOTIMOCK_CONFIG_H
#define NOTIMOCK_CONFIG_H

#include <stddef.h>

struct config;		/* the merged tree; owns every node */
struct config_node;

enum config_type { CONFIG_SCALAR, CONFIG_MAP, CONFIG_SEQ };
/* How a scalar was written: plain (7, true, a word), quoted, or a block
 * (| keeps lines as written, > folds them). */
enum config_style {
	CONFIG_STYLE_PLAIN = 0, CONFIG_STYLE_QUOTED, CONFIG_STYLE_LITERAL,
	CONFIG_STYLE_FOLDED
};

/* Load and merge files in order.  Returns NULL and *cause on failure (file
 * missing, YAML syntax with line:column, unsupported construct). */
struct config		*config_load(char *const *files, size_t n, char **cause);
void			 config_free(struct config *);
/* Load every document of a multi-document YAML file (catalog entities),
 * each as its own tree; scalars are kept as written (no ${VAR}, no $env).
 * Empty documents are skipped; one that is not a map is an error.  Returns
 * 0 with *docs (free each with config_free, then the array), or -1 and
 * *cause. */
int			 config_load_documents(const char *file,
			    struct config ***docs, size_t *n, char **cause);

/* Every document of buf (len bytes, named name in messages), for Kubernetes
 * objects and the YAML inside their values: scalars as written, documents
 * of any type, lines counted from base (0 for a file; the line before a
 * block scalar's first line for YAML held in one).  Returns 0 with *docs
 * (free each with config_free, then the array), or -1 and *cause. */
int			 config_parse_string(const char *name, const char *buf,
			    size_t len, size_t base, struct config ***docs,
			    size_t *n, char **cause);
struct config_node	*config_root(const struct config *);
/* The 1-based line where the node was written. */
size_t			 config_line(const struct config_node *);
enum config_style	 config_style(const struct config_node *);

/* Look up a dotted path from the root ("backend.auth.externalAccess"),
 * or a key below node.  NULL if absent or undefined. */
struct config_node	*config_get(const struct config *, const char *path);
struct config_node	*config_child(const struct config_node *, const char *key);
enum config_type	 config_type(const struct config_node *);
/* Scalar text (borrowed), or NULL if the node is not a scalar. */
const char		*config_scalar(const struct config_node *);
/* Children of a map or sequence, in file order. */
size_t			 config_len(const struct config_node *);
struct config_node	*config_at(const struct config_node *, size_t i);
/* Key of the i-th member of a map. */
const char		*config_key_at(const struct config_node *, size_t i);
/* Where the node was written ("app-config.yaml:12"), for error messages. */
const char		*config_where(const struct config_node *);
/* libyaml's version, for the start-up log. */
const char		*config_version(void);

#endif
