/*
 * gotmpl.c: a Go text/template + sprig subset (gotmpl.h), written from the
 * behaviour in ../shared/spec/argocd-webhook.md section 7 and Go's
 * documented semantics.  Parse once into a tree of nodes, then render
 * against a JSON tree; every string made while rendering lives in the
 * render's arena and goes with it.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gotmpl.h"
#include "json.h"
#include "xmalloc.h"

#define GOTMPL_MAX_DEPTH	64	/* nesting of blocks and parentheses */
#define GOTMPL_MAX_OUT		(1024 * 1024)	/* a runaway range stops here */

/* --- the tree ---------------------------------------------------------- */

enum arg_kind {
	A_DOT, A_FIELD, A_VAR, A_STRING, A_INT, A_FLOAT, A_BOOL, A_NIL,
	A_FUNC, A_PIPE
};

struct pipe;

struct arg {
	enum arg_kind	  kind;
	char		 *s;		/* string literal, var or func name */
	size_t		  slen;
	char		**chain;	/* field names after the term */
	size_t		  nchain;
	long long	  i;
	double		  f;
	int		  b;
	struct pipe	 *sub;		/* A_PIPE */
	int		  fn;		/* A_FUNC: index in gotmpl_funcs */
};

struct cmd {
	struct arg	*args;
	size_t		 nargs;
};

struct pipe {
	char		**decl;		/* $names declared or assigned */
	size_t		  ndecl;
	int		  assign;	/* = rather than := */
	struct cmd	 *cmds;
	size_t		  ncmds;
	size_t		  line;
};

enum node_kind { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH };

struct node {
	enum node_kind	 kind;
	size_t		 line;
	char		*text;		/* N_TEXT */
	size_t		 tlen;
	struct pipe	*pipe;
	struct node	*body;		/* N_IF/N_RANGE/N_WITH */
	struct node	*ebody;		/* else (an else-if is an N_IF) */
	struct node	*next;
};

struct gotmpl {
	struct node	*root;
};

/* --- functions --------------------------------------------------------- */

enum fn_id {
	F_AND, F_OR, F_NOT, F_EQ, F_NE, F_LT, F_LE, F_GT, F_GE, F_LEN,
	F_INDEX, F_PRINT, F_PRINTF, F_PRINTLN, F_TOJSON, F_TORAWJSON,
	F_TOPRETTYJSON, F_QUOTE, F_SQUOTE, F_DEFAULT, F_EMPTY, F_COALESCE,
	F_TOSTRING, F_UPPER, F_LOWER, F_TITLE, F_TRIM, F_TRIMPREFIX,
	F_TRIMSUFFIX, F_REPLACE, F_CONTAINS, F_HASPREFIX, F_HASSUFFIX,
	F_TRUNC, F_TERNARY, F_B64ENC
};

/*
 * One row per function: its name, its arity (min..max arguments; MANY = no
 * upper bound) and its body (defined with the evaluator, below). A family
 * (ne/lt/le/gt/ge, quote/squote...) shares one body that looks at f->id.
 */
struct rstate;
struct val;
struct gotmpl_func;
typedef int gotmpl_fn(struct rstate *, const struct gotmpl_func *,
    const struct val *, size_t, struct val *);
static gotmpl_fn fn_andor, fn_pick, fn_eq, fn_cmp, fn_len, fn_index,
    fn_print, fn_printf, fn_json, fn_quote, fn_coalesce, fn_case, fn_affix,
    fn_replace, fn_trunc;
#define MANY	SIZE_MAX

static const struct gotmpl_func {
	const char	*name;
	enum fn_id	 id;
	size_t		 min, max;
	gotmpl_fn	*call;
} gotmpl_funcs[] = {
	{ "and", F_AND, 1, MANY, fn_andor },
	{ "or", F_OR, 1, MANY, fn_andor },
	{ "not", F_NOT, 1, 1, fn_pick },
	{ "eq", F_EQ, 2, MANY, fn_eq },
	{ "ne", F_NE, 2, 2, fn_cmp },
	{ "lt", F_LT, 2, 2, fn_cmp },
	{ "le", F_LE, 2, 2, fn_cmp },
	{ "gt", F_GT, 2, 2, fn_cmp },
	{ "ge", F_GE, 2, 2, fn_cmp },
	{ "len", F_LEN, 1, 1, fn_len },
	{ "index", F_INDEX, 1, MANY, fn_index },
	{ "print", F_PRINT, 0, MANY, fn_print },
	{ "printf", F_PRINTF, 1, MANY, fn_printf },
	{ "println", F_PRINTLN, 0, MANY, fn_print },
	{ "toJson", F_TOJSON, 1, 1, fn_json },
	{ "toRawJson", F_TORAWJSON, 1, 1, fn_json },
	{ "toPrettyJson", F_TOPRETTYJSON, 1, 1, fn_json },
	{ "quote", F_QUOTE, 0, MANY, fn_quote },
	{ "squote", F_SQUOTE, 0, MANY, fn_quote },
	{ "default", F_DEFAULT, 1, MANY, fn_pick },
	{ "empty", F_EMPTY, 1, 1, fn_pick },
	{ "coalesce", F_COALESCE, 0, MANY, fn_coalesce },
	{ "toString", F_TOSTRING, 1, 1, fn_pick },
	{ "upper", F_UPPER, 1, 1, fn_case },
	{ "lower", F_LOWER, 1, 1, fn_case },
	{ "title", F_TITLE, 1, 1, fn_case },
	{ "trim", F_TRIM, 1, 1, fn_case },
	{ "trimPrefix", F_TRIMPREFIX, 2, 2, fn_affix },
	{ "trimSuffix", F_TRIMSUFFIX, 2, 2, fn_affix },
	{ "replace", F_REPLACE, 3, 3, fn_replace },
	{ "contains", F_CONTAINS, 2, 2, fn_affix },
	{ "hasPrefix", F_HASPREFIX, 2, 2, fn_affix },
	{ "hasSuffix", F_HASSUFFIX, 2, 2, fn_affix },
	{ "trunc", F_TRUNC, 2, 2, fn_trunc },
	{ "ternary", F_TERNARY, 3, 3, fn_pick },
	{ "b64enc", F_B64ENC, 1, 1, fn_case },
};
#undef MANY
#define GOTMPL_NFUNCS	(sizeof gotmpl_funcs / sizeof gotmpl_funcs[0])

/*
 * Functions that Go and sprig define but we do not render: a template
 * that uses one gets "unsupported", not Go's "not defined" (which would
 * mean Argo CD refuses the whole configuration).  env and expandenv are
 * absent on purpose: the engine removes them.
 */
static const char *gotmpl_known[] = {
	"call", "html", "js", "urlquery", "slice",
	"abbrev", "abbrevboth", "add", "add1", "adler32sum", "ago", "all",
	"any", "append", "atoi", "b32dec", "b32enc", "b64dec", "base",
	"bcrypt", "biggest", "buildCustomCert", "camelcase", "cat", "ceil",
	"chunk", "clean", "compact", "concat", "date", "dateInZone",
	"dateModify", "date_in_zone", "date_modify", "decryptAES", "deepCopy",
	"deepEqual", "derivePassword", "dict", "dig", "dir", "div",
	"duration", "durationRound", "encryptAES", "ext", "fail", "first",
	"float64", "floor", "fromJson", "genCA", "genPrivateKey",
	"genSelfSignedCert", "genSignedCert", "get", "has", "hasKey",
	"htmlDate", "htmlDateInZone", "htpasswd", "indent", "initial",
	"initials", "int", "int64", "isAbs", "join", "kebabcase", "keys",
	"kindIs", "kindOf", "last", "list", "lower", "max", "merge",
	"mergeOverwrite", "min", "mod", "mul", "mustAppend", "mustFromJson",
	"mustToJson", "mustToRawJson", "mustToPrettyJson", "nindent", "nospace",
	"now", "omit", "pick", "pluck", "plural", "prepend", "quote",
	"randAlpha", "randAlphaNum", "randAscii", "randBytes", "randInt",
	"randNumeric", "regexFind", "regexFindAll", "regexMatch",
	"regexQuoteMeta", "regexReplaceAll", "regexReplaceAllLiteral",
	"regexSplit", "repeat", "rest", "reverse", "round", "semver",
	"semverCompare", "seq", "set", "sha1sum", "sha256sum", "sha512sum",
	"shuffle", "snakecase", "sortAlpha", "split", "splitList", "splitn",
	"squote", "sub", "substr", "swapcase", "ternary", "title", "toDate",
	"toDecimal", "toStrings", "trimAll", "trimall", "typeIs", "typeIsLike",
	"typeOf", "uniq", "unixEpoch", "unset", "until", "untilStep",
	"untitle", "upper", "urlJoin", "urlParse", "uuidv4", "values",
	"without", "wrap", "wrapWith",
};

/* --- parsing ----------------------------------------------------------- */

enum tok_kind {
	T_EOF, T_DOT, T_FIELD, T_VAR, T_IDENT, T_STRING, T_NUMBER,
	T_PIPE, T_LPAREN, T_RPAREN, T_DECLARE, T_ASSIGN, T_COMMA
};

struct tok {
	enum tok_kind	 kind;
	const char	*p;		/* its text */
	size_t		 len;
	int		 space;		/* whitespace before it */
};

