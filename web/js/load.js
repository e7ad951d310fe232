/*
 * load.js: filling the state from /mock/: everything at start and after a
 * reset, each delivery the event stream announces, and the text search
 * (which runs on the server).
 */
import { FIRST_FULL, FRESH_MS, LOAD_MAX, PAGE, SUMMARY_PAGE } from './config.js';
import { toast } from './dom.js';
import { S, addSummary, cacheFull, scheduleRender } from './state.js';
import { api, qs, startEvents } from './api.js';

export async function loadAll() {
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
			    view: 'summary', limit: SUMMARY_PAGE, offset }));
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

/* The text filter runs on the server (it searches description and raw
 * body, which summaries lack). */
export function queueQuery(delay) {
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

/* A delivery the event stream announced (new, or one loaded already). */
function onDelivery(d) {
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
}

/* The live stream, from the cursor loadAll() reached.  Seqs are never
 * reused, so read marks stay valid across a reset. */
export function startLive() {
	startEvents({ delivery: onDelivery, reset: () => loadAll() });
}
