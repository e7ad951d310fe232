/*
 * app.js: notimock's inbox.  Plain browser JavaScript, no framework, no
 * build step; it talks only to the assertion API under /mock/
 * (doc/mock-api.md).
 *
 * Model: every delivery's summary (GET /mock/deliveries?view=summary, then
 * /mock/events for what arrives) is kept in memory; groups, counts and
 * filters are computed from it here.  Full deliveries (payload, headers,
 * body, answer) are fetched when a row or the detail pane needs them.  The
 * view (group, filters, open delivery) lives in the URL's fragment, so a
 * reload or a shared link shows the same thing.  "Read" is this browser's
 * own memory (localStorage): notimock has no user who reads.
 *
 * Everything a sender wrote is untrusted: it reaches the page through
 * textContent and createElement only, never as HTML, and links are made
 * only for http(s) URLs.  The server's Content-Security-Policy forbids
 * inline script on top of that.
 */
'use strict';

(function () {

/* --- constants ----------------------------------------------------------- */

const SEVERITIES = ['critical', 'high', 'normal', 'low'];
const FIRST_FULL = 100;		/* newest deliveries loaded in full at start */
const PAGE = 1000;		/* the assertion API's largest page */
const LOAD_MAX = 10000;		/* summaries kept in memory */
const FULL_CACHE = 600;		/* full deliveries kept in memory */
const ROWS = 50;		/* rows rendered per "Show older" */
const FETCHES = 4;		/* parallel fetches of full deliveries */
const MD_MAX = 20000;		/* longer descriptions are shown as plain text */
const JSON_MAX = 300000;	/* longer bodies are not highlighted */
const FRESH_MS = 2500;		/* how long a new row stays highlighted */
const READ_KEY = 'notimock.read.v1';
const READ_MAX = 50000;
const TOKEN_KEY = 'notimock.adminToken';
const SEND_PATH = '/api/notifications/notifications';

const G_ALL = 'all', G_REJECTED = 'rejected', G_BROADCAST = 'broadcast',
    G_OTHER = 'other';
const FIXED_GROUPS = [
	{ id: G_ALL, label: 'All deliveries', icon: '\u25a4' },
	{ id: G_REJECTED, label: 'Rejected', icon: '\u2716' },
	{ id: G_BROADCAST, label: 'Broadcasts', icon: '\u25ce' },
	{ id: G_OTHER, label: 'Other API calls', icon: '\u21c4' },
];

/* --- state --------------------------------------------------------------- */

const S = {
	summaries: new Map(),	/* seq -> summary, with .canon and .groups */
	full: new Map(),	/* seq -> full delivery (insertion order = age) */
	pending: new Map(),	/* seq -> promise of a full delivery */
	queue: [],		/* seqs waiting for a fetch slot */
	active: 0,
	cursor: 0,
	serverTotal: 0,
	loaded: false,
	loadingMore: false,
	loadError: null,
	read: new Set(),
	token: null,
	view: { g: G_ALL, severity: '', topic: '', status: '', q: '', d: 0 },
	qSeqs: null,		/* server-side matches of view.q, or null */
	qFor: '',
	qTimer: 0,
	focus: 0,		/* seq of the keyboard cursor in the list */
	shown: ROWS,
	fresh: new Set(),
	rows: new Map(),	/* seq -> { el, sig } */
	es: null,
	renderQueued: false,
	detailSeq: 0,
	readMarked: 0,
	detailToken: 0,
};

/* --- small helpers --------------------------------------------------------- */

const $ = (id) => document.getElementById(id);

/* Build an element.  attrs: class, text, and plain attributes; functions
 * under on<event> become listeners.  Children: nodes, strings (text), arrays,
 * null.  No path here ever parses HTML. */
function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	if (attrs) {
		for (const [k, v] of Object.entries(attrs)) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k === 'class')
				el.className = v;
			else if (k === 'text')
				el.textContent = v;
			else if (k.startsWith('on') && typeof v === 'function')
				el.addEventListener(k.slice(2), v);
			else
				el.setAttribute(k, v === true ? '' : String(v));
		}
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			append(el, c);
		else if (c instanceof Node)
			el.append(c);
		else
			el.append(document.createTextNode(String(c)));
	}
}

/* An absolute http(s) URL, normalised, or null for anything else
 * (javascript:, data:, relative, unparsable). */
function safeHttpUrl(u) {
	if (typeof u !== 'string' || u.length > 8192)
		return null;
	let url;
	try {
		url = new URL(u);
	} catch (e) {
		return null;
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:')
		return null;
	return url.href;
}

function extLink(href, text, cls) {
	return h('a', { href, target: '_blank', rel: 'noopener noreferrer',
	    class: cls || null }, text);
}

/* Entity refs as notimock groups them: lower case, namespace "default"
 * when absent; "ns/name" for a ref without a kind (db.c db_ref_canon). */
function canonRef(ref) {
	const s = String(ref);
	const cut = s.search(/[:/]/);
	const hasKind = cut >= 0 && s[cut] === ':';
	const kind = hasKind ? s.slice(0, cut) : '';
	const body = hasKind ? s.slice(cut + 1) : s;
	const slash = body.indexOf('/');
	const ns = slash >= 0 ? body.slice(0, slash) : 'default';
	const name = slash >= 0 ? body.slice(slash + 1) : body;
	if ((hasKind && kind === '') || slash === 0 || name === '')
		return s.toLowerCase();
	return ((hasKind ? kind + ':' : '') + ns + '/' + name).toLowerCase();
}

function splitRef(canon) {
	const colon = canon.search(/[:/]/);
	const kind = colon >= 0 && canon[colon] === ':' ?
	    canon.slice(0, colon) : '';
	const rest = kind ? canon.slice(colon + 1) : canon;
	const slash = rest.indexOf('/');
	return { kind, ns: slash >= 0 ? rest.slice(0, slash) : '',
	    name: slash >= 0 ? rest.slice(slash + 1) : rest };
}

function plural(n, one, many) {
	return n + ' ' + (n === 1 ? one : (many || one + 's'));
}

function relTime(ms, now) {
	const s = Math.round((now - ms) / 1000);
	if (s < 10)
		return 'just now';
	if (s < 60)
		return s + ' s ago';
	const m = Math.round(s / 60);
	if (m < 60)
		return m + ' min ago';
	const hrs = Math.round(m / 60);
	if (hrs < 24)
		return hrs + ' h ago';
	const d = Math.round(hrs / 24);
	if (d < 2)
		return 'yesterday';
	if (d < 30)
		return d + ' days ago';
	return new Date(ms).toLocaleDateString();
}

function exactTime(ms) {
	const d = new Date(ms);
	return d.toLocaleString(undefined, { dateStyle: 'medium',
	    timeStyle: 'medium' }) + '.' + String(ms % 1000).padStart(3, '0') +
	    '  (' + d.toISOString() + ')';
}

function timeEl(ms) {
	return h('time', { class: 'rel', datetime: new Date(ms).toISOString(),
	    title: exactTime(ms), 'data-ms': ms }, relTime(ms, Date.now()));
}

function shellQuote(s) {
	return "'" + String(s).replace(/'/g, "'\\''") + "'";
}

let toastTimer = 0;
function toast(msg) {
	const t = $('toast');
	t.textContent = msg;
	t.hidden = false;
	clearTimeout(toastTimer);
	toastTimer = setTimeout(() => { t.hidden = true; }, 2500);
}

async function copyText(text) {
	try {
		await navigator.clipboard.writeText(text);
	} catch (e) {
		/* Not a secure context (http://hostname): the old way. */
		const ta = h('textarea', { class: 'offscreen', readonly: true });
		ta.value = text;
		document.body.append(ta);
		ta.select();
		try {
			document.execCommand('copy');
		} catch (e2) {
			/* nothing more to try */
		}
		ta.remove();
	}
	toast('Copied to the clipboard');
}

/* --- the Markdown subset ------------------------------------------------- */

/*
 * What Argo CD's templates and Backstage's own UI use: paragraphs (blank
 * lines), line breaks, "- " and "1. " lists, **bold**, *italic* / _italic_,
 * `code`, [text](url) and bare http(s) URLs.  Links to anything but
 * http(s) stay text.
 */
function markdown(text) {
	const frag = document.createDocumentFragment();
	if (typeof text !== 'string' || text === '')
		return frag;
	if (text.length > MD_MAX) {
		frag.append(h('p', { class: 'plain' }, text));
		return frag;
	}
	for (const para of text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/)) {
		const t = para.replace(/^\n+|\n+$/g, '');
		if (t.trim() === '')
			continue;
		mdBlock(t, frag);
	}
	return frag;
}

const MD_ITEM = /^[ \t]{0,3}(?:([-*+])|(\d{1,9})[.)])[ \t]+(.*)$/;