struct parser {
	const char		*src;		/* whole template */
	size_t			 len;
	size_t			 pos;
	size_t			 line;		/* of pos */
	struct gotmpl_error	*err;
	/* The action being parsed. */
	struct tok		*toks;
	size_t			 ntoks, ti;
	size_t			 aline;
	int			 depth;
	int			 rtrim;		/* the last action ended with -}} */
};

static int
perr(struct parser *p, enum gotmpl_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Record the first error only (later ones are usually its echoes); the
 * parser and the renderer both report through here.  Always -1.
 */
static int
gotmpl_verr(struct gotmpl_error *err, size_t line, enum gotmpl_status st,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static int
gotmpl_verr(struct gotmpl_error *err, size_t line, enum gotmpl_status st,
    const char *fmt, va_list ap)
{
	if (err->status != GOTMPL_OK)
		return (-1);
	err->status = st;
	err->line = line;
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	return (-1);
}

static int
perr(struct parser *p, enum gotmpl_status st, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	gotmpl_verr(p->err, p->aline, st, fmt, ap);
	va_end(ap);
	return (-1);
}

static void pipe_free(struct pipe *);

static void
arg_clear(struct arg *a)
{
	size_t	i;

	free(a->s);
	for (i = 0; i < a->nchain; i++)
		free(a->chain[i]);
	free(a->chain);
	pipe_free(a->sub);
}

static void
pipe_free(struct pipe *pp)
{
	size_t	i, j;

	if (pp == NULL)
		return;
	for (i = 0; i < pp->ndecl; i++)
		free(pp->decl[i]);
	free(pp->decl);
	for (i = 0; i < pp->ncmds; i++) {
		for (j = 0; j < pp->cmds[i].nargs; j++)
			arg_clear(&pp->cmds[i].args[j]);
		free(pp->cmds[i].args);
	}
	free(pp->cmds);
	free(pp);
}

static void
node_free(struct node *n)
{
	struct node	*next;

	for (; n != NULL; n = next) {
		next = n->next;
		free(n->text);
		pipe_free(n->pipe);
		node_free(n->body);
		node_free(n->ebody);
		free(n);
	}
}

void
gotmpl_free(struct gotmpl *t)
{
	if (t == NULL)
		return;
	node_free(t->root);
	free(t);
}

static int
is_space(int c)
{
	return (c == ' ' || c == '\t' || c == '\r' || c == '\n');
}

static int
is_alnum(int c)
{
	return (isalnum(c) || c == '_' || (c & 0x80));
}

/* Lex the action text [s, e) into p->toks. */
static int
lex_action(struct parser *p, const char *s, const char *e)
{
	const char	*q;
	struct tok	 t;
	int		 space = 1;

	p->ntoks = p->ti = 0;
	while (s < e) {
		if (is_space((unsigned char)*s)) {
			space = 1;
			s++;
			continue;
		}
		memset(&t, 0, sizeof t);
		t.p = s;
		t.space = space;
		space = 0;
		if (*s == '"' || *s == '`' || *s == '\'') {
			for (q = s + 1; q < e && *q != *s; q++)
				if (*q == '\\' && *s != '`')
					q++;
			if (q >= e)
				return (perr(p, GOTMPL_PARSE, "unterminated "
				    "quoted string"));
			t.kind = *s == '\'' ? T_NUMBER : T_STRING;
			s = q + 1;
		} else if (*s == '.' && s + 1 < e && is_alnum((unsigned char)
		    s[1]) && !isdigit((unsigned char)s[1])) {
			for (q = s + 1; q < e && is_alnum((unsigned char)*q);
			    q++)
				;
			t.kind = T_FIELD;
			s = q;
		} else if (*s == '$') {
			for (q = s + 1; q < e && is_alnum((unsigned char)*q);
			    q++)
				;
			t.kind = T_VAR;
			s = q;
		} else if (isdigit((unsigned char)*s) || ((*s == '-' ||
		    *s == '+' || *s == '.') && s + 1 < e &&
		    isdigit((unsigned char)s[1]))) {
			for (q = s + 1; q < e && (isalnum((unsigned char)*q) ||
			    *q == '.' || *q == '_' || ((*q == '-' || *q == '+')
			    && (q[-1] == 'e' || q[-1] == 'E'))); q++)
				;
			t.kind = T_NUMBER;
			s = q;
		} else if (*s == '.') {
			t.kind = T_DOT;
			s++;
		} else if (isalpha((unsigned char)*s) || *s == '_') {
			for (q = s; q < e && is_alnum((unsigned char)*q); q++)
				;
			t.kind = T_IDENT;
			s = q;
		} else if (*s == '|') {
			t.kind = T_PIPE;
			s++;
		} else if (*s == '(') {
			t.kind = T_LPAREN;
			s++;
		} else if (*s == ')') {
			t.kind = T_RPAREN;
			s++;
		} else if (*s == ',') {
			t.kind = T_COMMA;
			s++;
		} else if (*s == ':' && s + 1 < e && s[1] == '=') {
			t.kind = T_DECLARE;
			s += 2;
		} else if (*s == '=') {
			t.kind = T_ASSIGN;
			s++;
		} else
			return (perr(p, GOTMPL_PARSE, "unexpected \"%c\" in "
			    "command", *s));
		t.len = (size_t)(s - t.p);
		p->toks = xreallocarray(p->toks, p->ntoks + 1, sizeof *p->toks);
		p->toks[p->ntoks++] = t;
	}
	return (0);
}

static struct tok *
peek(struct parser *p)
{
	static struct tok	eof = { T_EOF, "", 0, 1 };

	return (p->ti < p->ntoks ? &p->toks[p->ti] : &eof);
}

static int
tok_is(const struct tok *t, const char *word)
{
	return (t->kind == T_IDENT && t->len == strlen(word) &&
	    memcmp(t->p, word, t->len) == 0);
}

/* Go's string literal (interpreted or raw) into a new string. */
static int
unquote(struct parser *p, const struct tok *t, char **out, size_t *outlen)
{
	const char	*s = t->p + 1, *e = t->p + t->len - 1;
	char		*o;
	size_t		 n = 0;
	unsigned long	 v;
	int		 k, digits;

	o = xmalloc(t->len + 1);
	if (t->p[0] == '`') {
		memcpy(o, s, (size_t)(e - s));
		n = (size_t)(e - s);
		goto done;
	}
	while (s < e) {
		if (*s != '\\') {
			o[n++] = *s++;
			continue;
		}
		s++;
		if (s >= e)
			break;
		switch (*s) {
		case 'n': o[n++] = '\n'; s++; continue;
		case 't': o[n++] = '\t'; s++; continue;
		case 'r': o[n++] = '\r'; s++; continue;
		case 'a': o[n++] = '\a'; s++; continue;
		case 'b': o[n++] = '\b'; s++; continue;
		case 'f': o[n++] = '\f'; s++; continue;
		case 'v': o[n++] = '\v'; s++; continue;
		case '\\': case '"': case '\'': o[n++] = *s++; continue;
		case 'x': digits = 2; break;
		case 'u': digits = 4; break;
		case 'U': digits = 8; break;
		default:
			free(o);
			return (perr(p, GOTMPL_PARSE, "invalid syntax in "
			    "quoted string"));
		}
		s++;
		for (v = 0, k = 0; k < digits && s < e && isxdigit(
		    (unsigned char)*s); k++, s++)
			v = v * 16 + (unsigned long)(isdigit((unsigned char)*s)
			    ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10));
		if (k != digits) {
			free(o);
			return (perr(p, GOTMPL_PARSE, "invalid syntax in "
			    "quoted string"));
		}
		if (digits == 2)
			o[n++] = (char)v;
		else if (v < 0x80)
			o[n++] = (char)v;
		else if (v < 0x800) {
			o[n++] = (char)(0xc0 | (v >> 6));
			o[n++] = (char)(0x80 | (v & 0x3f));
		} else if (v < 0x10000) {
			o[n++] = (char)(0xe0 | (v >> 12));
			o[n++] = (char)(0x80 | ((v >> 6) & 0x3f));
			o[n++] = (char)(0x80 | (v & 0x3f));
		} else {
			o[n++] = (char)(0xf0 | ((v >> 18) & 0x07));
			o[n++] = (char)(0x80 | ((v >> 12) & 0x3f));
			o[n++] = (char)(0x80 | ((v >> 6) & 0x3f));
			o[n++] = (char)(0x80 | (v & 0x3f));
		}
	}
done:
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return (0);
}

static struct pipe *parse_pipe(struct parser *, int indecl, int sub);

/* Field names that follow a term without a space: $x.a.b, (...).a */
static void
parse_chain(struct parser *p, struct arg *a)
{
	struct tok	*t;

	while ((t = peek(p))->kind == T_FIELD && !t->space) {
		a->chain = xreallocarray(a->chain, a->nchain + 1,
		    sizeof *a->chain);
		a->chain[a->nchain++] = xstrndup(t->p + 1, t->len - 1);
		p->ti++;
	}
}

static int
func_lookup(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < GOTMPL_NFUNCS; i++)
		if (strlen(gotmpl_funcs[i].name) == len &&
		    memcmp(gotmpl_funcs[i].name, name, len) == 0)
			return ((int)i);
	return (-1);
}

static int
func_known(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof gotmpl_known / sizeof gotmpl_known[0]; i++)
		if (strlen(gotmpl_known[i]) == len &&
		    memcmp(gotmpl_known[i], name, len) == 0)
			return (1);
	return (0);
}

