/*
 * state.js: what the page knows (S), how a delivery falls into groups,
 * this browser's read marks, the view as the URL's fragment, and the
 * request for a redraw: the whole page is drawn by the one function that
 * app.js registers with setRenderer(), so that no module imports it.
 */
import { FULL_CACHE, G_ALL, G_BROADCAST, G_OTHER, G_REJECTED, READ_KEY,
    READ_MAX, ROWS, SEND_PATH, SEVERITIES } from './config.js';

export const S = {
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

/* Entity refs as notimock groups them: lower case, namespace "default"
 * when absent; "ns/name" for a ref without a kind (db.c db_ref_canon). */
export function canonRef(ref) {
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

export function splitRef(canon) {
	const colon = canon.search(/[:/]/);
	const kind = colon >= 0 && canon[colon] === ':' ?
	    canon.slice(0, colon) : '';
	const rest = kind ? canon.slice(colon + 1) : canon;
	const slash = rest.indexOf('/');
	return { kind, ns: slash >= 0 ? rest.slice(0, slash) : '',
	    name: slash >= 0 ? rest.slice(slash + 1) : rest };
}

function readKey(d) {
	return d.seq + '@' + d.receivedMs;
}

export function loadRead() {
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

export function isRead(d) {
	return S.read.has(readKey(d));
}

export function setRead(seqs, read) {
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

export function addSummary(d) {
	if (!d || typeof d.seq !== 'number')
		return;
	S.summaries.set(d.seq, classify(d));
	if (d.seq > S.cursor)
		S.cursor = d.seq;
}

export function cacheFull(d) {
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

export function encodeView(v) {
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

export function decodeView(hash) {
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

/* The function that draws the whole page (app.js's render). */
let renderer = () => {};

export function setRenderer(fn) {
	renderer = fn;
}

/* Draw the page once, in the next frame, however often it is asked. */
export function scheduleRender() {
	if (S.renderQueued)
		return;
	S.renderQueued = true;
	requestAnimationFrame(() => {
		S.renderQueued = false;
		renderer();
	});
}

/* Draw it now (the keyboard needs the rows at once). */
export function renderNow() {
	renderer();
}