/*
 * One paragraph: runs of "- item" / "* item" / "1. item" lines become a
 * list (a line indented under an item continues it), the lines between
 * them a paragraph with line breaks.
 */
function mdBlock(t, frag) {
	let text = [], list = null, kind = null;
	const endText = () => {
		if (text.length) {
			const p = document.createElement('p');
			mdInline(text.join('\n'), p, 0, true);
			frag.append(p);
			text = [];
		}
	};
	for (const line of t.split('\n')) {
		const m = MD_ITEM.exec(line);
		const k = m ? (m[1] ? 'ul' : 'ol') : null;
		if (m) {
			endText();
			if (!list || kind !== k) {
				list = document.createElement(k);
				kind = k;
				if (k === 'ol' && m[2] !== '1')
					list.start = Number(m[2]);
				frag.append(list);
			}
			const li = document.createElement('li');
			mdInline(m[3], li, 0, true);
			list.append(li);
		} else if (list && /^[ \t]+\S/.test(line)) {
			const li = list.lastChild;
			li.append(document.createElement('br'));
			mdInline(line.trim(), li, 0, true);
		} else {
			list = null;
			text.push(line);
		}
	}
	endText();
}

const MD_ESCAPABLE = '\\`*_[]()#+-.!~>{}|';

/* The closing mark for an emphasis opened at from, or -1. */
function mdCloser(s, mark, from) {
	let j = from;
	for (;;) {
		j = s.indexOf(mark, j);
		if (j < 0)
			return -1;
		const before = s[j - 1];
		const after = s[j + mark.length];
		if (mark.length === 1 && after === mark) {
			/* Part of a "**": not ours, step over the pair. */
			j += 2;
			continue;
		}
		if (j > from && !/\s/.test(before) &&
		    !(mark[0] === '_' && after !== undefined &&
		    /[\p{L}\p{N}]/u.test(after)))
			return j;
		j += mark.length;
	}
}

/* [text](url "title"): { text, url, end } or null. */
function mdLink(s, i) {
	const close = s.indexOf(']', i + 1);
	if (close < 0 || s[close + 1] !== '(' || s.lastIndexOf('[', close) !== i)
		return null;
	let depth = 0, j = close + 2;
	for (; j < s.length; j++) {
		if (s[j] === '(')
			depth++;
		else if (s[j] === ')') {
			if (depth === 0)
				break;
			depth--;
		} else if (s[j] === '\n')
			return null;
	}
	if (j >= s.length)
		return null;
	const inner = s.slice(close + 2, j).trim();
	const url = inner.replace(/^<(.*)>$/, '$1').split(/\s+/)[0] || '';
	return { text: s.slice(i + 1, close), url, end: j + 1 };
}

function mdInline(s, parent, depth, links) {
	let buf = '';
	const flush = () => {
		if (buf !== '') {
			parent.append(document.createTextNode(buf));
			buf = '';
		}
	};
	let i = 0;
	while (i < s.length) {
		const c = s[i];
		if (c === '\\' && i + 1 < s.length &&
		    MD_ESCAPABLE.includes(s[i + 1])) {
			buf += s[i + 1];
			i += 2;
			continue;
		}
		if (c === '\n') {
			flush();
			parent.append(document.createElement('br'));
			i++;
			continue;
		}
		if (c === '`') {
			let n = 1;
			while (s[i + n] === '`')
				n++;
			const fence = '`'.repeat(n);
			const end = s.indexOf(fence, i + n);
			if (end > i + n) {
				flush();
				parent.append(h('code', null,
				    s.slice(i + n, end).replace(/\n/g, ' ')));
				i = end + n;
				continue;
			}
			buf += fence;
			i += n;
			continue;
		}
		if ((c === '*' || c === '_') && depth < 6) {
			const mark = s[i + 1] === c ? c + c : c;
			const start = i + mark.length;
			const opens = start < s.length && !/\s/.test(s[start]) &&
			    !(c === '_' && i > 0 && /[\p{L}\p{N}]/u.test(s[i - 1]));
			const end = opens ? mdCloser(s, mark, start) : -1;
			if (end > start) {
				flush();
				const el = document.createElement(
				    mark.length === 2 ? 'strong' : 'em');
				mdInline(s.slice(start, end), el, depth + 1, links);
				parent.append(el);
				i = end + mark.length;
				continue;
			}
			buf += mark;
			i += mark.length;
			continue;
		}
		if (c === '[' && links) {
			const m = mdLink(s, i);
			if (m) {
				flush();
				const href = safeHttpUrl(m.url);
				if (href) {
					const a = extLink(href, null);
					a.title = href;
					mdInline(m.text, a, depth + 1, false);
					parent.append(a);
				} else {
					/* Shown as written, inert. */
					parent.append(h('span', { class: 'md-inert',
					    title: 'not a http(s) link' },
					    s.slice(i, m.end)));
				}
				i = m.end;
				continue;
			}
		}
		if (links && (c === 'h' || c === 'H') &&
		    (i === 0 || /[\s(<]/.test(s[i - 1]))) {
			const m = /^https?:\/\/[^\s<>"'`]+/i.exec(
			    s.slice(i, i + 2048));
			if (m) {
				const url = m[0].replace(/[.,;:!?)\]*_]+$/, '');
				const href = safeHttpUrl(url);
				if (href) {
					flush();
					parent.append(extLink(href, url));
					i += url.length;
					continue;
				}
			}
		}
		buf += c;
		i++;
	}
	flush();
}

/* --- JSON, shown ------------------------------------------------------- */

function jsonView(value) {
	const pre = h('pre', { class: 'json' });
	const raw = JSON.stringify(value, null, 2);
	if (raw === undefined)
		return pre;
	if (raw.length > JSON_MAX) {
		pre.textContent = raw;
		return pre;
	}
	jsonInto(pre, value, '');
	return pre;
}

function jsonInto(out, v, ind) {
	const span = (cls, text) => out.append(h('span', { class: cls }, text));
	if (v === null) {
		span('j-null', 'null');
	} else if (Array.isArray(v)) {
		if (v.length === 0) {
			out.append('[]');
			return;
		}
		out.append('[\n');
		v.forEach((x, k) => {
			out.append(ind + '  ');
			jsonInto(out, x, ind + '  ');
			out.append(k < v.length - 1 ? ',\n' : '\n');
		});
		out.append(ind + ']');
	} else if (typeof v === 'object') {
		const keys = Object.keys(v);
		if (keys.length === 0) {
			out.append('{}');
			return;
		}
		out.append('{\n');
		keys.forEach((k, n) => {
			out.append(ind + '  ');
			span('j-key', JSON.stringify(k));
			out.append(': ');
			jsonInto(out, v[k], ind + '  ');
			out.append(n < keys.length - 1 ? ',\n' : '\n');
		});
		out.append(ind + '}');
	} else if (typeof v === 'string') {
		span('j-str', JSON.stringify(v));
	} else if (typeof v === 'number') {
		span('j-num', String(v));
	} else {
		span('j-bool', String(v));
	}
}

/* A body as sent: highlighted JSON when it parses, else the text. */
function bodyView(text) {
	if (typeof text !== 'string' || text === '')
		return h('p', { class: 'muted' }, '(empty)');
	if (text.length <= JSON_MAX) {
		try {
			return jsonView(JSON.parse(text));
		} catch (e) {
			/* not JSON: shown as it came */
		}
	}
	return h('pre', { class: 'raw' }, text);
}

/* --- persistence: read marks and the admin token ------------------------ */

function readKey(d) {
	return d.seq + '@' + d.receivedMs;
}