/* One operand. */
static int
parse_arg(struct parser *p, struct arg *a)
{
	struct tok	*t = peek(p);
	char		*end, *num;

	memset(a, 0, sizeof *a);
	switch (t->kind) {
	case T_DOT:
		a->kind = A_DOT;
		p->ti++;
		return (0);
	case T_FIELD:
		a->kind = A_FIELD;
		a->chain = xmalloc(sizeof *a->chain);
		a->chain[0] = xstrndup(t->p + 1, t->len - 1);
		a->nchain = 1;
		p->ti++;
		parse_chain(p, a);
		return (0);
	case T_VAR:
		a->kind = A_VAR;
		a->s = xstrndup(t->p, t->len);
		p->ti++;
		parse_chain(p, a);
		return (0);
	case T_STRING:
		a->kind = A_STRING;
		p->ti++;
		return (unquote(p, t, &a->s, &a->slen));
	case T_NUMBER:
		p->ti++;
		if (t->p[0] == '\'')
			return (perr(p, GOTMPL_UNSUPPORTED, "character "
			    "constants"));
		num = xstrndup(t->p, t->len);
		errno = 0;
		a->i = strtoll(num, &end, 0);
		if (*end == '\0' && errno == 0)
			a->kind = A_INT;
		else {
			a->f = strtod(num, &end);
			a->kind = A_FLOAT;
			if (*end != '\0') {
				free(num);
				return (perr(p, GOTMPL_PARSE, "bad number "
				    "syntax: \"%.*s\"", (int)t->len, t->p));
			}
		}
		free(num);
		return (0);
	case T_LPAREN:
		p->ti++;
		if (++p->depth > GOTMPL_MAX_DEPTH)
			return (perr(p, GOTMPL_UNSUPPORTED, "nesting too "
			    "deep"));
		a->kind = A_PIPE;
		if ((a->sub = parse_pipe(p, 0, 1)) == NULL)
			return (-1);
		p->depth--;
		if (peek(p)->kind != T_RPAREN)
			return (perr(p, GOTMPL_PARSE, "unclosed left paren"));
		p->ti++;
		parse_chain(p, a);
		return (0);
	case T_IDENT:
		p->ti++;
		if (tok_is(t, "true") || tok_is(t, "false")) {
			a->kind = A_BOOL;
			a->b = tok_is(t, "true");
			return (0);
		}
		if (tok_is(t, "nil")) {
			a->kind = A_NIL;
			return (0);
		}
		a->kind = A_FUNC;
		a->s = xstrndup(t->p, t->len);
		if ((a->fn = func_lookup(t->p, t->len)) != -1)
			return (0);
		if (func_known(t->p, t->len))
			return (perr(p, GOTMPL_UNSUPPORTED, "function \"%s\" "
			    "is not rendered by notimock lint", a->s));
		return (perr(p, GOTMPL_PARSE, "function \"%s\" not defined",
		    a->s));
	default:
		return (perr(p, GOTMPL_PARSE, "unexpected \"%.*s\" in "
		    "operand", (int)t->len, t->p));
	}
}

/* A pipeline: [$x[, $y] := | =] cmd | cmd ... */
static struct pipe *
parse_pipe(struct parser *p, int indecl, int sub)
{
	struct pipe	*pp;
	struct cmd	*c;
	struct tok	*t;
	size_t		 save = p->ti;

	pp = xcalloc(1, sizeof *pp);
	pp->line = p->aline;
	/* Declarations. */
	while (peek(p)->kind == T_VAR && !sub) {
		t = peek(p);
		p->ti++;
		if (peek(p)->kind == T_COMMA && indecl && pp->ndecl == 0) {
			pp->decl = xreallocarray(pp->decl, pp->ndecl + 1,
			    sizeof *pp->decl);
			pp->decl[pp->ndecl++] = xstrndup(t->p, t->len);
			p->ti++;
			continue;
		}
		if (peek(p)->kind == T_DECLARE || peek(p)->kind == T_ASSIGN) {
			pp->assign = peek(p)->kind == T_ASSIGN;
			pp->decl = xreallocarray(pp->decl, pp->ndecl + 1,
			    sizeof *pp->decl);
			pp->decl[pp->ndecl++] = xstrndup(t->p, t->len);
			p->ti++;
			break;
		}
		/* Not a declaration after all. */
		for (size_t i = 0; i < pp->ndecl; i++)
			free(pp->decl[i]);
		free(pp->decl);
		pp->decl = NULL;
		pp->ndecl = 0;
		p->ti = save;
		break;
	}
	for (;;) {
		pp->cmds = xreallocarray(pp->cmds, pp->ncmds + 1,
		    sizeof *pp->cmds);
		c = &pp->cmds[pp->ncmds++];
		memset(c, 0, sizeof *c);
		while ((t = peek(p))->kind != T_EOF && t->kind != T_PIPE &&
		    t->kind != T_RPAREN) {
			c->args = xreallocarray(c->args, c->nargs + 1,
			    sizeof *c->args);
			if (parse_arg(p, &c->args[c->nargs]) == -1) {
				arg_clear(&c->args[c->nargs]);
				goto fail;
			}
			c->nargs++;
		}
		if (c->nargs == 0) {
			perr(p, GOTMPL_PARSE, "missing command");
			goto fail;
		}
		if (c->args[0].kind != A_FUNC && c->nargs > 1) {
			if (c->args[0].kind == A_FIELD ||
			    c->args[0].kind == A_VAR)
				perr(p, GOTMPL_UNSUPPORTED, "method calls");
			else
				perr(p, GOTMPL_PARSE, "can't give argument "
				    "to non-function");
			goto fail;
		}
		if (peek(p)->kind != T_PIPE)
			break;
		p->ti++;
	}
	return (pp);
fail:
	pipe_free(pp);
	return (NULL);
}

/*
 * Find the next action from p->pos: *ts is where the text before it ends
 * (after {{- trimming), *as and *ae the action's inside, *rtrim whether it
 * ends with -}}.  Returns 0 at the end of the template.
 */
static int
next_action(struct parser *p, size_t *ts, size_t *as, size_t *ae,
    size_t *after, int *rtrim)
{
	const char	*s = p->src, *q;
	size_t		 i, j;
	char		 quote;

	for (i = p->pos; i + 1 < p->len; i++)
		if (s[i] == '{' && s[i + 1] == '{')
			break;
	if (i + 1 >= p->len)
		return (0);
	*ts = i;
	j = i + 2;
	if (j + 1 < p->len && s[j] == '-' && is_space((unsigned char)s[j + 1])) {
		while (*ts > p->pos && is_space((unsigned char)s[*ts - 1]))
			(*ts)--;
		j++;
	}
	*as = j;
	/* Find the closing }}, skipping quoted strings and comments. */
	for (quote = 0; j + 1 < p->len; j++) {
		if (quote) {
			if (s[j] == '\\' && quote != '`')
				j++;
			else if (s[j] == quote)
				quote = 0;
			continue;
		}
		if (s[j] == '"' || s[j] == '`' || s[j] == '\'') {
			quote = s[j];
			continue;
		}
		if (s[j] == '/' && s[j + 1] == '*') {
			for (q = s + j + 2; q + 1 < s + p->len &&
			    !(q[0] == '*' && q[1] == '/'); q++)
				;
			if (q + 1 >= s + p->len)
				return (perr(p, GOTMPL_PARSE, "unclosed "
				    "comment"));
			j = (size_t)(q - s) + 1;
			continue;
		}
		if (s[j] == '}' && s[j + 1] == '}')
			break;
	}
	if (j + 1 >= p->len)
		return (perr(p, GOTMPL_PARSE, "unclosed action"));
	*ae = j;
	*rtrim = 0;
	if (j >= *as + 2 && s[j - 1] == '-' && is_space((unsigned char)
	    s[j - 2])) {
		*ae = j - 1;
		*rtrim = 1;
	}
	*after = j + 2;
	return (1);
}

static void
count_lines(struct parser *p, size_t from, size_t to)
{
	for (; from < to; from++)
		if (p->src[from] == '\n')
			p->line++;
}

static struct node *
node_new(enum node_kind k, size_t line)
{
	struct node	*n;

	n = xcalloc(1, sizeof *n);
	n->kind = k;
	n->line = line;
	return (n);
}

/*
 * Parse nodes until an {{end}} / {{else}} (which the caller wants: *stop
 * says which, and p->toks holds the else's tokens) or the end of input
 * (stop = 0).
 */
static int
parse_list(struct parser *p, struct node **head, int *stop)
{
	struct node	**tail = head, *n;
	size_t		 ts = 0, as = 0, ae = 0, after = 0, tstart;
	int		 rtrim = 0, r, st;
	struct tok	*t;
	const char	*c;

	*head = NULL;
	*stop = 0;
	for (;;) {
		tstart = p->pos;
		if (p->rtrim)
			while (tstart < p->len && is_space((unsigned char)
			    p->src[tstart]))
				tstart++;
		if ((r = next_action(p, &ts, &as, &ae, &after, &rtrim)) == -1)
			return (-1);
		if (r == 0)
			ts = p->len;
		if (ts > tstart) {
			n = node_new(N_TEXT, p->line);
			n->text = xstrndup(p->src + tstart, ts - tstart);
			n->tlen = ts - tstart;
			*tail = n;
			tail = &n->next;
		}
		if (r == 0) {
			count_lines(p, p->pos, p->len);
			p->pos = p->len;
			return (0);
		}
		count_lines(p, p->pos, as);
		p->aline = p->line;
		count_lines(p, as, after);
		p->pos = after;
		p->rtrim = rtrim;
		/* A comment. */
		for (c = p->src + as; c < p->src + ae && is_space(
		    (unsigned char)*c); c++)
			;
		if (c + 1 < p->src + ae && c[0] == '/' && c[1] == '*')
			continue;
		if (lex_action(p, p->src + as, p->src + ae) == -1)
			return (-1);
		t = peek(p);
		if (t->kind == T_EOF)
			return (perr(p, GOTMPL_PARSE, "missing value for "
			    "command"));
		if (tok_is(t, "end") || tok_is(t, "else")) {
			*stop = tok_is(t, "end") ? 1 : 2;
			p->ti++;
			return (0);
		}
		if (tok_is(t, "if") || tok_is(t, "range") ||
		    tok_is(t, "with")) {
			if (++p->depth > GOTMPL_MAX_DEPTH)
				return (perr(p, GOTMPL_UNSUPPORTED, "nesting "
				    "too deep"));
			n = node_new(tok_is(t, "if") ? N_IF : tok_is(t,
			    "range") ? N_RANGE : N_WITH, p->aline);
			*tail = n;
			tail = &n->next;
			p->ti++;
			if ((n->pipe = parse_pipe(p, n->kind == N_RANGE, 0)) ==
			    NULL)
				return (-1);
			if (peek(p)->kind != T_EOF)
				return (perr(p, GOTMPL_PARSE, "unexpected "
				    "\"%.*s\" in %s", (int)peek(p)->len,
				    peek(p)->p, n->kind == N_IF ? "if" :
				    n->kind == N_RANGE ? "range" : "with"));
			if (parse_list(p, &n->body, &st) == -1)
				return (-1);
			/* else, else if ..., end. */
			while (st == 2) {
				if (tok_is(peek(p), "if") && n->kind == N_IF) {
					struct node *e = node_new(N_IF,
					    p->aline);
					p->ti++;
					n->ebody = e;
					if ((e->pipe = parse_pipe(p, 0, 0)) ==
					    NULL)
						return (-1);
					if (parse_list(p, &e->body, &st) == -1)
						return (-1);
					n = e;
					continue;
				}
				if (peek(p)->kind != T_EOF)
					return (perr(p, GOTMPL_UNSUPPORTED,
					    "else with a pipeline"));
				if (parse_list(p, &n->ebody, &st) == -1)
					return (-1);
				if (st == 2)
					return (perr(p, GOTMPL_PARSE,
					    "expected end; found {{else}}"));
			}
			if (st != 1)
				return (perr(p, GOTMPL_PARSE, "unexpected "
				    "EOF"));
			p->depth--;
			continue;
		}
		if (tok_is(t, "define") || tok_is(t, "template") ||
		    tok_is(t, "block") || tok_is(t, "break") ||
		    tok_is(t, "continue"))
			return (perr(p, GOTMPL_UNSUPPORTED, "{{%.*s}}",
			    (int)t->len, t->p));
		n = node_new(N_ACTION, p->aline);
		*tail = n;
		tail = &n->next;
		if ((n->pipe = parse_pipe(p, 0, 0)) == NULL)
			return (-1);
		if (peek(p)->kind != T_EOF)
			return (perr(p, GOTMPL_PARSE, "unexpected \"%.*s\" in "
			    "operand", (int)peek(p)->len, peek(p)->p));
	}
}

enum gotmpl_status
gotmpl_parse(const char *text, size_t len, struct gotmpl **out,
    struct gotmpl_error *err)
{
	struct parser	 p;
	struct node	*root = NULL;
	int		 stop;

	memset(err, 0, sizeof *err);
	memset(&p, 0, sizeof p);
	p.src = text;
	p.len = len;
	p.line = 1;
	p.err = err;
	*out = NULL;
	if (parse_list(&p, &root, &stop) == -1 || (stop != 0 &&
	    perr(&p, GOTMPL_PARSE, "unexpected {{%s}}", stop == 1 ? "end" :
	    "else") == -1)) {
		free(p.toks);
		node_free(root);
		if (err->status == GOTMPL_OK)
			err->status = GOTMPL_PARSE;
		return (err->status);
	}
	free(p.toks);
	*out = xcalloc(1, sizeof **out);
	(*out)->root = root;
	return (GOTMPL_OK);
}

/* --- values ------------------------------------------------------------ */

enum val_kind {
	V_INVALID, V_NIL, V_BOOL, V_INT, V_FLOAT, V_STRING, V_BYTES,
	V_MAP, V_LIST
};

struct val {
	enum val_kind		 kind;
	int			 b;
	long long		 i;
	double			 f;
	const char		*s;	/* V_STRING, V_BYTES */
	size_t			 len;
	const struct json	*j;	/* V_MAP, V_LIST */
	int			 bytes;	/* V_MAP: members are []byte */
};

struct buf {
	char	*p;
	size_t	 len, cap;
};

struct var {
	char		*name;		/* borrowed from the tree */
	struct val	 v;
};

struct rstate {
	const struct gotmpl_opts *opts;
	const struct json	*data;
	struct gotmpl_error	*err;
	struct buf		 out;
	char			**arena;
	size_t			  narena;
	struct var		 *vars;
	size_t			  nvars;
	size_t			  line;		/* of the current action */
	size_t			  poison_line;
	int			  poisoned;	/* in the current action */
};