function loadRead() {
	try {
		const v = JSON.parse(localStorage.getItem(READ_KEY) || '[]');
		if (Array.isArray(v))
			S.read = new Set(v.filter((x) => typeof x === 'string'));
	} catch (e) {
		S.read = new Set();
	}
}

function saveRead() {
	let v = Array.from(S.read);
	if (v.length > READ_MAX)
		v = v.slice(v.length - READ_MAX);
	try {
		localStorage.setItem(READ_KEY, JSON.stringify(v));
	} catch (e) {
		/* storage full or denied: read marks last this page only */
	}
}

function isRead(d) {
	return S.read.has(readKey(d));
}

function setRead(seqs, read) {
	let changed = false;
	for (const seq of seqs) {
		const d = S.summaries.get(seq);
		if (!d || isRead(d) === read)
			continue;
		if (read)
			S.read.add(readKey(d));
		else
			S.read.delete(readKey(d));
		changed = true;
	}
	if (changed) {
		saveRead();
		scheduleRender();
	}
}

/* --- talking to /mock/ ---------------------------------------------------- */

class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

async function api(path, opts) {
	const headers = { Accept: 'application/json' };
	if (S.token)
		headers.Authorization = 'Bearer ' + S.token;
	const res = await fetch(path, Object.assign({ headers,
	    cache: 'no-store' }, opts || {}));
	if (res.status === 401) {
		await askToken(S.token !== null);
		return api(path, opts);
	}
	let body = null;
	try {
		body = await res.json();
	} catch (e) {
		/* an empty or non-JSON answer */
	}
	if (!res.ok) {
		const msg = body && body.error && body.error.message ?
		    body.error.message : res.status + ' ' + res.statusText;
		throw new ApiError(res.status, msg);
	}
	return body;
}

let tokenWaiters = null;
function askToken(wasWrong) {
	if (tokenWaiters)
		return new Promise((resolve) => tokenWaiters.push(resolve));
	tokenWaiters = [];
	return new Promise((resolve) => {
		tokenWaiters.push(resolve);
		const dlg = $('token-dialog');
		$('token-error').hidden = !wasWrong;
		$('token-input').value = '';
		dlg.addEventListener('close', function done() {
			dlg.removeEventListener('close', done);
			const t = $('token-input').value.trim();
			if (t === '') {
				/* Dismissed: ask again, nothing works
				 * without it. */
				setTimeout(() => {
					const w = tokenWaiters;
					tokenWaiters = null;
					askToken(false).then(() =>
					    w.forEach((r) => r()));
				}, 0);
				return;
			}
			S.token = t;
			try {
				sessionStorage.setItem(TOKEN_KEY, t);
			} catch (e) {
				/* kept in memory only */
			}
			const w = tokenWaiters;
			tokenWaiters = null;
			w.forEach((r) => r());
			/* A stream refused for the old token: again. */
			if (S.es)
				restartEvents();
		});
		dlg.showModal();
		$('token-input').focus();
	});
}

function qs(params) {
	const parts = [];
	for (const [k, v] of Object.entries(params))
		if (v !== '' && v !== null && v !== undefined)
			parts.push(encodeURIComponent(k) + '=' +
			    encodeURIComponent(v));
	return parts.length ? '?' + parts.join('&') : '';
}

/* Decorate a summary with what grouping needs. */
function classify(d) {
	const path = String(d.path || '').split('?')[0].toLowerCase()
	    .replace(/\/+$/, '');
	const send = d.method === 'POST' && path === SEND_PATH;
	const ents = Array.isArray(d.entities) ? d.entities : [];
	d.canon = Array.from(new Set(ents.filter((e) => typeof e === 'string')
	    .map(canonRef)));
	d.groups = [G_ALL];
	if (!d.accepted)
		d.groups.push(G_REJECTED);
	if (send && d.accepted && d.canon.length === 0)
		d.groups.push(G_BROADCAST);
	if (!send)
		d.groups.push(G_OTHER);
	for (const c of d.canon)
		d.groups.push('e:' + c);
	return d;
}

function addSummary(d) {
	if (!d || typeof d.seq !== 'number')
		return;
	S.summaries.set(d.seq, classify(d));
	if (d.seq > S.cursor)
		S.cursor = d.seq;
}

function cacheFull(d) {
	/* Never fewer than the rows on screen, or they would fetch forever. */
	const max = Math.max(FULL_CACHE, S.shown + ROWS);
	S.full.delete(d.seq);
	S.full.set(d.seq, d);
	while (S.full.size > max) {
		const oldest = S.full.keys().next().value;
		const keep = S.full.get(oldest);
		S.full.delete(oldest);
		if (oldest === S.detailSeq)
			S.full.set(oldest, keep);	/* now the newest */
	}
}

/* The full delivery, from the cache or fetched (a few at a time). */
function getFull(seq) {
	if (S.full.has(seq))
		return Promise.resolve(S.full.get(seq));
	if (S.pending.has(seq))
		return S.pending.get(seq);
	const p = new Promise((resolve, reject) => {
		S.queue.push({ seq, resolve, reject });
	}).finally(() => S.pending.delete(seq));
	S.pending.set(seq, p);
	pump();
	return p;
}

function pump() {
	while (S.active < FETCHES && S.queue.length > 0) {
		const job = S.queue.shift();
		S.active++;
		api('mock/deliveries/' + job.seq).then((d) => {
			cacheFull(d);
			job.resolve(d);
		}, job.reject).finally(() => {
			S.active--;
			pump();
		});
	}
}

async function loadAll() {
	S.loaded = false;
	S.loadError = null;
	try {
		const first = await api('mock/deliveries' +
		    qs({ limit: FIRST_FULL }));
		S.summaries.clear();
		S.full.clear();
		S.rows.clear();
		S.cursor = first.cursor || 0;
		S.serverTotal = first.total || 0;
		for (const d of first.deliveries) {
			addSummary(d);
			cacheFull(d);
		}
		/* Show the newest at once; older ones follow. */
		S.loaded = true;
		S.loadingMore = first.deliveries.length < S.serverTotal;
		scheduleRender();
		let offset = first.deliveries.length;
		while (offset < S.serverTotal && offset < LOAD_MAX) {
			const page = await api('mock/deliveries' + qs({
			    view: 'summary', limit: PAGE, offset }));
			if (page.deliveries.length === 0)
				break;
			page.deliveries.forEach(addSummary);
			offset += page.deliveries.length;
		}
	} catch (e) {
		S.loadError = e.message || String(e);
	}
	S.loaded = true;
	S.loadingMore = false;
	refreshQuery();
	scheduleRender();
}

/* --- live: /mock/events ---------------------------------------------------- */

function setLive(state, text) {
	const el = $('live');
	el.className = 'live live-' + state;
	el.textContent = text;
}

function startEvents() {
	if (S.es)
		S.es.close();
	const params = { since: S.cursor };
	if (S.token)
		params.access_token = S.token;
	const es = new EventSource('mock/events' + qs(params));
	S.es = es;
	setLive('wait', 'connecting');
	es.onopen = () => setLive('ok', 'live');
	es.onerror = () => {
		if (es.readyState === EventSource.CLOSED) {
			setLive('down', 'offline');
			/* A refused stream (401, a restarted server): try
			 * again from scratch in a while. */
			setTimeout(() => {
				if (S.es === es)
					restartEvents();
			}, 3000);
		} else
			setLive('wait', 'reconnecting');
	};
	es.addEventListener('delivery', (ev) => {
		let d;
		try {
			d = JSON.parse(ev.data);
		} catch (e) {
			return;
		}
		const known = S.summaries.has(d.seq);
		addSummary(d);
		if (!known && S.loaded) {
			S.fresh.add(d.seq);
			setTimeout(() => {
				S.fresh.delete(d.seq);
				const row = S.rows.get(d.seq);
				if (row)
					row.el.classList.remove('fresh');
			}, FRESH_MS);
		}
		if (S.view.q)
			queueQuery();
		scheduleRender();
	});
	/* Seqs are never reused, so read marks stay valid across a reset. */
	es.addEventListener('reset', () => loadAll());
}

function restartEvents() {
	if (S.es)
		S.es.close();
	S.es = null;
	startEvents();
}