static void
buf_add(struct buf *b, const char *s, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		while (b->len + len + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 256;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_fmt(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
buf_fmt(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	char	tmp[128];
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n :
		    sizeof tmp - 1);
}

static int
rerr(struct rstate *r, enum gotmpl_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
rerr(struct rstate *r, enum gotmpl_status st, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	gotmpl_verr(r->err, r->line, st, fmt, ap);
	va_end(ap);
	return (-1);
}

/* Keep a string made while rendering until the render ends. */
static const char *
keep(struct rstate *r, struct buf *b)
{
	if (b->p == NULL)
		buf_add(b, "", 0);
	r->arena = xreallocarray(r->arena, r->narena + 1, sizeof *r->arena);
	r->arena[r->narena++] = b->p;
	return (b->p);
}

static struct val
val_str(const char *s, size_t len)
{
	struct val	v;

	memset(&v, 0, sizeof v);
	v.kind = V_STRING;
	v.s = s;
	v.len = len;
	return (v);
}

static struct val
val_kept(struct rstate *r, struct buf *b)
{
	size_t	len = b->len;

	return (val_str(keep(r, b), len));
}

static struct val
val_bool(int b)
{
	struct val	v;

	memset(&v, 0, sizeof v);
	v.kind = V_BOOL;
	v.b = b != 0;
	return (v);
}

/* A JSON node as a Go value (an unstructured Kubernetes object). */
static struct val
val_json(const struct json *j, int bytes)
{
	struct val	v;
	double		d;

	memset(&v, 0, sizeof v);
	if (j == NULL)
		return (v);
	switch (json_type(j)) {
	case JSON_NULL:
		v.kind = V_NIL;
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v.kind = V_BOOL;
		v.b = json_type(j) == JSON_TRUE;
		break;
	case JSON_NUMBER:
		d = json_number(j);
		if (d == floor(d) && fabs(d) < 9.2e18) {
			v.kind = V_INT;
			v.i = (long long)d;
		} else {
			v.kind = V_FLOAT;
			v.f = d;
		}
		break;
	case JSON_STRING:
		v.kind = bytes ? V_BYTES : V_STRING;
		v.s = json_string(j);
		v.len = strlen(v.s);
		break;
	case JSON_ARRAY:
		v.kind = V_LIST;
		v.j = j;
		break;
	case JSON_OBJECT:
		v.kind = V_MAP;
		v.j = j;
		v.bytes = bytes;
		break;
	default:
		break;
	}
	return (v);
}

static int
truth(const struct val *v)
{
	switch (v->kind) {
	case V_BOOL:
		return (v->b);
	case V_INT:
		return (v->i != 0);
	case V_FLOAT:
		return (v->f != 0);
	case V_STRING:
	case V_BYTES:
		return (v->len > 0);
	case V_MAP:
	case V_LIST:
		return (json_size(v->j) > 0);
	default:
		return (0);
	}
}

static const char *
go_type(const struct val *v)
{
	switch (v->kind) {
	case V_BOOL: return ("bool");
	case V_INT: return ("int64");
	case V_FLOAT: return ("float64");
	case V_STRING: return ("string");
	case V_BYTES: return ("[]uint8");
	case V_MAP: return ("map[string]interface {}");
	case V_LIST: return ("[]interface {}");
	default: return ("<nil>");
	}
}

/*
 * A float64 as Go writes it: fmt's %v is strconv's shortest 'g' (an
 * exponent from 1e+06 on, or below 1e-04); encoding/json uses plain
 * decimals from 1e-6 up to 1e21 and e-7 style exponents outside.
 */
static void
fmt_float(struct buf *b, double f, int json)
{
	char	tmp[64], *e;
	int	prec, exp, sci;

	if (isnan(f) || isinf(f)) {
		buf_str(b, isnan(f) ? "NaN" : f > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
	e = strchr(tmp, 'e');
	exp = atoi(e + 1);
	if (json)
		sci = f != 0 && (fabs(f) < 1e-6 || fabs(f) >= 1e21);
	else
		sci = exp < -4 || exp >= 6;
	if (!sci) {
		snprintf(tmp, sizeof tmp, "%.*f", prec - 1 - exp > 0 ?
		    prec - 1 - exp : 0, f);
		buf_str(b, tmp);
		return;
	}
	buf_add(b, tmp, (size_t)(e - tmp));
	if (json)
		buf_fmt(b, "e%c%d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	else
		buf_fmt(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp :
		    exp);
}

static void print_val(struct buf *, const struct val *, int top);

/* Map members in Go's sorted key order. */
static size_t
sorted_members(const struct json *obj, const struct json ***out)
{
	const struct json	**v;
	const struct json	 *m, *t;
	size_t			  n = 0, i, j;

	v = xcalloc(json_size(obj) + 1, sizeof *v);
	for (m = json_first(obj); m != NULL; m = json_next(m))
		v[n++] = m;
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(json_key(v[j - 1]),
		    json_key(v[j])) > 0; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	return (n);
}

/* fmt's %v (the top level of an action prints a nil as <no value>). */
static void
print_val(struct buf *b, const struct val *v, int top)
{
	const struct json	**m, *e;
	struct val		  x;
	size_t			  n, i;

	switch (v->kind) {
	case V_INVALID:
	case V_NIL:
		buf_str(b, top ? "<no value>" : "<nil>");
		break;
	case V_BOOL:
		buf_str(b, v->b ? "true" : "false");
		break;
	case V_INT:
		buf_fmt(b, "%lld", v->i);
		break;
	case V_FLOAT:
		fmt_float(b, v->f, 0);
		break;
	case V_STRING:
		buf_add(b, v->s, v->len);
		break;
	case V_BYTES:
		buf_str(b, "[");
		for (i = 0; i < v->len; i++)
			buf_fmt(b, "%s%u", i ? " " : "",
			    (unsigned char)v->s[i]);
		buf_str(b, "]");
		break;
	case V_MAP:
		buf_str(b, "map[");
		n = sorted_members(v->j, &m);
		for (i = 0; i < n; i++) {
			buf_fmt(b, "%s", i ? " " : "");
			buf_str(b, json_key(m[i]));
			buf_str(b, ":");
			x = val_json(m[i], v->bytes);
			print_val(b, &x, 0);
		}
		free(m);
		buf_str(b, "]");
		break;
	case V_LIST:
		buf_str(b, "[");
		for (i = 0, e = json_first(v->j); e != NULL;
		    e = json_next(e), i++) {
			if (i)
				buf_str(b, " ");
			x = val_json(e, 0);
			print_val(b, &x, 0);
		}
		buf_str(b, "]");
		break;
	}
}

/* encoding/json's string: html escapes <, >, & (toJson, not toRawJson). */
static void
json_str(struct buf *b, const char *s, size_t len, int html)
{
	const unsigned char	*p = (const unsigned char *)s, *e = p + len;
	size_t			 n;

	buf_str(b, "\"");
	while (p < e) {
		if (*p < 0x80) {
			switch (*p) {
			case '"': buf_str(b, "\\\""); break;
			case '\\': buf_str(b, "\\\\"); break;
			case '\n': buf_str(b, "\\n"); break;
			case '\r': buf_str(b, "\\r"); break;
			case '\t': buf_str(b, "\\t"); break;
			case '\b': buf_str(b, "\\b"); break;
			case '\f': buf_str(b, "\\f"); break;
			default:
				if (*p < 0x20 || (html && (*p == '<' ||
				    *p == '>' || *p == '&')))
					buf_fmt(b, "\\u00%02x", *p);
				else
					buf_add(b, (const char *)p, 1);
			}
			p++;
			continue;
		}
		/* A valid UTF-8 sequence passes; anything else is U+FFFD. */
		n = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
		    (*p & 0xf8) == 0xf0 ? 4 : 0;
		if (n == 0 || (size_t)(e - p) < n || (n >= 2 &&
		    (p[1] & 0xc0) != 0x80) || (n >= 3 && (p[2] & 0xc0) !=
		    0x80) || (n == 4 && (p[3] & 0xc0) != 0x80) ||
		    (n == 2 && *p < 0xc2)) {
			buf_str(b, "\\ufffd");
			p++;
			continue;
		}
		if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
		    (p[2] == 0xa8 || p[2] == 0xa9))
			buf_fmt(b, "\\u202%c", p[2] == 0xa8 ? '8' : '9');
		else
			buf_add(b, (const char *)p, n);
		p += n;
	}
	buf_str(b, "\"");
}

static void
b64(struct buf *b, const unsigned char *p, size_t len)
{
	static const char	 a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 i;
	unsigned long		 v;
	char			 q[4];

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 |
		    p[i + 2];
		q[0] = a[v >> 18];
		q[1] = a[(v >> 12) & 63];
		q[2] = a[(v >> 6) & 63];
		q[3] = a[v & 63];
		buf_add(b, q, 4);
	}
	if (len - i == 1) {
		v = (unsigned long)p[i] << 16;
		q[0] = a[v >> 18];
		q[1] = a[(v >> 12) & 63];
		q[2] = q[3] = '=';
		buf_add(b, q, 4);
	} else if (len - i == 2) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8;
		q[0] = a[v >> 18];
		q[1] = a[(v >> 12) & 63];
		q[2] = a[(v >> 6) & 63];
		q[3] = '=';
		buf_add(b, q, 4);
	}
}

/* json.Marshal (indent: json.MarshalIndent with "", "  "). */
static void
json_val(struct buf *b, const struct val *v, int html, int indent,
    int level)
{
	const struct json	**m, *e;
	struct val		  x;
	size_t			  n, i;
	int			  k;

	switch (v->kind) {
	case V_INVALID:
	case V_NIL:
		buf_str(b, "null");
		break;
	case V_BOOL:
		buf_str(b, v->b ? "true" : "false");
		break;
	case V_INT:
		buf_fmt(b, "%lld", v->i);
		break;
	case V_FLOAT:
		fmt_float(b, v->f, 1);
		break;
	case V_STRING:
		json_str(b, v->s, v->len, html);
		break;
	case V_BYTES:
		buf_str(b, "\"");
		b64(b, (const unsigned char *)v->s, v->len);
		buf_str(b, "\"");
		break;
	case V_MAP:
	case V_LIST:
		if (json_size(v->j) == 0) {
			buf_str(b, v->kind == V_MAP ? "{}" : "[]");
			break;
		}
		buf_str(b, v->kind == V_MAP ? "{" : "[");
		if (v->kind == V_MAP)
			n = sorted_members(v->j, &m);
		else {
			m = xcalloc(json_size(v->j) + 1, sizeof *m);
			for (n = 0, e = json_first(v->j); e != NULL;
			    e = json_next(e))
				m[n++] = e;
		}
		for (i = 0; i < n; i++) {
			if (i)
				buf_str(b, ",");
			if (indent) {
				buf_str(b, "\n");
				for (k = 0; k <= level; k++)
					buf_str(b, "  ");
			}
			if (v->kind == V_MAP) {
				json_str(b, json_key(m[i]),
				    strlen(json_key(m[i])), html);
				buf_str(b, indent ? ": " : ":");
			}
			x = val_json(m[i], v->kind == V_MAP && v->bytes);
			json_val(b, &x, html, indent, level + 1);
		}
		free(m);
		if (indent) {
			buf_str(b, "\n");
			for (k = 0; k < level; k++)
				buf_str(b, "  ");
		}
		buf_str(b, v->kind == V_MAP ? "}" : "]");
		break;
	}
}

/* strconv.Quote (Go's %q of a string). */
static void
go_quote(struct buf *b, const char *s, size_t len, char q)
{
	const unsigned char	*p = (const unsigned char *)s, *e = p + len;
	size_t			 n;

	buf_add(b, &q, 1);
	while (p < e) {
		if (*p < 0x80) {
			switch (*p) {
			case '\a': buf_str(b, "\\a"); break;
			case '\b': buf_str(b, "\\b"); break;
			case '\f': buf_str(b, "\\f"); break;
			case '\n': buf_str(b, "\\n"); break;
			case '\r': buf_str(b, "\\r"); break;
			case '\t': buf_str(b, "\\t"); break;
			case '\v': buf_str(b, "\\v"); break;
			case '\\': buf_str(b, "\\\\"); break;
			default:
				if (*p == (unsigned char)q)
					buf_fmt(b, "\\%c", q);
				else if (*p < 0x20 || *p == 0x7f)
					buf_fmt(b, "\\x%02x", *p);
				else
					buf_add(b, (const char *)p, 1);
			}
			p++;
			continue;
		}
		n = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
		    (*p & 0xf8) == 0xf0 ? 4 : 0;
		if (n == 0 || (size_t)(e - p) < n) {
			buf_fmt(b, "\\x%02x", *p);
			p++;
			continue;
		}
		if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)	/* C1 */
			buf_fmt(b, "\\u%04x", p[1]);
		else
			buf_add(b, (const char *)p, n);
		p += n;
	}
	buf_add(b, &q, 1);
}

/* sprig's strval: what toString, quote and friends make of a value. */
static struct val
strval(struct rstate *r, const struct val *v)
{
	struct buf	b = { NULL, 0, 0 };

	if (v->kind == V_STRING)
		return (*v);
	if (v->kind == V_BYTES)
		return (val_str(v->s, v->len));
	print_val(&b, v, 0);
	return (val_kept(r, &b));
}

/* A Go function parameter of type string. */
static int
want_string(struct rstate *r, const char *fn, const struct val *v)
{
	if (v->kind == V_STRING)
		return (0);
	if (v->kind == V_INVALID || v->kind == V_NIL)
		return (rerr(r, GOTMPL_EXEC, "error calling %s: invalid "
		    "value; expected string", fn));
	return (rerr(r, GOTMPL_EXEC, "wrong type for value; expected "
	    "string; got %s", go_type(v)));
}

static int
empty(const struct val *v)
{
	return (!truth(v));
}

/* Go's eq/lt on basic kinds: -2 on incompatible types. */
static int
compare(const struct val *a, const struct val *b)
{
	size_t	n;
	int	c;

	if (a->kind != b->kind) {
		if (a->kind == V_INT && b->kind == V_FLOAT)
			return (a->i < b->f ? -1 : a->i > b->f);
		return (-2);
	}
	switch (a->kind) {
	case V_BOOL:
		return (a->b - b->b);
	case V_INT:
		return (a->i < b->i ? -1 : a->i > b->i);
	case V_FLOAT:
		return (a->f < b->f ? -1 : a->f > b->f);
	case V_STRING:
		n = a->len < b->len ? a->len : b->len;
		if ((c = memcmp(a->s, b->s, n)) != 0)
			return (c < 0 ? -1 : 1);
		return (a->len < b->len ? -1 : a->len > b->len);
	default:
		return (-3);
	}
}

static int
is_nilish(const struct val *v)
{
	return (v->kind == V_INVALID || v->kind == V_NIL);
}

/* fmt's Sprint spacing: a space between operands when neither is a string. */
static void
sprint(struct buf *b, const struct val *v, size_t n, int ln)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (i > 0 && (ln || (v[i - 1].kind != V_STRING &&
		    v[i].kind != V_STRING)))
			buf_str(b, " ");
		print_val(b, &v[i], 0);
	}
	if (ln)
		buf_str(b, "\n");
}

/* fmt.Sprintf for the verbs templates use: %s %v %d %q %%. */
static int
sprintf_go(struct rstate *r, struct buf *b, const struct val *fmtv,
    const struct val *v, size_t n)
{
	const char	*f = fmtv->s, *e = fmtv->s + fmtv->len;
	size_t		 k = 0;
	struct val	 s;

	for (; f < e; f++) {
		if (*f != '%') {
			buf_add(b, f, 1);
			continue;
		}
		if (++f >= e) {
			buf_str(b, "%!(NOVERB)");
			break;
		}
		if (*f == '%') {
			buf_str(b, "%");
			continue;
		}
		if (strchr("svdq", *f) == NULL)
			return (rerr(r, GOTMPL_UNSUPPORTED, "printf verb "
			    "%%%c", *f));
		if (k >= n) {
			buf_fmt(b, "%%!%c(MISSING)", *f);
			continue;
		}
		if (is_nilish(&v[k]) && *f != 'v') {
			buf_fmt(b, "%%!%c(<nil>)", *f);
			k++;
			continue;
		}
		switch (*f) {
		case 'v':
			print_val(b, &v[k], 0);
			break;
		case 's':
			if (v[k].kind == V_STRING || v[k].kind == V_BYTES)
				buf_add(b, v[k].s, v[k].len);
			else if (v[k].kind == V_MAP || v[k].kind == V_LIST)
				print_val(b, &v[k], 0);
			else {
				buf_fmt(b, "%%!s(%s=", go_type(&v[k]));
				print_val(b, &v[k], 0);
				buf_str(b, ")");
			}
			break;
		case 'd':
			if (v[k].kind == V_INT)
				buf_fmt(b, "%lld", v[k].i);
			else {
				buf_fmt(b, "%%!d(%s=", go_type(&v[k]));
				print_val(b, &v[k], 0);
				buf_str(b, ")");
			}
			break;
		case 'q':
			s = strval(r, &v[k]);
			go_quote(b, s.s, s.len, '"');
			break;
		}
		k++;
	}
	if (k < n) {
		buf_str(b, "%!(EXTRA ");
		for (; k < n; k++) {
			buf_fmt(b, "%s=", go_type(&v[k]));
			print_val(b, &v[k], 0);
			if (k + 1 < n)
				buf_str(b, ", ");
		}
		buf_str(b, ")");
	}
	return (0);
}

/* --- the functions' bodies (rows of gotmpl_funcs point here) ------------ */

static int
fn_andor(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (truth(&a[i]) == (f->id == F_OR))
			break;
	*out = a[i < n ? i : n - 1];
	return (0);
}

static int
fn_eq(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	size_t	i;
	int	c;

	for (i = 1; i < n; i++) {
		if (is_nilish(&a[0]) || is_nilish(&a[i])) {
			if (is_nilish(&a[0]) && is_nilish(&a[i])) {
				*out = val_bool(1);
				return (0);
			}
			continue;
		}
		if ((c = compare(&a[0], &a[i])) == -2)
			return (rerr(r, GOTMPL_EXEC, "error calling "
			    "eq: incompatible types for comparison"));
		if (c == -3)
			return (rerr(r, GOTMPL_EXEC, "error calling "
			    "eq: invalid type for comparison"));
		if (c == 0) {
			*out = val_bool(1);
			return (0);
		}
	}
	*out = val_bool(0);
	return (0);
}

/* ne, lt, le, gt, ge */
static int
fn_cmp(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	int	c;

	if (is_nilish(&a[0]) || is_nilish(&a[1])) {
		if (f->id == F_NE) {
			*out = val_bool(!(is_nilish(&a[0]) &&
			    is_nilish(&a[1])));
			return (0);
		}
		return (rerr(r, GOTMPL_EXEC, "error calling %s: "
		    "invalid type for comparison", f->name));
	}
	c = compare(&a[0], &a[1]);
	if (c == -2 || c == -3 || (f->id != F_NE &&
	    (a[0].kind == V_BOOL)))
		return (rerr(r, GOTMPL_EXEC, "error calling %s: %s",
		    f->name, c == -2 ? "incompatible types for "
		    "comparison" : "invalid type for comparison"));
	*out = val_bool(f->id == F_NE ? c != 0 : f->id == F_LT ?
	    c < 0 : f->id == F_LE ? c <= 0 : f->id == F_GT ? c > 0 :
	    c >= 0);
	return (0);
}

static int
fn_len(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	long long	k;

	if (a[0].kind == V_STRING || a[0].kind == V_BYTES)
		k = (long long)a[0].len;
	else if (a[0].kind == V_MAP || a[0].kind == V_LIST)
		k = (long long)json_size(a[0].j);
	else if (is_nilish(&a[0]))
		return (rerr(r, GOTMPL_EXEC, "error calling len: len "
		    "of nil pointer"));
	else
		return (rerr(r, GOTMPL_EXEC, "error calling len: len "
		    "of type %s", go_type(&a[0])));
	out->kind = V_INT;
	out->i = k;
	return (0);
}

static int
fn_index(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	const struct json	*e;
	struct val		 s;
	size_t			 i;
	long long		 k;

	*out = a[0];
	for (i = 1; i < n; i++) {
		if (out->kind == V_INVALID)
			return (rerr(r, GOTMPL_EXEC, "error calling "
			    "index: index of untyped nil"));
		if (out->kind == V_NIL)
			return (rerr(r, GOTMPL_EXEC, "error calling "
			    "index: index of nil pointer"));
		if (out->kind == V_MAP) {
			if (a[i].kind != V_STRING)
				return (rerr(r, GOTMPL_EXEC, "error "
				    "calling index: value has type %s; "
				    "should be string", go_type(&a[i])));
			s = *out;
			e = NULL;
			for (e = json_first(s.j); e != NULL;
			    e = json_next(e))
				if (strlen(json_key(e)) == a[i].len &&
				    memcmp(json_key(e), a[i].s,
				    a[i].len) == 0)
					break;
			*out = val_json(e, s.bytes);
			if (out->kind == V_NIL)
				out->kind = V_INVALID;
			continue;
		}
		if (out->kind == V_LIST || out->kind == V_STRING ||
		    out->kind == V_BYTES) {
			if (a[i].kind != V_INT)
				return (rerr(r, GOTMPL_EXEC, "error "
				    "calling index: cannot index slice/"
				    "array with type %s",
				    go_type(&a[i])));
			k = a[i].i;
			if (k < 0 || (size_t)k >= (out->kind == V_LIST ?
			    json_size(out->j) : out->len))
				return (rerr(r, GOTMPL_EXEC, "error "
				    "calling index: index out of range: "
				    "%lld", k));
			if (out->kind != V_LIST) {
				out->kind = V_INT;
				out->i = (unsigned char)out->s[k];
				continue;
			}
			for (e = json_first(out->j); k > 0; k--)
				e = json_next(e);
			*out = val_json(e, 0);
			continue;
		}
		return (rerr(r, GOTMPL_EXEC, "error calling index: "
		    "can't index item of type %s", go_type(out)));
	}
	return (0);
}

/* print, println */
static int
fn_print(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	struct buf	b = { NULL, 0, 0 };

	sprint(&b, a, n, f->id == F_PRINTLN);
	*out = val_kept(r, &b);
	return (0);
}

static int
fn_printf(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	struct buf	b = { NULL, 0, 0 };

	if (want_string(r, "printf", &a[0]) == -1)
		return (-1);
	if (sprintf_go(r, &b, &a[0], a + 1, n - 1) == -1) {
		free(b.p);
		return (-1);
	}
	*out = val_kept(r, &b);
	return (0);
}