/* --- the view in the URL ---------------------------------------------------- */

function encodeView(v) {
	const parts = [];
	const put = (k, val) => {
		if (val === '' || val === 0 || val === null)
			return;
		parts.push(k + '=' + encodeURIComponent(String(val))
		    .replace(/%3A/gi, ':').replace(/%2F/gi, '/')
		    .replace(/%40/gi, '@'));
	};
	put('g', v.g === G_ALL ? '' : v.g);
	put('severity', v.severity);
	put('topic', v.topic);
	put('status', v.status);
	put('q', v.q);
	put('d', v.d);
	return parts.length ? '#' + parts.join('&') : '#';
}

function decodeView(hash) {
	const p = new URLSearchParams(hash.replace(/^#/, ''));
	const d = parseInt(p.get('d') || '', 10);
	const sev = p.get('severity') || '';
	const st = p.get('status') || '';
	return {
		g: p.get('g') || G_ALL,
		severity: SEVERITIES.includes(sev) ? sev : '',
		topic: p.get('topic') || '',
		status: st === 'accepted' || st === 'rejected' ? st : '',
		q: p.get('q') || '',
		d: d > 0 ? d : 0,
	};
}

function setView(patch, push) {
	const v = Object.assign({}, S.view, patch);
	const hash = encodeView(v);
	if (push)
		history.pushState(null, '', hash);
	else
		history.replaceState(null, '', hash);
	applyView(v);
}

function applyView(v) {
	const qChanged = v.q !== S.view.q;
	if (v.g !== S.view.g)
		S.shown = ROWS;
	S.view = v;
	/* Not while someone types in it: that would eat their spaces. */
	if (document.activeElement !== $('f-q'))
		$('f-q').value = v.q;
	$('f-severity').value = v.severity;
	$('f-status').value = v.status;
	syncTopicOptions();
	if (qChanged)
		queueQuery(0);
	scheduleRender();
}

/* --- filters ---------------------------------------------------------------- */

/* The text filter runs on the server (it searches description and raw
 * body, which summaries lack). */
function queueQuery(delay) {
	clearTimeout(S.qTimer);
	S.qTimer = setTimeout(refreshQuery, delay === undefined ? 200 : delay);
}

async function refreshQuery() {
	const q = S.view.q.trim();
	if (!q) {
		S.qSeqs = null;
		S.qFor = '';
		scheduleRender();
		return;
	}
	try {
		const r = await api('mock/deliveries' + qs({ view: 'summary',
		    q, limit: PAGE }));
		if (S.view.q.trim() !== q)
			return;
		S.qSeqs = new Set(r.deliveries.map((d) => d.seq));
		S.qFor = q;
		r.deliveries.forEach((d) => {
			if (!S.summaries.has(d.seq))
				addSummary(d);
		});
	} catch (e) {
		toast('Search failed: ' + e.message);
	}
	scheduleRender();
}

function passes(d, v) {
	if (v.severity && d.severity !== v.severity)
		return false;
	if (v.topic && d.topic !== v.topic)
		return false;
	if (v.status === 'accepted' && !d.accepted)
		return false;
	if (v.status === 'rejected' && d.accepted)
		return false;
	if (v.q.trim()) {
		if (S.qSeqs === null || S.qFor !== v.q.trim())
			return true;	/* not known yet: keep showing */
		if (!S.qSeqs.has(d.seq))
			return false;
	}
	return true;
}

function filtersActive(v) {
	return !!(v.severity || v.topic || v.status || v.q.trim());
}

/* Everything the sidebar and the list need, in one pass. */
function derive() {
	const v = S.view;
	const groups = new Map();
	const topics = new Set();
	const sorted = Array.from(S.summaries.values())
	    .sort((a, b) => b.seq - a.seq);
	let unreadAll = 0;
	const list = [];
	for (const d of sorted) {
		if (d.topic)
			topics.add(d.topic);
		const ok = passes(d, v);
		const unread = !isRead(d);
		if (unread)
			unreadAll++;
		for (const g of d.groups) {
			let e = groups.get(g);
			if (!e) {
				e = { id: g, total: 0, unread: 0, last: d.seq,
				    all: 0, sev: {} };
				groups.set(g, e);
			}
			e.all++;
			if (!ok)
				continue;
			e.total++;
			if (unread)
				e.unread++;
			if (d.severity)
				e.sev[d.severity] = (e.sev[d.severity] || 0) + 1;
		}
		if (ok && d.groups.includes(v.g))
			list.push(d);
	}
	return { groups, topics, list, unreadAll };
}

function syncTopicOptions(topics) {
	const sel = $('f-topic');
	const want = S.view.topic;
	const names = Array.from(topics || S.lastTopics || []).sort();
	if (want && !names.includes(want))
		names.push(want);
	const key = names.join('\u0000');
	if (sel.dataset.key !== key) {
		sel.replaceChildren(h('option', { value: '' }, 'Any topic'),
		    names.map((t) => h('option', { value: t }, t)));
		sel.dataset.key = key;
	}
	sel.value = want;
}

/* --- rendering ---------------------------------------------------------------- */

function scheduleRender() {
	if (S.renderQueued)
		return;
	S.renderQueued = true;
	requestAnimationFrame(() => {
		S.renderQueued = false;
		render();
	});
}

function groupLabel(id) {
	const f = FIXED_GROUPS.find((g) => g.id === id);
	if (f)
		return f.label;
	return id.startsWith('e:') ? id.slice(2) : id;
}

function render() {
	const x = derive();
	S.lastTopics = x.topics;
	S.lastList = x.list;
	syncTopicOptions(x.topics);
	$('f-clear').hidden = !filtersActive(S.view);
	document.title = (x.unreadAll > 0 ? '(' + x.unreadAll + ') ' : '') +
	    'notimock inbox';
	renderSidebar(x);
	renderList(x);
	renderDetail();
}

/* Two numbers beside a group: the deliveries not opened yet (a badge,
 * only when there is any) and every delivery in it.  Both say so
 * in a tooltip and to screen readers, and the sidebar has a legend. */
function countsEl(e) {
	const total = e ? e.total : 0, unread = e ? e.unread : 0;
	const tu = plural(unread, 'unread delivery', 'unread deliveries') +
	    ' (not opened yet)';
	const tt = plural(total, 'delivery', 'deliveries') + ' in all';
	return h('span', { class: 'counts' },
	    unread > 0 ? h('span', { class: 'unread-count', title: tu,
	    'aria-label': tu }, String(unread)) : null,
	    h('span', { class: 'total-count', title: tt, 'aria-label': tt },
	    String(total)));
}

function groupLink(id, label, e, extra, cls) {
	const v = Object.assign({}, S.view, { g: id, d: 0 });
	const cur = S.view.g === id;
	return h('li', null, h('a', {
		href: encodeView(v),
		class: 'group' + (cur ? ' current' : '') +
		    (e && e.total === 0 ? ' dim' : '') + (cls ? ' ' + cls : ''),
		'aria-current': cur ? 'page' : null,
		'data-group': id,
	}, extra, h('span', { class: 'group-label' }, label), countsEl(e)));
}

function renderSidebar(x) {
	/* Rebuilt every time: keep the keyboard focus on the same group. */
	const a = document.activeElement;
	const focused = a && a.closest && a.closest('#sidebar') &&
	    a.dataset.group;
	const fixed = FIXED_GROUPS.filter((g) => g.id === G_ALL ||
	    g.id === G_REJECTED || (x.groups.get(g.id) || {}).all > 0 ||
	    S.view.g === g.id);
	$('groups').replaceChildren(...fixed.map((g) => groupLink(g.id,
	    g.label, x.groups.get(g.id), h('span', { class: 'group-icon ' +
	    'icon-' + g.id, 'aria-hidden': 'true' }, g.icon), 'fixed-' + g.id)));

	const filter = $('entity-filter').value.trim().toLowerCase();
	const ents = [];
	for (const e of x.groups.values())
		if (e.id.startsWith('e:'))
			ents.push(e);
	/* Newest activity first (what arrived last is on top). */
	ents.sort((a, b) => b.last - a.last);
	const shown = ents.filter((e) => !filter || e.id.includes(filter));
	if (S.view.g.startsWith('e:') && !x.groups.has(S.view.g))
		shown.unshift({ id: S.view.g, total: 0, unread: 0, all: 0 });
	$('entities').replaceChildren(...shown.map((e) => {
		const r = splitRef(e.id.slice(2));
		const label = h('span', { class: 'ref', title: e.id.slice(2) },
		    h('span', { class: 'ref-name' }, r.name),
		    h('span', { class: 'ref-sub' }, r.kind ? h('span', {
		    class: 'kind kind-' + kindClass(r.kind) }, r.kind) : null,
		    r.ns !== 'default' ? ' \u00b7 ' + r.ns : null));
		return groupLink(e.id, label, e, null, 'entity');
	}));
	$('entity-count').textContent = ents.length ? String(ents.length) : '';
	if (focused) {
		const again = Array.from(document.querySelectorAll(
		    '#sidebar a.group')).find((l) => l.dataset.group === focused);
		if (again)
			again.focus();
	}
	const note = $('side-note');
	if (ents.length === 0) {
		note.hidden = false;
		note.textContent = 'Entity refs appear here as notifications ' +
		    'address them.';
	} else if (shown.length === 0) {
		note.hidden = false;
		note.textContent = 'No entity matches \u201c' + filter + '\u201d.';
	} else
		note.hidden = true;
}

function kindClass(kind) {
	return ['component', 'user', 'group', 'system', 'api', 'resource',
	    'domain', 'template', 'location'].includes(kind) ? kind : 'other';
}

function sevBadge(sev) {
	if (!sev)
		return null;
	return h('span', { class: 'badge sev-' + (SEVERITIES.includes(sev) ?
	    sev : 'other'), title: 'severity: ' + sev }, sev);
}

/* What a rejected delivery was refused for: the answer's message. */
function refusal(full) {
	if (!full || typeof full.response !== 'string')
		return null;
	try {
		const r = JSON.parse(full.response);
		if (r && r.error && typeof r.error.message === 'string')
			return r.error.message;
	} catch (e) {
		/* Backstage's empty 404 has no body */
	}
	return full.status === 404 ? 'Not found (no such route)' : null;
}

/*
 * The title, or for a refused body that was never parsed (a wrong media
 * type, a bad token) the title it carried, or else the request line.
 */
function titleOf(d, full) {
	if (typeof d.title === 'string' && d.title !== '')
		return { text: d.title, real: true };
	if (full && typeof full.body === 'string' && full.body.length < JSON_MAX) {
		try {
			const b = JSON.parse(full.body);
			const t = b && b.payload && b.payload.title;
			if (typeof t === 'string' && t !== '')
				return { text: t, real: true };
		} catch (e) {
			/* not JSON */
		}
	}
	const path = String(d.path || '').split('?')[0];
	return { text: d.method + ' ' + path, real: false };
}

function diagChips(diags) {
	if (!Array.isArray(diags) || diags.length === 0)
		return null;
	return h('span', { class: 'diag-chips' }, diags.slice(0, 3).map((g) =>
	    h('span', { class: 'diag-chip level-' + levelClass(g.level),
	    title: g.message || '' }, String(g.code || g.level || '?'))),
	    diags.length > 3 ? h('span', { class: 'diag-chip more' },
	    '+' + (diags.length - 3)) : null);
}

/* Which attempt of which first delivery (Argo CD resends the same bytes
 * after a failure), and the fault rule that answered, if one did. */
function attemptChips(d) {
	const f = d.fault && typeof d.fault === 'object' ? d.fault : null;
	return [
	    typeof d.retryOf === 'number' ? h('span', { class: 'chip retry',
	    title: 'a retry: attempt ' + d.attempt + ' of delivery #' +
	    d.retryOf }, 'attempt ' + d.attempt + ' of #' + d.retryOf) : null,
	    f ? h('span', { class: 'chip fault', title: 'answered by fault ' +
	    'rule ' + f.id + (f.answered === false ? '; the client left ' +
	    'before the answer' : '') }, 'fault ' + f.id + ' ' +
	    String(f.action || '')) : null];
}

function levelClass(level) {
	return level === 'error' || level === 'warning' ? level : 'info';
}

function rowSig(d, full) {
	return [isRead(d) ? 1 : 0, full ? 1 : 0,
	    S.view.g.startsWith('e:') ? 1 : 0].join(',');
}

function buildRow(d, full) {
	const payload = full && full.payload && typeof full.payload ===
	    'object' ? full.payload : null;
	const inEntity = S.view.g.startsWith('e:');
	const li = h('li', {
		class: 'row' + (d.accepted ? '' : ' rejected') +
		    (isRead(d) ? '' : ' unread'),
		'data-seq': d.seq,
		tabindex: '-1',
	});
	const t = titleOf(d, full);
	const title = h('span', { class: 'title' + (t.real ? '' :
	    ' untitled') }, t.text);
	const top = h('div', { class: 'row-top' },
	    h('span', { class: 'dot', title: isRead(d) ? null : 'unread' }),
	    sevBadge(d.severity),
	    d.accepted ? null : h('span', { class: 'badge status-rejected',
	    title: 'notimock answered ' + d.status }, d.status + ' rejected'),
	    title, timeEl(d.receivedMs));
	const meta = h('div', { class: 'row-meta' },
	    d.topic ? h('span', { class: 'chip topic', title: 'topic' },
	    d.topic) : null,
	    h('span', { class: 'origin', title: 'origin (token subject)' },
	    d.origin || 'unauthenticated'),
	    !inEntity && d.canon.length ? h('span', { class: 'targets' },
	    d.canon.slice(0, 3).join(', ') + (d.canon.length > 3 ?
	    ' +' + (d.canon.length - 3) : '')) : null,
	    Array.isArray(d.users) && d.users.length ? h('span', {
	    class: 'users', title: 'reached ' + d.users.join(', ') },
	    '\u2192 ' + d.users.slice(0, 3).map((u) =>
	    splitRef(canonRef(u)).name).join(', ') + (d.users.length > 3 ?
	    ' +' + (d.users.length - 3) : '')) : null,
	    attemptChips(d), diagChips(d.diagnoses),
	    h('span', { class: 'seq' }, '#' + d.seq));
	li.append(top, meta);
	if (payload && typeof payload.description === 'string' &&
	    payload.description !== '') {
		li.append(h('div', { class: 'row-desc md' },
		    markdown(payload.description)));
	} else if (!d.accepted && full) {
		const why = refusal(full);
		if (why)
			li.append(h('div', { class: 'row-desc refusal' }, why));
	} else if (!full) {
		li.append(h('div', { class: 'row-desc loading' }, '\u2026'));
	}
	if (payload && typeof payload.link === 'string' && payload.link) {
		const href = safeHttpUrl(payload.link);
		li.append(h('div', { class: 'row-link' }, href ?
		    extLink(href, linkText(href), 'link') :
		    h('span', { class: 'md-inert', title: 'not a http(s) link' },
		    payload.link)));
	}
	li.addEventListener('click', (ev) => {
		if (ev.target.closest('a'))
			return;
		openDelivery(d.seq);
	});
	return li;
}

function linkText(href) {
	try {
		const u = new URL(href);
		return u.host + (u.pathname.length > 1 ? u.pathname : '') +
		    ' \u2197';
	} catch (e) {
		return href;
	}
}

/* Put nodes into parent in order, moving only what moved. */
function reconcile(parent, nodes) {
	let cur = parent.firstChild;
	for (const n of nodes) {
		if (n === cur) {
			cur = cur.nextSibling;
			continue;
		}
		parent.insertBefore(n, cur);
	}
	while (cur) {
		const next = cur.nextSibling;
		cur.remove();
		cur = next;
	}
}

function renderList(x) {
	const v = S.view;
	const list = x.list;
	const g = x.groups.get(v.g);
	$('view-title').textContent = groupLabel(v.g);
	$('view-title').title = groupLabel(v.g);
	const sub = [];
	if (g && g.unread)
		sub.push(g.unread + ' unread');
	if (filtersActive(v) && g)
		sub.push(g.total + ' of ' + g.all + ' match');
	$('view-sub').textContent = sub.join(' \u00b7 ');
	$('view-count').textContent = plural(list.length, 'delivery',
	    'deliveries');

	const banner = $('banner');
	if (S.loadError) {
		banner.hidden = false;
		banner.className = 'banner error';
		banner.textContent = 'Cannot read /mock/deliveries: ' +
		    S.loadError;
	} else if (S.loadingMore) {
		banner.hidden = false;
		banner.className = 'banner';
		banner.textContent = 'Loading older deliveries\u2026 (' +
		    S.summaries.size + ' of ' + S.serverTotal + ')';
	} else if (S.serverTotal > S.summaries.size && S.loaded) {
		banner.hidden = false;
		banner.className = 'banner';
		banner.textContent = 'Showing the newest ' +
		    S.summaries.size + ' of ' + S.serverTotal +
		    ' deliveries (the assertion API has them all).';
	} else
		banner.hidden = true;

	const rows = [];
	const seen = new Set();
	for (const d of list.slice(0, S.shown)) {
		const full = S.full.get(d.seq);
		const sig = rowSig(d, full);
		let r = S.rows.get(d.seq);
		if (!r || r.sig !== sig) {
			const el = buildRow(d, full);
			if (r && r.el === document.activeElement)
				requestAnimationFrame(() => el.focus());
			if (r && r.el.parentNode)
				r.el.replaceWith(el);
			r = { el, sig };
			S.rows.set(d.seq, r);
		}
		r.el.classList.toggle('fresh', S.fresh.has(d.seq));
		r.el.classList.toggle('selected', d.seq === v.d);
		if (d.seq === v.d)
			r.el.setAttribute('aria-current', 'true');
		else
			r.el.removeAttribute('aria-current');
		if (!full && !S.pending.has(d.seq))
			getFull(d.seq).then(scheduleRender, () => {});
		rows.push(r.el);
		seen.add(d.seq);
	}
	for (const seq of S.rows.keys())
		if (!seen.has(seq))
			S.rows.delete(seq);
	reconcile($('list'), rows);

	/* The keyboard cursor: the open delivery, else the last one. */
	if (!seen.has(S.focus))
		S.focus = v.d && seen.has(v.d) ? v.d : (list[0] ? list[0].seq : 0);
	for (const [seq, r] of S.rows)
		r.el.tabIndex = seq === S.focus ? 0 : -1;

	const more = $('more');
	more.hidden = list.length <= S.shown;
	more.textContent = 'Show older (' + (list.length - S.shown) + ' more)';
	renderEmpty(list);
}

function renderEmpty(list) {
	const empty = $('empty');
	if (list.length > 0 || !S.loaded) {
		empty.hidden = true;
		return;
	}
	empty.hidden = false;
	const body = $('empty-body');
	if (S.loadingMore) {
		$('empty-title').textContent = 'Loading older deliveries\u2026';
		body.replaceChildren();
		return;
	}
	if (S.loadError) {
		$('empty-title').textContent = 'The assertion API did not answer';
		body.replaceChildren(h('p', null, S.loadError));
		return;
	}
	if (S.summaries.size === 0) {
		$('empty-title').textContent = 'No notifications yet';
		body.replaceChildren(...firstSteps());
		return;
	}
	if (filtersActive(S.view)) {
		$('empty-title').textContent = 'Nothing here matches';
		body.replaceChildren(h('p', null, 'No delivery in \u201c' +
		    groupLabel(S.view.g) + '\u201d passes the filters.'),
		    h('button', { type: 'button', class: 'primary',
		    onclick: clearFilters }, 'Clear filters'));
		return;
	}
	$('empty-title').textContent = 'Nothing in ' + groupLabel(S.view.g);
	body.replaceChildren(h('p', null, S.view.g.startsWith('e:') ?
	    'No delivery addressed this entity (a reset may have removed ' +
	    'them).' : 'No delivery belongs here yet.'),
	    h('p', null, h('a', { href: encodeView(Object.assign({}, S.view,
	    { g: G_ALL, d: 0 })) }, 'Show all deliveries')));
}

/* The empty inbox: how to send the first notification here. */
function firstSteps() {
	const origin = location.origin;
	const recipients = { type: 'entity',
	    entityRef: 'component:default/order-service' };
	const payload = {
		title: 'order-service synced',
		description: 'Application **order-service** is now running ' +
		    'revision `4f2a9c1`.\n\nSync operation succeeded.',
		severity: 'normal',
		topic: 'argocd-sync',
		link: 'https://argocd.example.com/applications/order-service',
	};
	/* Laid out to be read (and edited) in a terminal. */
	const body = '{\n  "recipients": ' + JSON.stringify(recipients) +
	    ',\n  "payload": {\n' + Object.entries(payload).map(([k, v]) =>
	    '    ' + JSON.stringify(k) + ': ' + JSON.stringify(v)).join(',\n') +
	    '\n  }\n}';
	const cmd = 'curl -sS ' + origin + SEND_PATH + ' \\\n' +
	    '  -H "Authorization: Bearer $TOKEN" \\\n' +
	    "  -H 'Content-Type: application/json' \\\n" +
	    '  -d ' + shellQuote(body);
	return [
		h('p', null, 'Send one to this notimock and it shows up here ' +
		    'at once, no reload needed. ', h('code', null, '$TOKEN'),
		    ' is one of the tokens notimock was started with (',
		    h('code', null, '--token'), ', or the ',
		    h('code', null, 'backend.auth.externalAccess'),
		    ' entries of its config).'),
		h('div', { class: 'code-block' },
		    h('pre', { class: 'cmd', id: 'first-curl' }, cmd),
		    h('button', { type: 'button', class: 'ghost copy',
		    onclick: () => copyText(cmd) }, 'Copy')),
		h('p', { class: 'muted' }, 'Argo CD: point a webhook ' +
		    'service at ', h('code', null, origin + SEND_PATH),
		    ' with the same header; rejected requests appear here ' +
		    'too, with what to change.'),
	];
}

/* --- the detail pane ---------------------------------------------------------- */

function section(title, ...children) {
	return h('section', { class: 'detail-section' },
	    h('h3', null, title), ...children);
}

function metaRow(label, value) {
	if (value === null || value === undefined || value === '')
		return null;
	return [h('dt', null, label), h('dd', null, value)];
}

function diagList(diags) {
	return h('ul', { class: 'diags' }, diags.map((g) => {
		const lvl = levelClass(g.level);
		const prev = Array.isArray(g.previous) && g.previous.length ?
		    h('p', { class: 'diag-prev' }, 'Attempt ' +
		    (g.attempt || '?') + '; earlier: ', g.previous.map((s, k) =>
		    [k ? ', ' : '', h('a', { href: encodeView(Object.assign({},
		    S.view, { d: s })) }, '#' + s)])) : null;
		return h('li', { class: 'diag level-' + lvl },
		    h('div', { class: 'diag-head' },
		    h('span', { class: 'diag-level' }, lvl),
		    h('code', { class: 'diag-code' }, String(g.code || ''))),
		    h('div', { class: 'diag-message md' },
		    markdown(String(g.message || ''))),
		    g.evidence ? h('pre', { class: 'diag-evidence' },
		    String(g.evidence)) : null,
		    g.fix ? h('div', { class: 'diag-fix' },
		    h('span', { class: 'fix-label' }, 'Fix'),
		    fixView(String(g.fix))) : null,
		    prev);
	}));
}

/*
 * A fix: prose, often ending in "...-cm:" and a YAML block to paste.  The
 * block keeps its indentation (YAML needs it).
 */
function fixView(text) {
	const lines = text.replace(/\r\n?/g, '\n').split('\n');
	const k = lines.findIndex((l, i) => i < lines.length - 1 &&
	    /:\s*$/.test(l));
	if (k < 0)
		return h('div', { class: 'md fix-text' }, markdown(text));
	const block = lines.slice(k + 1);
	const indent = Math.min(...block.filter((l) => l.trim() !== '')
	    .map((l) => l.match(/^ */)[0].length));
	return h('div', { class: 'md fix-text' },
	    markdown(lines.slice(0, k + 1).join('\n')),
	    h('pre', { class: 'fix-code' }, block.map((l) =>
	    l.slice(Number.isFinite(indent) ? indent : 0)).join('\n')));
}

function headersTable(headers) {
	if (!Array.isArray(headers) || headers.length === 0)
		return h('p', { class: 'muted' }, '(none)');
	return h('table', { class: 'headers' }, h('tbody', null,
	    headers.map((p) => h('tr', null, h('th', null, String(p[0])),
	    h('td', null, String(p[1]))))));
}

function renderDetail() {
	const seq = S.view.d;
	const pane = $('detail');
	document.body.classList.toggle('has-detail', seq > 0);
	if (!seq) {
		pane.hidden = true;
		S.detailSeq = 0;
		S.readMarked = 0;
		return;
	}
	pane.hidden = false;
	const full = S.full.get(seq);
	const sum = S.summaries.get(seq);
	$('detail-seq').textContent = 'delivery #' + seq;
	$('detail-read').textContent = sum && isRead(sum) ? 'Mark unread' :
	    'Mark read';
	const idx = (S.lastList || []).findIndex((d) => d.seq === seq);
	$('detail-prev').disabled = idx <= 0;
	$('detail-next').disabled = idx < 0 ||
	    idx >= (S.lastList || []).length - 1;
	if (S.detailSeq === seq && pane.dataset.built === (full ? 'full' :
	    'wait'))
		return;
	/* Opening a delivery reads it (once: "Mark unread" must stick). */
	if (S.readMarked !== seq && sum) {
		S.readMarked = seq;
		setRead([seq], true);
	}
	S.detailSeq = seq;
	pane.dataset.built = full ? 'full' : 'wait';
	const body = $('detail-body');
	if (!full) {
		body.replaceChildren(h('p', { class: 'muted loading' },
		    'Loading delivery #' + seq + '\u2026'));
		const token = ++S.detailToken;
		getFull(seq).then(() => {
			if (token === S.detailToken)
				scheduleRender();
		}, (e) => {
			if (token !== S.detailToken)
				return;
			body.replaceChildren(h('p', { class: 'error-text' },
			    e.status === 404 ? 'There is no delivery #' + seq +
			    ' (any more).' : 'Cannot load delivery #' + seq +
			    ': ' + e.message));
		});
		return;
	}
	body.replaceChildren(...detailContent(full));
	body.scrollTop = 0;
}

function detailContent(d) {
	const p = d.payload && typeof d.payload === 'object' ? d.payload : {};
	const out = [];
	const href = typeof p.link === 'string' ? safeHttpUrl(p.link) : null;
	out.push(h('div', { class: 'detail-head' },
	    h('div', { class: 'detail-badges' }, sevBadge(d.severity),
	    h('span', { class: 'badge ' + (d.accepted ? 'status-accepted' :
	    'status-rejected') }, d.status + (d.accepted ? ' accepted' :
	    ' rejected')), d.topic ? h('span', { class: 'chip topic' },
	    d.topic) : null, attemptChips(d)),
	    h('h2', { class: 'detail-title' + (titleOf(d, d).real ? '' :
	    ' untitled') }, titleOf(d, d).text),
	    h('div', { class: 'detail-when' }, timeEl(d.receivedMs),
	    ' \u00b7 ', h('span', null, exactTime(d.receivedMs)))));

	/* A refusal leads with why; an accepted one with what it says. */
	const diags = Array.isArray(d.diagnoses) && d.diagnoses.length ?
	    section('Diagnoses (' + d.diagnoses.length + ')',
	    diagList(d.diagnoses)) : null;
	if (!d.accepted) {
		const why = refusal(d);
		out.push(h('div', { class: 'refused' },
		    h('strong', null, 'notimock answered ' + d.status +
		    (why ? ': ' : '')), why || ''), diags);
	}
	if (typeof p.description === 'string' && p.description !== '')
		out.push(h('div', { class: 'detail-desc md' },
		    markdown(p.description)));
	if (typeof p.link === 'string' && p.link !== '')
		out.push(h('p', { class: 'detail-link' }, href ?
		    extLink(href, 'Open ' + linkText(href), 'link-button') :
		    h('span', { class: 'md-inert', title: 'not a http(s) link: ' +
		    'not opened' }, 'link: ' + p.link)));
	if (d.accepted && diags)
		out.push(diags);

	const recips = d.recipients && typeof d.recipients === 'object' ?
	    d.recipients : null;
	out.push(h('dl', { class: 'meta' },
	    metaRow('Origin', d.origin || 'unauthenticated'),
	    metaRow('Token', d.tokenFingerprint),
	    metaRow('Recipients', recips ? String(recips.type || '?') +
	    (d.entities && d.entities.length ? ': ' + d.entities.join(', ') :
	    '') : null),
	    metaRow('Users', d.users && d.users.length ? d.users.join(', ') :
	    null),
	    metaRow('Notification ids', d.notificationIds &&
	    d.notificationIds.length ? h('span', { class: 'mono' },
	    d.notificationIds.join('\n')) : null),
	    metaRow('Scope', typeof p.scope === 'string' ? p.scope : null),
	    metaRow('Request', h('span', { class: 'mono' }, d.method + ' ' +
	    d.path)),
	    metaRow('From', d.remote),
	    metaRow('Took', typeof d.durationUs === 'number' ?
	    (d.durationUs / 1000).toFixed(2) + ' ms' : null)));

	out.push(section('Payload', d.payload !== null &&
	    d.payload !== undefined ? jsonView(d.payload) :
	    h('p', { class: 'muted' }, d.accepted ? '(none)' : 'Refused ' +
	    'before the body was read as JSON: the body as sent is under ' +
	    'Request.')));
	out.push(h('details', { class: 'detail-section', open: true },
	    h('summary', null, 'Request'),
	    h('p', { class: 'mono' }, d.method + ' ' + d.path +
	    '  \u00b7  ' + plural(d.bodyBytes || 0, 'byte')),
	    headersTable(d.headers), bodyView(d.body),
	    d.bodyBase64 ? h('p', { class: 'muted' }, 'The body is not valid ' +
	    'UTF-8; the bad bytes show as \ufffd.') : null));
	out.push(h('details', { class: 'detail-section', open: true },
	    h('summary', null, 'Answer: ' + d.status), bodyView(d.response)));
	return out;
}

/* --- actions ---------------------------------------------------------------- */

function openDelivery(seq) {
	S.focus = seq;
	setView({ d: seq }, S.view.d === 0);
}

function closeDelivery() {
	if (!S.view.d)
		return;
	const seq = S.view.d;
	setView({ d: 0 }, false);
	requestAnimationFrame(() => {
		const r = S.rows.get(seq);
		if (r)
			r.el.focus();
	});
}

function moveCursor(delta) {
	const list = S.lastList || [];
	if (list.length === 0)
		return;
	const from = S.view.d || S.focus;
	let idx = list.findIndex((d) => d.seq === from);
	idx = idx < 0 ? 0 : Math.max(0, Math.min(list.length - 1, idx + delta));
	if (idx >= S.shown) {
		S.shown = idx + ROWS;
		render();
	}
	const seq = list[idx].seq;
	S.focus = seq;
	if (S.view.d)
		setView({ d: seq }, false);
	else
		render();
	const r = S.rows.get(seq);
	if (r) {
		r.el.focus();
		r.el.scrollIntoView({ block: 'nearest' });
	}
}

function moveGroup(delta) {
	const links = Array.from(document.querySelectorAll('#sidebar a.group'));
	if (links.length === 0)
		return;
	let idx = links.findIndex((a) => a.dataset.group === S.view.g);
	idx = Math.max(0, Math.min(links.length - 1, idx + delta));
	setView({ g: links[idx].dataset.group, d: 0 }, true);
	requestAnimationFrame(() => {
		const a = document.querySelector('#sidebar a.group.current');
		if (a)
			a.scrollIntoView({ block: 'nearest' });
	});
}

function clearFilters() {
	$('f-q').value = '';
	setView({ severity: '', topic: '', status: '', q: '' }, true);
}

function toggleRead(seq) {
	const d = S.summaries.get(seq);
	if (d)
		setRead([seq], !isRead(d));
}

function markAllRead() {
	const seqs = (S.lastList || []).map((d) => d.seq);
	setRead(seqs, true);
	toast(seqs.length ? 'Marked ' + plural(seqs.length, 'delivery',
	    'deliveries') + ' read' : 'Nothing to mark');
}

/* The filters of the view as /mock/ query parameters, or null when the
 * view cannot be expressed there (broadcasts, other calls). */
function viewFilters() {
	const v = S.view, f = {};
	if (v.g === G_REJECTED)
		f.status = 'rejected';
	else if (v.g.startsWith('e:'))
		f.entity = v.g.slice(2);
	else if (v.g !== G_ALL)
		return null;
	if (v.status) {
		if (f.status && f.status !== v.status)
			return null;
		f.status = v.status;
	}
	if (v.severity)
		f.severity = v.severity;
	if (v.topic)
		f.topic = v.topic;
	if (v.q)
		f.q = v.q;
	return f;
}

function openReset() {
	const f = viewFilters();
	const scoped = f !== null && Object.keys(f).length > 0;
	const n = (S.lastList || []).length;
	$('reset-scope').checked = false;
	$('reset-scope').disabled = !scoped;
	$('reset-scope-label').textContent = scoped ? 'Only the ' +
	    plural(n, 'delivery', 'deliveries') + ' this view shows' :
	    'Only what this view shows (not possible for this view)';
	$('reset-keep').checked = false;
	const update = () => {
		const only = $('reset-scope').checked;
		$('reset-text').textContent = only ? 'This deletes the ' +
		    plural(n, 'delivery', 'deliveries') + ' of this view.' :
		    'This deletes all ' + plural(S.summaries.size, 'delivery',
		    'deliveries') + ' notimock has recorded.';
		$('reset-confirm').textContent = only ? 'Delete ' + n :
		    'Delete everything';
	};
	$('reset-scope').onchange = update;
	update();
	const dlg = $('reset-dialog');
	dlg.returnValue = '';
	dlg.showModal();
	$('reset-cancel').focus();
}

async function doReset() {
	const params = {};
	if ($('reset-scope').checked)
		Object.assign(params, viewFilters() || {});
	if ($('reset-keep').checked)
		params.notifications = 'keep';
	try {
		const r = await api('mock/deliveries' + qs(params),
		    { method: 'DELETE' });
		toast('Deleted ' + plural(r.deleted, 'delivery', 'deliveries') +
		    (r.notificationsDeleted ? ' and ' +
		    plural(r.notificationsDeleted, 'notification') : ''));
		if (S.view.d)
			setView({ d: 0 }, false);
		await loadAll();
	} catch (e) {
		toast('Reset failed: ' + e.message);
	}
}

function copyCurl() {
	const d = S.full.get(S.view.d);
	if (!d)
		return;
	let cmd = 'curl -sS -X ' + d.method + ' ' +
	    shellQuote(location.origin + d.path);
	for (const [name, value] of d.headers || []) {
		const n = String(name).toLowerCase();
		if (n === 'authorization')
			cmd += ' \\\n  -H "Authorization: Bearer $TOKEN"';
		else if (n === 'content-type' || n === 'user-agent' ||
		    n === 'accept')
			cmd += ' \\\n  -H ' + shellQuote(name + ': ' + value);
	}
	if (typeof d.body === 'string' && d.body !== '')
		cmd += ' \\\n  --data-binary ' + shellQuote(d.body);
	copyText(cmd);
}

/* --- keyboard ----------------------------------------------------------------- */

function typing(el) {
	return el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' ||
	    el.tagName === 'SELECT' || el.isContentEditable);
}

function onKey(ev) {
	if (ev.ctrlKey || ev.metaKey || ev.altKey)
		return;
	if (document.querySelector('dialog[open]'))
		return;
	const t = ev.target;
	if (typing(t)) {
		if (ev.key === 'Escape' && t.type === 'search') {
			if (t.value) {
				t.value = '';
				t.dispatchEvent(new Event('input'));
			} else
				t.blur();
			ev.preventDefault();
		}
		return;
	}
	const inSidebar = t.closest && t.closest('#sidebar');
	switch (ev.key) {
	case 'j':
	case 'ArrowDown':
		if (inSidebar && ev.key === 'ArrowDown') {
			focusSibling(t, 1);
			break;
		}
		moveCursor(1);
		break;
	case 'k':
	case 'ArrowUp':
		if (inSidebar && ev.key === 'ArrowUp') {
			focusSibling(t, -1);
			break;
		}
		moveCursor(-1);
		break;
	case 'Enter':
	case 'o':
		if (t.tagName === 'A' || t.tagName === 'BUTTON' ||
		    t.tagName === 'SUMMARY')
			return;
		if (S.focus)
			openDelivery(S.focus);
		break;
	case 'Escape':
		closeDelivery();
		break;
	case 'u':
		if (S.view.d || S.focus)
			toggleRead(S.view.d || S.focus);
		break;
	case '[':
		moveGroup(-1);
		break;
	case ']':
		moveGroup(1);
		break;
	case '/':
		$('f-q').focus();
		$('f-q').select();
		break;
	case '?':
		$('help-dialog').showModal();
		break;
	default:
		return;
	}
	ev.preventDefault();
}

/* Arrow keys within the sidebar move between its links. */
function focusSibling(el, delta) {
	const links = Array.from(document.querySelectorAll('#sidebar a.group'));
	const idx = links.indexOf(el.closest('a.group'));
	const next = links[Math.max(0, Math.min(links.length - 1, idx + delta))];
	if (next)
		next.focus();
}

/* --- start ---------------------------------------------------------------------- */

function tick() {
	const now = Date.now();
	for (const t of document.querySelectorAll('time.rel[data-ms]'))
		t.textContent = relTime(Number(t.dataset.ms), now);
}

function wire() {
	window.addEventListener('hashchange', () =>
	    applyView(decodeView(location.hash)));
	window.addEventListener('popstate', () =>
	    applyView(decodeView(location.hash)));
	document.addEventListener('keydown', onKey);

	$('f-q').addEventListener('input', (ev) =>
	    setView({ q: ev.target.value, d: 0 }, false));
	$('f-severity').addEventListener('change', (ev) =>
	    setView({ severity: ev.target.value }, true));
	$('f-topic').addEventListener('change', (ev) =>
	    setView({ topic: ev.target.value }, true));
	$('f-status').addEventListener('change', (ev) =>
	    setView({ status: ev.target.value }, true));
	$('f-clear').addEventListener('click', clearFilters);
	$('entity-filter').addEventListener('input', scheduleRender);
	$('brand').addEventListener('click', (ev) => {
		ev.preventDefault();
		setView({ g: G_ALL, d: 0, severity: '', topic: '', status: '',
		    q: '' }, true);
	});
	$('more').addEventListener('click', () => {
		S.shown += ROWS;
		scheduleRender();
	});
	$('mark-all').addEventListener('click', markAllRead);
	$('reset').addEventListener('click', openReset);
	$('reset-dialog').addEventListener('close', () => {
		if ($('reset-dialog').returnValue === 'confirm')
			doReset();
	});
	$('help').addEventListener('click', () => $('help-dialog').showModal());
	$('detail-close').addEventListener('click', closeDelivery);
	$('detail-prev').addEventListener('click', () => moveCursor(-1));
	$('detail-next').addEventListener('click', () => moveCursor(1));
	$('detail-read').addEventListener('click', () =>
	    toggleRead(S.view.d));
	$('detail-curl').addEventListener('click', copyCurl);
	$('list').addEventListener('focusin', (ev) => {
		const li = ev.target.closest('li.row');
		if (li) {
			S.focus = Number(li.dataset.seq);
			for (const [seq, r] of S.rows)
				r.el.tabIndex = seq === S.focus ? 0 : -1;
		}
	});
	setInterval(tick, 15000);
}

function start() {
	loadRead();
	try {
		S.token = sessionStorage.getItem(TOKEN_KEY);
	} catch (e) {
		S.token = null;
	}
	wire();
	const v = decodeView(location.hash);
	S.view = Object.assign({}, v, { q: '' });
	applyView(v);
	loadAll().then(startEvents);
}

if (document.readyState === 'loading')
	document.addEventListener('DOMContentLoaded', start);
else
	start();

})();