/* toJson, toRawJson, toPrettyJson */
static int
fn_json(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	struct buf	b = { NULL, 0, 0 };

	json_val(&b, &a[0], f->id != F_TORAWJSON,
	    f->id == F_TOPRETTYJSON, 0);
	*out = val_kept(r, &b);
	return (0);
}

/* quote, squote */
static int
fn_quote(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	struct buf	b = { NULL, 0, 0 };
	struct val	s;
	size_t		i;
	int		c;

	for (i = 0, c = 0; i < n; i++) {
		if (is_nilish(&a[i]))
			continue;
		if (c++)
			buf_str(&b, " ");
		s = strval(r, &a[i]);
		if (f->id == F_QUOTE)
			go_quote(&b, s.s, s.len, '"');
		else {
			buf_str(&b, "'");
			buf_add(&b, s.s, s.len);
			buf_str(&b, "'");
		}
	}
	*out = val_kept(r, &b);
	return (0);
}

/* not, default, empty, toString, ternary: one expression each */
static int
fn_pick(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	switch (f->id) {
	case F_NOT:
		*out = val_bool(!truth(&a[0]));
		break;
	case F_DEFAULT:
		*out = n < 2 || empty(&a[1]) ? a[0] : a[1];
		break;
	case F_EMPTY:
		*out = val_bool(empty(&a[0]));
		break;
	case F_TOSTRING:
		*out = strval(r, &a[0]);
		break;
	default:	/* F_TERNARY */
		*out = truth(&a[2]) ? a[0] : a[1];
		break;
	}
	return (0);
}

static int
fn_coalesce(struct rstate *r, const struct gotmpl_func *f,
    const struct val *a, size_t n, struct val *out)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!empty(&a[i])) {
			*out = a[i];
			return (0);
		}
	out->kind = V_INVALID;
	return (0);
}

/* upper, lower, title, trim, b64enc: one string in, one string out */
static int
fn_case(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	struct buf	 b = { NULL, 0, 0 };
	const char	*p, *q;
	size_t		 i;

	if (want_string(r, f->name, &a[0]) == -1)
		return (-1);
	if (f->id == F_B64ENC) {
		b64(&b, (const unsigned char *)a[0].s, a[0].len);
		*out = val_kept(r, &b);
		return (0);
	}
	p = a[0].s;
	q = a[0].s + a[0].len;
	if (f->id == F_TRIM) {
		while (p < q && isspace((unsigned char)*p))
			p++;
		while (q > p && isspace((unsigned char)q[-1]))
			q--;
	}
	buf_add(&b, p, (size_t)(q - p));
	for (i = 0; i < b.len; i++) {
		if (f->id == F_UPPER)
			b.p[i] = (char)toupper((unsigned char)b.p[i]);
		else if (f->id == F_LOWER)
			b.p[i] = (char)tolower((unsigned char)b.p[i]);
		else if (f->id == F_TITLE && (i == 0 ||
		    isspace((unsigned char)b.p[i - 1])))
			b.p[i] = (char)toupper((unsigned char)b.p[i]);
	}
	*out = val_kept(r, &b);
	return (0);
}

/* trimPrefix, trimSuffix, contains, hasPrefix, hasSuffix */
static int
fn_affix(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	struct val	s;
	size_t		i;
	int		c;

	if (want_string(r, f->name, &a[0]) == -1 ||
	    want_string(r, f->name, &a[1]) == -1)
		return (-1);
	s = a[1];
	if (f->id == F_TRIMPREFIX || f->id == F_HASPREFIX)
		c = s.len >= a[0].len && memcmp(s.s, a[0].s,
		    a[0].len) == 0;
	else if (f->id == F_TRIMSUFFIX || f->id == F_HASSUFFIX)
		c = s.len >= a[0].len && memcmp(s.s + s.len -
		    a[0].len, a[0].s, a[0].len) == 0;
	else {
		for (c = 0, i = 0; !c && i + a[0].len <= s.len; i++)
			c = memcmp(s.s + i, a[0].s, a[0].len) == 0;
	}
	if (f->id == F_TRIMPREFIX)
		*out = c ? val_str(s.s + a[0].len, s.len - a[0].len) :
		    s;
	else if (f->id == F_TRIMSUFFIX)
		*out = c ? val_str(s.s, s.len - a[0].len) : s;
	else
		*out = val_bool(c);
	return (0);
}

static int
fn_replace(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	struct buf	 b = { NULL, 0, 0 };
	const char	*p, *q;
	size_t		 i;

	for (i = 0; i < 3; i++)
		if (want_string(r, "replace", &a[i]) == -1)
			return (-1);
	p = a[2].s;
	q = a[2].s + a[2].len;
	while (p < q) {
		if (a[0].len > 0 && (size_t)(q - p) >= a[0].len &&
		    memcmp(p, a[0].s, a[0].len) == 0) {
			buf_add(&b, a[1].s, a[1].len);
			p += a[0].len;
		} else if (a[0].len == 0) {
			buf_add(&b, a[1].s, a[1].len);
			buf_add(&b, p++, 1);
		} else
			buf_add(&b, p++, 1);
	}
	if (a[0].len == 0)
		buf_add(&b, a[1].s, a[1].len);
	*out = val_kept(r, &b);
	return (0);
}

static int
fn_trunc(struct rstate *r, const struct gotmpl_func *f, const struct val *a,
    size_t n, struct val *out)
{
	long long	k;

	if (a[0].kind != V_INT)
		return (rerr(r, GOTMPL_EXEC, "wrong type for value; "
		    "expected int; got %s", go_type(&a[0])));
	if (want_string(r, "trunc", &a[1]) == -1)
		return (-1);
	k = a[0].i;
	if (k < 0)
		*out = (size_t)-k < a[1].len ? val_str(a[1].s +
		    a[1].len - (size_t)-k, (size_t)-k) : a[1];
	else
		*out = (size_t)k < a[1].len ? val_str(a[1].s,
		    (size_t)k) : a[1];
	return (0);
}

/* Call function fn with n evaluated arguments: its row's arity, then its body. */
static int
call(struct rstate *r, int fn, const struct val *a, size_t n,
    struct val *out)
{
	const struct gotmpl_func	*f = &gotmpl_funcs[fn];

	memset(out, 0, sizeof *out);
	if (n < f->min || n > f->max)
		return (rerr(r, GOTMPL_EXEC, "wrong number of args for %s: "
		    "want %zu got %zu", f->name, f->min, n));
	if (f->call == NULL)
		return (rerr(r, GOTMPL_UNSUPPORTED, "%s", f->name));
	return (f->call(r, f, a, n, out));
}

/* --- evaluation -------------------------------------------------------- */

static int eval_pipe(struct rstate *, const struct pipe *, struct val dot,
    struct val *out);

/* .name on v; *out invalid for a missing key. */
static int
field(struct rstate *r, const struct val *v, const char *name, int last,
    struct val *out)
{
	const struct json	*m;

	if (r->opts != NULL && r->opts->poison_field != NULL && last &&
	    strcmp(name, r->opts->poison_field) == 0) {
		*out = val_str(r->opts->poison_value,
		    strlen(r->opts->poison_value));
		r->poisoned = 1;
		return (0);
	}
	switch (v->kind) {
	case V_INVALID:
		memset(out, 0, sizeof *out);
		return (0);
	case V_NIL:
		return (rerr(r, GOTMPL_EXEC, "nil pointer evaluating "
		    "interface {}.%s", name));
	case V_MAP:
		m = json_get(v->j, name);
		*out = val_json(m, v->bytes);
		return (0);
	default:
		return (rerr(r, GOTMPL_EXEC, "can't evaluate field %s in "
		    "type %s", name, go_type(v)));
	}
}

static int
chain(struct rstate *r, struct val v, char *const *names, size_t n,
    int top, struct val *out)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (field(r, &v, names[i], i + 1 == n, &v) == -1)
			return (-1);
		/* The secrets map's values are []byte. */
		if (top && i == 0 && r->opts != NULL && r->opts->bytes_key !=
		    NULL && strcmp(names[0], r->opts->bytes_key) == 0 &&
		    v.kind == V_MAP)
			v.bytes = 1;
	}
	*out = v;
	return (0);
}

static const struct val *
var_get(struct rstate *r, const char *name)
{
	size_t	i;

	for (i = r->nvars; i > 0; i--)
		if (strcmp(r->vars[i - 1].name, name) == 0)
			return (&r->vars[i - 1].v);
	return (NULL);
}

static void
var_push(struct rstate *r, char *name, struct val v)
{
	r->vars = xreallocarray(r->vars, r->nvars + 1, sizeof *r->vars);
	r->vars[r->nvars].name = name;
	r->vars[r->nvars].v = v;
	r->nvars++;
}

static int
eval_arg(struct rstate *r, const struct arg *a, struct val dot,
    struct val *out)
{
	const struct val	*vp;
	struct val		 v;

	memset(out, 0, sizeof *out);
	switch (a->kind) {
	case A_DOT:
		*out = dot;
		return (0);
	case A_FIELD:
		return (chain(r, dot, a->chain, a->nchain, dot.j == r->data,
		    out));
	case A_VAR:
		if ((vp = var_get(r, a->s)) == NULL)
			return (rerr(r, GOTMPL_PARSE, "undefined variable: "
			    "%s", a->s));
		return (chain(r, *vp, a->chain, a->nchain, vp->j == r->data,
		    out));
	case A_STRING:
		*out = val_str(a->s, a->slen);
		return (0);
	case A_INT:
		out->kind = V_INT;
		out->i = a->i;
		return (0);
	case A_FLOAT:
		out->kind = V_FLOAT;
		out->f = a->f;
		return (0);
	case A_BOOL:
		*out = val_bool(a->b);
		return (0);
	case A_NIL:
		return (rerr(r, GOTMPL_EXEC, "nil is not a command"));
	case A_PIPE:
		if (eval_pipe(r, a->sub, dot, &v) == -1)
			return (-1);
		return (chain(r, v, a->chain, a->nchain, 0, out));
	case A_FUNC:
		return (call(r, a->fn, NULL, 0, out));
	}
	return (-1);
}

static int
eval_cmd(struct rstate *r, const struct cmd *c, struct val dot,
    const struct val *piped, struct val *out)
{
	struct val	*args;
	size_t		 n = 0, i;
	int		 rc;

	if (c->args[0].kind != A_FUNC) {
		if (piped != NULL)
			return (rerr(r, GOTMPL_EXEC, "can't give argument to "
			    "non-function"));
		return (eval_arg(r, &c->args[0], dot, out));
	}
	args = xcalloc(c->nargs + 1, sizeof *args);
	/* and/or stop at the first decisive argument (Go 1.18). */
	for (i = 1; i < c->nargs; i++) {
		if (eval_arg(r, &c->args[i], dot, &args[n]) == -1) {
			free(args);
			return (-1);
		}
		n++;
		if ((gotmpl_funcs[c->args[0].fn].id == F_AND &&
		    !truth(&args[n - 1])) || (gotmpl_funcs[c->args[0].fn].id ==
		    F_OR && truth(&args[n - 1]))) {
			*out = args[n - 1];
			free(args);
			return (0);
		}
	}
	if (piped != NULL)
		args[n++] = *piped;
	rc = call(r, c->args[0].fn, args, n, out);
	free(args);
	return (rc);
}

static int
eval_pipe(struct rstate *r, const struct pipe *pp, struct val dot,
    struct val *out)
{
	struct val	v;
	size_t		i;

	memset(&v, 0, sizeof v);
	for (i = 0; i < pp->ncmds; i++)
		if (eval_cmd(r, &pp->cmds[i], dot, i > 0 ? &v : NULL, &v) ==
		    -1)
			return (-1);
	/* An interface holding nil is no value at all. */
	if (v.kind == V_NIL)
		v.kind = V_INVALID;
	*out = v;
	return (0);
}

static int exec_list(struct rstate *, const struct node *, struct val dot);

/* Does the pipeline end in toJson, toRawJson or toPrettyJson? */
static int
json_encoded(const struct pipe *pp)
{
	const struct cmd	*c = &pp->cmds[pp->ncmds - 1];
	enum fn_id		 id;

	if (c->args[0].kind != A_FUNC)
		return (0);
	id = gotmpl_funcs[c->args[0].fn].id;
	return (id == F_TOJSON || id == F_TORAWJSON || id == F_TOPRETTYJSON);
}

static int
exec_range(struct rstate *r, const struct node *n, struct val dot)
{
	const struct json	**m = NULL, *e;
	struct val		  v, key, el;
	size_t			  mark, i, cnt = 0;
	int			  rc = 0;

	if (eval_pipe(r, n->pipe, dot, &v) == -1)
		return (-1);
	if (v.kind != V_MAP && v.kind != V_LIST && !is_nilish(&v))
		return (rerr(r, GOTMPL_EXEC, "range can't iterate over %s",
		    go_type(&v)));
	if (!is_nilish(&v)) {
		cnt = v.kind == V_MAP ? sorted_members(v.j, &m) : 0;
		if (v.kind == V_LIST) {
			m = xcalloc(json_size(v.j) + 1, sizeof *m);
			for (e = json_first(v.j); e != NULL; e = json_next(e))
				m[cnt++] = e;
		}
	}
	if (cnt == 0) {
		free(m);
		return (n->ebody != NULL ? exec_list(r, n->ebody, dot) : 0);
	}
	for (i = 0; i < cnt && rc == 0; i++) {
		mark = r->nvars;
		memset(&key, 0, sizeof key);
		if (v.kind == V_MAP)
			key = val_str(json_key(m[i]), strlen(json_key(m[i])));
		else {
			key.kind = V_INT;
			key.i = (long long)i;
		}
		el = val_json(m[i], v.kind == V_MAP && v.bytes);
		if (n->pipe->ndecl == 1)
			var_push(r, n->pipe->decl[0], el);
		else if (n->pipe->ndecl == 2) {
			var_push(r, n->pipe->decl[0], key);
			var_push(r, n->pipe->decl[1], el);
		}
		rc = exec_list(r, n->body, el);
		r->nvars = mark;
		if (r->out.len > GOTMPL_MAX_OUT)
			rc = rerr(r, GOTMPL_UNSUPPORTED, "output over 1 MiB");
	}
	free(m);
	return (rc);
}

static int
exec_list(struct rstate *r, const struct node *n, struct val dot)
{
	struct val	 v;
	size_t		 mark = r->nvars, i;
	struct var	*old;
	int		 rc = 0;

	for (; n != NULL && rc == 0; n = n->next) {
		r->line = n->line;
		switch (n->kind) {
		case N_TEXT:
			buf_add(&r->out, n->text, n->tlen);
			break;
		case N_ACTION:
			r->poisoned = 0;
			if ((rc = eval_pipe(r, n->pipe, dot, &v)) == -1)
				break;
			if (n->pipe->ndecl > 0) {
				if (!n->pipe->assign) {
					var_push(r, n->pipe->decl[0], v);
					break;
				}
				for (i = r->nvars, old = NULL; i > 0; i--)
					if (strcmp(r->vars[i - 1].name,
					    n->pipe->decl[0]) == 0) {
						old = &r->vars[i - 1];
						break;
					}
				if (old == NULL)
					rc = rerr(r, GOTMPL_PARSE, "undefined "
					    "variable: %s", n->pipe->decl[0]);
				else
					old->v = v;
				break;
			}
			if (r->poisoned && r->poison_line == 0 &&
			    !json_encoded(n->pipe))
				r->poison_line = n->line;
			print_val(&r->out, &v, 1);
			break;
		case N_IF:
		case N_WITH:
			mark = r->nvars;
			if ((rc = eval_pipe(r, n->pipe, dot, &v)) == -1)
				break;
			if (n->pipe->ndecl > 0)
				var_push(r, n->pipe->decl[0], v);
			if (truth(&v))
				rc = exec_list(r, n->body, n->kind == N_WITH ?
				    v : dot);
			else if (n->ebody != NULL)
				rc = exec_list(r, n->ebody, dot);
			r->nvars = mark;
			break;
		case N_RANGE:
			rc = exec_range(r, n, dot);
			break;
		}
	}
	return (rc);
}

enum gotmpl_status
gotmpl_render(const struct gotmpl *t, const struct json *data,
    const struct gotmpl_opts *opts, char **out, size_t *outlen,
    struct gotmpl_error *err, size_t *poison_line)
{
	struct rstate	r;
	struct val	dot;
	size_t		i;
	char		dollar[] = "$";

	memset(err, 0, sizeof *err);
	memset(&r, 0, sizeof r);
	r.opts = opts;
	r.data = data;
	r.err = err;
	dot = val_json(data, 0);
	var_push(&r, dollar, dot);
	*out = NULL;
	*outlen = 0;
	if (exec_list(&r, t->root, dot) == -1) {
		free(r.out.p);
		r.out.p = NULL;
		if (err->status == GOTMPL_OK)
			err->status = GOTMPL_EXEC;
	} else {
		if (r.out.p == NULL)
			buf_add(&r.out, "", 0);
		*out = r.out.p;
		*outlen = r.out.len;
	}
	for (i = 0; i < r.narena; i++)
		free(r.arena[i]);
	free(r.arena);
	free(r.vars);
	if (poison_line != NULL)
		*poison_line = r.poison_line;
	return (err->status);
}

/* --- inspection -------------------------------------------------------- */

static int uses_pipe(const struct pipe *, const char *path);

static int
uses_chain(char *const *names, size_t n, const char *path)
{
	char	buf[512];
	size_t	i, len = 0;
	int	w;

	for (i = 0; i < n; i++) {
		w = snprintf(buf + len, sizeof buf - len, ".%s", names[i]);
		if (w < 0 || (size_t)w >= sizeof buf - len)
			return (0);
		len += (size_t)w;
		if (strcmp(buf, path) == 0)
			return (1);
	}
	return (0);
}

static int
uses_pipe(const struct pipe *pp, const char *path)
{
	size_t			 i, j;
	const struct arg	*a;

	if (pp == NULL)
		return (0);
	for (i = 0; i < pp->ncmds; i++)
		for (j = 0; j < pp->cmds[i].nargs; j++) {
			a = &pp->cmds[i].args[j];
			if ((a->kind == A_FIELD || (a->kind == A_VAR &&
			    strcmp(a->s, "$") == 0)) &&
			    uses_chain(a->chain, a->nchain, path))
				return (1);
			if (a->kind == A_PIPE && uses_pipe(a->sub, path))
				return (1);
		}
	return (0);
}

static int
uses_list(const struct node *n, const char *path)
{
	for (; n != NULL; n = n->next)
		if (uses_pipe(n->pipe, path) || uses_list(n->body, path) ||
		    uses_list(n->ebody, path))
			return (1);
	return (0);
}

int
gotmpl_uses(const struct gotmpl *t, const char *path)
{
	return (uses_list(t->root, path));
}
